// Aggregation of an experiment grid: median (std) of each cell's best dev score, like the paper's Table 1.
import Foundation

public struct ExperimentCell: Codable {
    public var task: String
    public var method: String
    public var seed: UInt64
    public var summary: RunSummary
    public init(task: String, method: String, seed: UInt64, summary: RunSummary) {
        self.task = task
        self.method = method
        self.seed = seed
        self.summary = summary
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
        var lines = scoreRows + ["", "Median (std) over seeds of the best dev score ×100; metrics: " + metrics.joined(separator: ", ") + ".", ""]
            + perSeedRows + ["", "Best dev score ×100 of seed " + seedList.map(String.init).joined(separator: " / ") + ".", ""]
        if let baseline = methods.first, methods.count > 1 {
            let pairedRows = table(Array(methods.dropFirst())) { task, method in
                let d = pairedDifferences(task: task, method: method, baseline: baseline)
                if d.isEmpty { return "–" }
                return String(format: "%+.2f", d.reduce(0, +) / Double(d.count)) + " (\(d.filter { $0 > 0 }.count) of \(d.count))"
            }
            lines += pairedRows + ["", "Difference from \(baseline) on the same seed ×100: the mean, and (on how many seeds the "
                + "method scored higher, of the seeds both finished).", ""]
        }
        lines += timeRows + ["", "Median wall time per run, minutes." + incompleteTimesNote]
        return lines.joined(separator: "\n") + "\n"
    }

    private var incompleteTimesNote: String {
        let incomplete = cells.filter { $0.summary.wallSecondsIncomplete == true }
        guard !incomplete.isEmpty else { return "" }
        let names = incomplete.map { "\($0.task)/\($0.method)/seed-\($0.seed)" }.joined(separator: ", ")
        return " Left out: \(names), which resumed from a checkpoint that did not record its time."
    }

    public func writeJSON(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: url, options: .atomic)
    }
}
