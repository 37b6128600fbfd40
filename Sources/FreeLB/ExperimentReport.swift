// Aggregation of an experiment grid: median (std) of each cell's best dev score, like the paper's Table 1,
// paired differences from the baseline with a bootstrap interval and a sign test, and one figure per task.
import Foundation
import FreeLBTensor

public struct ExperimentCell: Codable {
    public var task: String
    public var method: String
    public var seed: UInt64
    public var summary: RunSummary
    /// The precision the cell trained in ("fp32", "bf16"); a report whose cells differ says so.
    public var precision: String?
    public init(task: String, method: String, seed: UInt64, summary: RunSummary, precision: String? = nil) {
        self.task = task
        self.method = method
        self.seed = seed
        self.summary = summary
        self.precision = precision
    }
}

public struct ExperimentReport: Codable {
    public var cells: [ExperimentCell]
    public var tasks: [String]
    public var methods: [String]
    /// The seeds the grid asked for (a cell with fewer finished runs says how many it has).
    public var seeds: [UInt64]?

    public init(cells: [ExperimentCell], tasks: [String], methods: [String], seeds: [UInt64]? = nil) {
        self.cells = cells
        self.tasks = tasks
        self.methods = methods
        self.seeds = seeds
    }

    /// Scores (×100) of one task and method, in seed order.
    public func scores(task: String, method: String) -> [Double] {
        cells.filter { $0.task == task && $0.method == method }.compactMap { $0.summary.bestMetric.map { $0 * 100 } }
    }

    /// Score (×100) of one task, method and seed; nil when that run has not finished.
    public func score(task: String, method: String, seed: UInt64) -> Double? {
        cells.first { $0.task == task && $0.method == method && $0.seed == seed }?.summary.bestMetric.map { $0 * 100 }
    }

    /// The seeds the grid asked for; when it did not say, those with a finished run, ascending.
    public var reportedSeeds: [UInt64] {
        seeds ?? Array(Set(cells.map(\.seed))).sorted()
    }

    /// method − baseline (×100) on each seed where both finished: the same seed gives both runs the same
    /// data order and head initialisation, so the pair isolates the method.
    public func pairedDifferences(task: String, method: String, baseline: String) -> [Double] {
        reportedSeeds.compactMap { seed in
            guard let a = score(task: task, method: method, seed: seed), let b = score(task: task, method: baseline, seed: seed)
            else { return nil }
            return a - b
        }
    }

