// A minimal SVG plotting kit for the run and experiment figures: panels with data coordinates,
// "nice" axis ticks, lines, points and error bars. Text only, no dependencies.
import Foundation

/// One plot area. Elements are drawn in data coordinates through `x(_:)` and `y(_:)`.
struct SVGPanel {
    var title: String
    var xRange: ClosedRange<Double>
    var yRange: ClosedRange<Double>
    var width = 440.0, height = 290.0
    let left = 58.0, right = 14.0, top = 30.0, bottom = 42.0
    private(set) var body: [String] = []

    init(title: String, xRange: ClosedRange<Double>, yRange: ClosedRange<Double>) {
        self.title = title
        self.xRange = xRange.lowerBound < xRange.upperBound ? xRange : (xRange.lowerBound - 0.5)...(xRange.upperBound + 0.5)
        let span = yRange.upperBound - yRange.lowerBound
        let pad = span > 0 ? span * 0.06 : max(abs(yRange.lowerBound) * 0.05, 0.5)
        self.yRange = (yRange.lowerBound - pad)...(yRange.upperBound + pad)
    }

    func x(_ value: Double) -> Double {
        left + (value - xRange.lowerBound) / (xRange.upperBound - xRange.lowerBound) * (width - left - right)
    }
    func y(_ value: Double) -> Double {
        height - bottom - (value - yRange.lowerBound) / (yRange.upperBound - yRange.lowerBound) * (height - top - bottom)
    }

    mutating func polyline(_ points: [(Double, Double)], color: String, width strokeWidth: Double = 1.5, opacity: Double = 1) {
        guard !points.isEmpty else { return }
        let path = points.map { String(format: "%.1f,%.1f", x($0.0), y($0.1)) }.joined(separator: " ")
        body.append(
            "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(strokeWidth)\" stroke-opacity=\"\(opacity)\" points=\"\(path)\"/>"
        )
    }

    mutating func circle(_ point: (Double, Double), color: String, radius: Double = 3, filled: Bool = true) {
        body.append(
            String(
                format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%@\" stroke=\"%@\"/>", x(point.0), y(point.1),
                radius, filled ? color : "white", color))
    }

    /// A horizontal tick of `halfWidth` (data units) at (x, y): a median marker.
    mutating func tick(_ point: (Double, Double), halfWidth: Double, color: String) {
        body.append(
            String(
                format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%@\" stroke-width=\"2.5\"/>",
                x(point.0 - halfWidth), y(point.1), x(point.0 + halfWidth), y(point.1), color))
    }

    /// A vertical interval at x from low to high, with caps.
    mutating func errorBar(x at: Double, low: Double, high: Double, color: String) {
        let (cx, y0, y1) = (x(at), y(low), y(high))
        body.append(
            String(
                format: "<path d=\"M%.1f,%.1fL%.1f,%.1fM%.1f,%.1fL%.1f,%.1fM%.1f,%.1fL%.1f,%.1f\" stroke=\"%@\" fill=\"none\"/>",
                cx, y0, cx, y1, cx - 5, y0, cx + 5, y0, cx - 5, y1, cx + 5, y1, color))
    }

    /// A dashed line across the panel at y, or along it at x.
    mutating func guide(y value: Double) {
        body.append(
            String(
                format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>",
                left, y(value), width - right, y(value)))
    }
    mutating func guide(x value: Double) {
        body.append(
            String(
                format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#bbb\" stroke-dasharray=\"2 3\"/>",
                x(value), top, x(value), height - bottom))
    }

    mutating func text(_ string: String, at point: (Double, Double), anchor: String = "start", color: String = "black") {
        body.append(
            String(
                format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%@\" fill=\"%@\">%@</text>",
                x(point.0), y(point.1), anchor, color, escapeXML(string)))
    }

    /// The panel as an SVG group at `offset`: frame, title, axes with ticks (`xTicks` as (value, label)
    /// pairs, or numeric ticks when nil), labels, then the body.
    func render(offset: Double, xLabel: String, yLabel: String, xTicks: [(Double, String)]? = nil) -> String {
        var parts = [
            "<g transform=\"translate(\(offset),0)\">",
            "<rect x=\"0\" y=\"0\" width=\"\(width)\" height=\"\(height)\" fill=\"white\" stroke=\"#ccc\"/>",
            "<text x=\"\(width / 2)\" y=\"18\" text-anchor=\"middle\" font-size=\"13\">\(escapeXML(title))</text>"
        ]
        let (x0, x1, yBase, yTop) = (left, width - right, height - bottom, top)
        parts.append("<path d=\"M\(x0),\(yTop)L\(x0),\(yBase)L\(x1),\(yBase)\" stroke=\"black\" fill=\"none\"/>")
        for (value, label) in xTicks ?? niceTicks(xRange).map({ ($0, formatTick($0)) }) {
            let px = x(value)
            parts.append(
                String(
                    format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>", px, yBase, px, yBase + 4))
            parts.append(
                String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%@</text>", px, yBase + 15, escapeXML(label)))
        }
        for value in niceTicks(yRange) {
            let py = y(value)
            parts.append(
                String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>", x0, py, x1, py))
            parts.append(
                String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>", x0 - 4, py, x0, py))
            parts.append(
                String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%@</text>", x0 - 6, py + 4, formatTick(value)))
        }
        parts.append("<text x=\"\((x0 + x1) / 2)\" y=\"\(height - 6)\" text-anchor=\"middle\">\(escapeXML(xLabel))</text>")
        parts.append(
            "<text transform=\"translate(13,\((yTop + yBase) / 2)) rotate(-90)\" text-anchor=\"middle\">\(escapeXML(yLabel))</text>"
        )
        return (parts + body + ["</g>"]).joined(separator: "\n")
    }
}

/// Panels side by side in one SVG document.
func svgDocument(_ panels: [(panel: SVGPanel, xLabel: String, yLabel: String, xTicks: [(Double, String)]?)]) -> String {
    let width = panels.reduce(0) { $0 + $1.panel.width }, height = panels.map(\.panel.height).max() ?? 0
    var offset = 0.0
    var groups: [String] = []
    for entry in panels {
        groups.append(entry.panel.render(offset: offset, xLabel: entry.xLabel, yLabel: entry.yLabel, xTicks: entry.xTicks))
        offset += entry.panel.width
    }
    return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
        + "font-family=\"sans-serif\" font-size=\"11\">\n" + groups.joined(separator: "\n") + "\n</svg>\n"
}

/// About five round tick values inside `range` (steps of 1, 2 or 5 × 10^k).
func niceTicks(_ range: ClosedRange<Double>, count: Int = 5) -> [Double] {
    let span = range.upperBound - range.lowerBound
    guard span > 0, span.isFinite else { return [range.lowerBound] }
    let raw = span / Double(count)
    let magnitude = pow(10, floor(log10(raw)))
    let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
    var ticks: [Double] = []
    var value = ceil(range.lowerBound / step) * step
    while value <= range.upperBound + step * 1e-9 {
        ticks.append(abs(value) < step * 1e-9 ? 0 : value)
        value += step
    }
    return ticks
}

func formatTick(_ value: Double) -> String {
    if value == value.rounded() && abs(value) < 1e6 { return String(Int(value)) }
    return String(format: "%g", (value * 1e6).rounded() / 1e6)
}

func escapeXML(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;")
}
