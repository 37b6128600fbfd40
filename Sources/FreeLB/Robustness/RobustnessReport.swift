// Robustness analysis, "maximum increment of loss" (docs/method.md §13, paper §4.3, Table 5):
//   1. keep the dev examples every compared model classifies correctly;
//   2. radius r_b of each kept example from the anchor model (RadiusSearch.swift);
//   3. attack(model, r) of every model at the anchor's radii (RobustnessAttack.swift);
//   4. per model: median, mean, std of (max loss − clean loss) at the anchor's radii, and n;
// reported as a table (markdownTable) and JSON.
import Foundation
import FreeLBModels

/// Median, mean and population standard deviation (ddof 0, numpy's default) of a sample.
public struct SampleSummary: Codable, Equatable, Sendable {
    public var median: Double
    public var mean: Double
    public var std: Double
    public var count: Int

    public init(_ values: [Double]) {
        count = values.count
        guard !values.isEmpty else { median = .nan; mean = .nan; std = .nan; return }
        let sorted = values.sorted()
        let mid = sorted.count / 2
        median = sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
        mean = values.reduce(0, +) / Double(values.count)
        let m = mean
        std = (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count)).squareRoot()
    }
}

public struct RobustnessReport: Codable, Equatable, Sendable {
    public struct ModelSummary: Codable, Equatable, Sendable {
        public var name: String
        /// Statistics of max loss − clean loss over the examples with a radius.
        public var increment: SampleSummary
        public var meanCleanLoss: Double
        public var meanMaxLoss: Double
        public var examples: Int { increment.count }
    }

    public struct ExampleRecord: Codable, Equatable, Sendable {
        public var id: Int
        /// The anchor's radius for this example.
        public var radius: Float
        /// Model name → attack at `radius`.
        public var attacks: [String: AttackResult]
    }

    public var anchor: String
    /// Model names, in the order given.
    public var models: [String]
    /// R, the largest radius of the grid.
    public var searchRadius: Float
    public var settings: AttackSettings
    /// Dev examples given.
    public var totalExamples: Int
    /// Examples every model classifies correctly.
    public var commonlyCorrect: Int
    /// Ids of commonly-correct examples whose anchor loss exceeds ln 2 even at the smallest radius (left out).
    public var withoutRadius: [Int]
    public var summaries: [ModelSummary]
    /// Per example (ids ascending): radius and every model's attack.
    public var examples: [ExampleRecord]

    /// max loss − clean loss of `model` per example, in `examples` order.
    public func increments(of model: String) -> [Double] {
        examples.compactMap { $0.attacks[model]?.increment }
    }

    /// The paper's Table 5 layout.
    public func markdownTable() -> String {
        func f(_ x: Double) -> String { String(format: "%.4f", x) }
        var lines = [
            "| model | median Δloss | mean Δloss | std Δloss | clean loss | n |",
            "|---|---:|---:|---:|---:|---:|"
        ]
        for s in summaries {
            let name = s.name == anchor ? "\(s.name) (anchor)" : s.name
            let cells = [
                name, f(s.increment.median), f(s.increment.mean), f(s.increment.std), f(s.meanCleanLoss), "\(s.examples)"
            ]
            lines.append("| " + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(self)
    }

    public static func decode(_ data: Data) throws -> RobustnessReport {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(RobustnessReport.self, from: data)
    }

    public func write(to url: URL) throws { try jsonData().write(to: url, options: .atomic) }
    public static func read(from url: URL) throws -> RobustnessReport { try decode(Data(contentsOf: url)) }
}

extension RobustnessAnalysis {

    /// Steps 1–4 of docs/method.md §13 on dev batches. Every model is attacked at the anchor's radii
    /// with `settings`;
    /// the anchor's attacks are reused from its radius search (same δ0, same steps) when `settings.earlyStop`.
    /// `progress` receives one JSON-ready event per stage (kept examples, each grid radius, each model attacked).
    public static func compare(
        models: [(name: String, model: TransformerClassifier)], anchor: String,
        batches: [TrainingBatch], searchRadius: Float,
        settings: AttackSettings = AttackSettings(),
        progress: (([String: Any]) -> Void)? = nil
    ) throws -> RobustnessReport {
        let examples = try RobustnessExample.split(batches)
        guard !models.isEmpty else { throw RobustnessError.noModels }
        let names = models.map(\.name)
        for (i, name) in names.enumerated() where names[..<i].contains(name) { throw RobustnessError.duplicateModelName(name) }
        guard let anchorModel = models.first(where: { $0.name == anchor })?.model else {
            throw RobustnessError.unknownAnchor(anchor, available: names)
        }
        try settings.validate()
        for (name, model) in models { try check(model, name: name, examples: examples) }
        // 1. examples every model classifies correctly
        var correct = [Bool](repeating: true, count: examples.count)
        for (_, model) in models {
            for (i, ok) in try classifiesCorrectly(model, examples: examples, batchSize: settings.batchSize).enumerated()
            where !ok {
                correct[i] = false
            }
        }
        let kept = examples.indices.filter { correct[$0] }.map { examples[$0] }
        guard !kept.isEmpty else { throw RobustnessError.noCommonlyCorrectExamples(examples: examples.count) }
        progress?(["event": "kept", "examples": examples.count, "commonly_correct": kept.count])
        // 2. radii from the anchor
        let search = try findRadii(
            anchor: anchorModel, examples: kept, searchRadius: searchRadius, settings: settings,
            progress: progress)
        let withRadius = kept.indices.filter { search[$0] != nil }
        let attacked = withRadius.map { kept[$0] }
        let radii = withRadius.compactMap { search[$0]?.radius }
        // 3. every model at the anchor's radii
        // (the search always stops early; without early stop the anchor is attacked again like the others)
        var attacks: [String: [AttackResult]] = [:]
        if settings.earlyStop { attacks[anchor] = withRadius.compactMap { search[$0]?.anchorAttack } }
        for (name, model) in models where attacks[name] == nil {
            attacks[name] = try attack(model, examples: attacked, radii: radii, settings: settings)
            progress?(["event": "attacked", "model": name, "examples": attacked.count])
        }
        // 4. statistics
        let records = attacked.enumerated().map { j, example in
            let perModel = names.compactMap { n in attacks[n].map { (n, $0[j]) } }
            return RobustnessReport.ExampleRecord(
                id: example.id, radius: radii[j], attacks: Dictionary(uniqueKeysWithValues: perModel))
        }
        let summaries = names.map { name -> RobustnessReport.ModelSummary in
            let results = attacks[name] ?? []
            let n = results.isEmpty ? .nan : Double(results.count)
            return RobustnessReport.ModelSummary(
                name: name, increment: SampleSummary(results.map(\.increment)),
                meanCleanLoss: results.reduce(0) { $0 + $1.cleanLoss } / n,
                meanMaxLoss: results.reduce(0) { $0 + $1.maxLoss } / n)
        }
        return RobustnessReport(
            anchor: anchor, models: names, searchRadius: searchRadius, settings: settings,
            totalExamples: examples.count, commonlyCorrect: kept.count,
            withoutRadius: kept.indices.filter { search[$0] == nil }.map { kept[$0].id },
            summaries: summaries, examples: records)
    }
}
