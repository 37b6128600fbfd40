// training_curves.svg of a run, from its metrics.jsonl: the raw training loss (faint) with a smoothed
// loss over it, and the dev metric at each evaluation (points), both against the optimizer step,
// with ticks, so that two runs compare by eye. Evaluation steps are marked on the loss panel too.
import Foundation

public enum TrainingCurves {
    public static func write(metrics: URL, mainMetric: String, to output: URL) throws {
        let text = try String(contentsOf: metrics, encoding: .utf8)
        var loss: [(Double, Double)] = [], metric: [(Double, Double)] = []
        for line in text.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let step = (object["step"] as? NSNumber)?.doubleValue
            else { continue }
            // Non-finite losses are logged as strings; they are not plotted.
            if object["type"] as? String == "train", let v = (object["loss"] as? NSNumber)?.doubleValue { loss.append((step, v)) }
            if object["type"] as? String == "eval", let v = (object[mainMetric] as? NSNumber)?.doubleValue {
                metric.append((step, v))
            }
        }
        try Data(render(loss: loss, metric: metric, mainMetric: mainMetric).utf8).write(to: output, options: .atomic)
    }

    /// Exponential moving average with bias correction (TensorBoard's smoothing), weight `beta`.
    static func smoothed(_ points: [(Double, Double)], beta: Double) -> [(Double, Double)] {
        var average = 0.0
        return points.enumerated().map { index, point in
            average = beta * average + (1 - beta) * point.1
            return (point.0, average / (1 - pow(beta, Double(index + 1))))
        }
    }

    static func render(loss: [(Double, Double)], metric: [(Double, Double)], mainMetric: String) -> String {
        let steps = (loss + metric).map(\.0)
        let xRange = (steps.min() ?? 0)...(steps.max() ?? 1)
        // Smooth over about a twentieth of the run (at least a few steps).
        let beta = 1 - 1 / max(4, Double(loss.count) / 20)
        let smooth = smoothed(loss, beta: beta)
        var lossPanel = SVGPanel(
            title: "training loss", xRange: xRange,
            yRange: (loss.map(\.1).min() ?? 0)...(loss.map(\.1).max() ?? 1))
        for (step, _) in metric { lossPanel.guide(x: step) }
        lossPanel.polyline(loss, color: "#1f77b4", width: 1, opacity: 0.25)
        lossPanel.polyline(smooth, color: "#1f77b4", width: 2)
        if loss.isEmpty { lossPanel.text("no data", at: (xRange.lowerBound, lossPanel.yRange.upperBound)) }
        var metricPanel = SVGPanel(
            title: "dev \(mainMetric)", xRange: xRange,
            yRange: (metric.map(\.1).min() ?? 0)...(metric.map(\.1).max() ?? 1))
        metricPanel.polyline(metric, color: "#d62728")
        for point in metric { metricPanel.circle(point, color: "#d62728") }
        if let best = metric.max(by: { $0.1 < $1.1 }) {
            metricPanel.text(String(format: "best %.4g @ %d", best.1, Int(best.0)), at: best, anchor: "middle", color: "#d62728")
        }
        return svgDocument([
            (lossPanel, "step (raw faint, smoothed bold; dotted: evaluations)", "loss", nil),
            (metricPanel, "step", mainMetric, nil)
        ])
    }
}
