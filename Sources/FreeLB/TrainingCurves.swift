// An SVG plot of the training loss and the dev metric over steps, read from metrics.jsonl.
import Foundation

public enum TrainingCurves {
    public static func write(metrics: URL, mainMetric: String, to output: URL) throws {
        let text = try String(contentsOf: metrics, encoding: .utf8)
        var loss: [(Double, Double)] = [], metric: [(Double, Double)] = []
        for line in text.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let step = (object["step"] as? NSNumber)?.doubleValue else { continue }
            if object["type"] as? String == "train", let v = (object["loss"] as? NSNumber)?.doubleValue { loss.append((step, v)) }
            if object["type"] as? String == "eval", let v = (object[mainMetric] as? NSNumber)?.doubleValue { metric.append((step, v)) }
        }
        let svg = render(panels: [("training loss", loss), ("dev \(mainMetric)", metric)])
        try Data(svg.utf8).write(to: output, options: .atomic)
    }

    static func render(panels: [(String, [(Double, Double)])]) -> String {
        let (width, height, margin) = (420.0, 260.0, 44.0)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width) * panels.count)\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        for (index, (title, points)) in panels.enumerated() {
            let x0 = Double(index) * width
            svg += "<g transform=\"translate(\(x0),0)\"><rect x=\"0\" y=\"0\" width=\"\(width)\" height=\"\(height)\" fill=\"white\" stroke=\"#ccc\"/>\n"
            svg += "<text x=\"\(width / 2)\" y=\"16\" text-anchor=\"middle\" font-size=\"13\">\(title)</text>\n"
            if let minX = points.map(\.0).min(), let maxX = points.map(\.0).max(),
               let minY = points.map(\.1).min(), let maxY = points.map(\.1).max() {
                let spanX = max(maxX - minX, 1e-9), spanY = max(maxY - minY, 1e-9)
                func px(_ x: Double) -> Double { margin + (x - minX) / spanX * (width - 2 * margin) }
                func py(_ y: Double) -> Double { height - margin - (y - minY) / spanY * (height - 2 * margin) }
                let path = points.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
                svg += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"\(path)\"/>\n"
                if points.count == 1 { svg += "<circle cx=\"\(px(points[0].0))\" cy=\"\(py(points[0].1))\" r=\"3\" fill=\"#1f77b4\"/>\n" }
                svg += "<line x1=\"\(margin)\" y1=\"\(height - margin)\" x2=\"\(width - margin)\" y2=\"\(height - margin)\" stroke=\"black\"/>\n"
                svg += "<line x1=\"\(margin)\" y1=\"\(margin)\" x2=\"\(margin)\" y2=\"\(height - margin)\" stroke=\"black\"/>\n"
                svg += String(format: "<text x=\"%.0f\" y=\"%.0f\">step %.0f</text>\n", margin, height - margin + 16, minX)
                svg += String(format: "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">step %.0f</text>\n", width - margin, height - margin + 16, maxX)
                svg += String(format: "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%.4g</text>\n", margin - 4, margin + 4, maxY)
                svg += String(format: "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%.4g</text>\n", margin - 4, height - margin, minY)
            } else {
                svg += "<text x=\"\(width / 2)\" y=\"\(height / 2)\" text-anchor=\"middle\">no data</text>\n"
            }
            svg += "</g>\n"
        }
        return svg + "</svg>\n"
    }
}