    public static func median(_ values: [Double]) -> Double {
        let s = values.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// Population standard deviation (numpy's default, as the paper's tables use).
    public static func standardDeviation(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let mean = values.reduce(0, +) / Double(values.count)
        return (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
    }

    /// Wall-clock minutes of the finished runs of one task and method, in seed order. Runs whose time
    /// is incomplete (resumed from a checkpoint that did not record it) are left out.
    public func minutes(task: String, method: String) -> [Double] {
        cells.filter { $0.task == task && $0.method == method && $0.summary.wallSecondsIncomplete != true }
            .map { $0.summary.wallSeconds / 60 }
    }

    /// The scores table (median (std) ×100; "n=k" where fewer seeds than asked have finished), the
    /// scores of each seed, the paired differences from the first method, then the median wall time per run.
    public func markdown() -> String {
        func table(_ rows: [String], _ cell: (_ task: String, _ method: String) -> String) -> [String] {
            ["| method | " + tasks.joined(separator: " | ") + " |", "|---|" + tasks.map { _ in "---|" }.joined()]
                + rows.map { method in "| \(method) | " + tasks.map { cell($0, method) }.joined(separator: " | ") + " |" }
        }
        func table(_ cell: (_ task: String, _ method: String) -> String) -> [String] { table(methods, cell) }
        let scoreRows = table { task, method in
            let s = scores(task: task, method: method)
            if s.isEmpty { return "–" }
            let partial = seeds.map { s.count < $0.count ? " n=\(s.count)" : "" } ?? ""
            return String(format: "%.2f (%.2f)", Self.median(s), Self.standardDeviation(s)) + partial
        }
        let timeRows = table { task, method in
            let m = minutes(task: task, method: method)
            return m.isEmpty ? "–" : String(format: "%.1f", Self.median(m))
        }
        let metrics = tasks.compactMap { task in cells.first { $0.task == task }.map { "\(task): \($0.summary.mainMetric)" } }
        let seedList = reportedSeeds
        let perSeedRows = table { task, method in
            seedList.map { seed in score(task: task, method: method, seed: seed).map { String(format: "%.2f", $0) } ?? "–" }
                .joined(separator: " / ")
        }
        var lines =
            scoreRows + [
                "",
                "Median (std) over seeds of the best dev score ×100; metrics: " + metrics.joined(separator: ", ") + "."
                    + precisionNote, ""
            ]
            + perSeedRows + ["", "Best dev score ×100 of seed " + seedList.map(String.init).joined(separator: " / ") + ".", ""]
        if let baseline = methods.first, methods.count > 1 {
            let pairedRows = table(Array(methods.dropFirst())) { task, method in
                let d = pairedDifferences(task: task, method: method, baseline: baseline)
                if d.isEmpty { return "–" }
                return String(format: "%+.2f", d.reduce(0, +) / Double(d.count)) + " (\(d.filter { $0 > 0 }.count) of \(d.count))"
            }
            lines +=
                pairedRows + [
                    "",
                    "Difference from \(baseline) on the same seed ×100: the mean, and (on how many seeds the "
                        + "method scored higher, of the seeds both finished).", ""
                ]
        }
        if let baseline = methods.first, methods.count > 1 {
            let significanceRows = table(Array(methods.dropFirst())) { task, method in
                let d = pairedDifferences(task: task, method: method, baseline: baseline)
                guard d.count >= 2, let interval = Self.bootstrapInterval(d) else { return "–" }
                let distinguishable = interval.lowerBound > 0 || interval.upperBound < 0
                return String(
                    format: "[%+.2f, %+.2f]%@ p=%.2f", interval.lowerBound, interval.upperBound,
                    distinguishable ? " *" : "", Self.signTestPValue(d))
            }
            lines +=
                significanceRows + [
                    "",
                    "95% paired bootstrap interval of the mean difference from \(baseline) (10,000 "
                        + "resamples of the seeds), and the exact two-sided sign test's p. * marks an interval that excludes 0. "
                        + "With n seeds the sign test cannot go below p = 2/2^n (0.25 for 3 seeds, 0.0625 for 5), and a bootstrap "
                        + "over so few seeds is optimistic: read * as \"consistent in sign and size over these seeds\".", ""
                ]
        }
        lines += timeRows + ["", "Median wall time per run, minutes." + incompleteTimesNote]
        return lines.joined(separator: "\n") + "\n"
    }

    /// " Precision: vanilla fp32; random bf16." when the cells were not all trained in one precision.
    var precisionNote: String {
        guard Set(cells.map { $0.precision ?? "fp32" }).count > 1 else { return "" }
        let perMethod = methods.compactMap { method -> String? in
            let used = Set(cells.filter { $0.method == method }.map { $0.precision ?? "fp32" }).sorted()
            return used.isEmpty ? nil : "\(method) " + used.joined(separator: " and ")
        }
        return " Precision: " + perMethod.joined(separator: "; ") + "."
    }

    private var incompleteTimesNote: String {
        let incomplete = cells.filter { $0.summary.wallSecondsIncomplete == true }
        guard !incomplete.isEmpty else { return "" }
        let names = incomplete.map { "\($0.task)/\($0.method)/seed-\($0.seed)" }.joined(separator: ", ")
        return " Left out: \(names), which resumed from a checkpoint that did not record its time."
    }

    /// Percentile interval of the mean of `values` over `resamples` bootstrap resamples (deterministic:
    /// a fixed seed), or nil for an empty list.
    public static func bootstrapInterval(
        _ values: [Double], confidence: Double = 0.95, resamples: Int = 10_000,
        seed: UInt64 = 2020
    ) -> ClosedRange<Double>? {
        guard !values.isEmpty else { return nil }
        var generator = SeededGenerator(seed: seed)
        let n = UInt64(values.count)
        var means = (0..<resamples).map { _ in
            (0..<values.count).reduce(0.0) { sum, _ in sum + values[Int(generator.next() % n)] } / Double(values.count)
        }
        means.sort()
        let tail = (1 - confidence) / 2
        let low = means[Int((tail * Double(resamples - 1)).rounded())]
        let high = means[Int(((1 - tail) * Double(resamples - 1)).rounded())]
        return low...high
    }

    /// Exact two-sided sign test: the probability, under "each sign equally likely", of a split at least
    /// as uneven as the observed one. Zero differences are dropped; 1 when none is left.
    public static func signTestPValue(_ values: [Double]) -> Double {
        let signs = values.filter { $0 != 0 }
        let n = signs.count, positive = signs.filter { $0 > 0 }.count
        guard n > 0 else { return 1 }
        let tail = min(positive, n - positive)
        var binomial = 1.0, sum = 0.0  // C(n, i)
        for i in 0...tail {
            if i > 0 { binomial = binomial * Double(n - i + 1) / Double(i) }
            sum += binomial
        }
        return min(1, 2 * sum / pow(2, Double(n)))
    }

    /// One SVG per task in `folder` (`<task>.svg`): every seed's score per method with the median
    /// marked, and the paired differences from the first method with their bootstrap intervals.
    @discardableResult
    public func writePlots(to folder: URL) throws -> [URL] {
        let colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
        var written: [URL] = []
        for task in tasks {
            let all = methods.flatMap { scores(task: task, method: $0) }
            guard !all.isEmpty else { continue }
            let methodTicks = methods.enumerated().map { (Double($0.offset), $0.element) }
            let xRange = -0.6...(Double(methods.count) - 0.4)
            var scorePanel = SVGPanel(title: "\(task): best dev score ×100", xRange: xRange, yRange: all.min()!...all.max()!)
            scorePanel.width = max(440, 90 * Double(methods.count))
            for (index, method) in methods.enumerated() {
                let color = colors[index % colors.count]
                let perSeed = reportedSeeds.compactMap { score(task: task, method: method, seed: $0) }
                for (k, value) in perSeed.enumerated() {
                    let jitter = (Double(k) - Double(perSeed.count - 1) / 2) * 0.08
                    scorePanel.circle((Double(index) + jitter, value), color: color, filled: false)
                }
                if !perSeed.isEmpty { scorePanel.tick((Double(index), Self.median(perSeed)), halfWidth: 0.28, color: color) }
            }
            var panels: [(panel: SVGPanel, xLabel: String, yLabel: String, xTicks: [(Double, String)]?)] = [
                (scorePanel, "method (circles: seeds; bar: median)", "score", methodTicks)
            ]
            if let baseline = methods.first, methods.count > 1 {
                let others = Array(methods.dropFirst())
                let differences = others.map { pairedDifferences(task: task, method: $0, baseline: baseline) }
                let intervals = differences.map { Self.bootstrapInterval($0) }
                let bounds: [Double] = intervals.compactMap { $0 }.flatMap { [$0.lowerBound, $0.upperBound] }
                let extent: [Double] = differences.flatMap { $0 } + bounds + [0]
                var panel = SVGPanel(
                    title: "\(task): paired difference from \(baseline)", xRange: -0.6...(Double(others.count) - 0.4),
                    yRange: extent.min()!...extent.max()!)
                panel.width = max(440, 90 * Double(others.count))
                panel.guide(y: 0)
                for (index, d) in differences.enumerated() {
                    let color = colors[(index + 1) % colors.count]
                    for (k, value) in d.enumerated() {
                        let jitter = (Double(k) - Double(d.count - 1) / 2) * 0.08
                        panel.circle((Double(index) + jitter, value), color: color, filled: false)
                    }
                    if let interval = intervals[index], d.count >= 2 {
                        panel.errorBar(x: Double(index), low: interval.lowerBound, high: interval.upperBound, color: color)
                    }
                    if !d.isEmpty { panel.tick((Double(index), d.reduce(0, +) / Double(d.count)), halfWidth: 0.2, color: color) }
                }
                panels.append(
                    (
                        panel, "method (bar: mean; whiskers: 95% bootstrap interval)", "difference ×100",
                        others.enumerated().map { (Double($0.offset), $0.element) }
                    ))
            }
            let url = folder.appendingPathComponent("\(task).svg")
            try Data(svgDocument(panels).utf8).write(to: url, options: .atomic)
            written.append(url)
        }
        return written
    }

    public func writeJSON(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: url, options: .atomic)
    }
}
