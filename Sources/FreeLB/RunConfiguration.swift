// The resolved configuration of a fine-tuning run: HF run_glue's vocabulary plus the adversarial
// method's flags. Keys in JSON are the CLI flags in kebab-case (`--config file.json` uses them too).
import Foundation
import FreeLBTensor

public enum MethodName: String, Codable, CaseIterable, Sendable {
    case vanilla, freelb, pgd, freeat, yopo
    /// The control: FreeLB-K's passes with random δ of norm ε and no ascent.
    case random
}

/// What a run does when a loss, the gradient norm or a parameter becomes NaN or infinite.
public enum NonFiniteAction: String, Codable, CaseIterable, Sendable {
    /// Stop with an error naming the step and the pass; the last good checkpoint is kept.
    case stop
    /// Skip the batch's update, log it, and stop after `nonfinite-skip-limit` skipped batches in a row.
    case skip
}

public struct RunConfiguration: Codable, Equatable {
    public var model: String = ""
    public var task: String = ""
    public var dataDir: String = ""
    public var outputDir: String = ""
    public var maxSeqLength: Int = 128
    public var learningRate: Double = 2e-5
    public var batchSize: Int = 32
    public var evalBatchSize: Int = 64
    public var gradientAccumulationSteps: Int = 1
    public var epochs: Double = 3
    public var maxSteps: Int? = nil
    public var warmupRatio: Double = 0
    public var warmupSteps: Int? = nil
    public var weightDecay: Double = 0.01
    public var adamEpsilon: Double = 1e-8
    public var maxGradNorm: Double = 1
    public var seed: UInt64 = 42
    /// Evaluate (and checkpoint) every N steps; nil: every epoch.
    public var evalSteps: Int? = nil
    public var method: MethodName = .freelb
    /// K, `--adv-steps`: FreeLB: passes; PGD: ascent steps; FreeAT: replays m; YOPO: outer steps (docs/method.md §6).
    public var steps: Int = 3
    public var stepSize: Double = 0.1
    public var initMagnitude: Double = 0
    public var radius: Double = 0
    public var norm: PerturbationNorm = .l2
    public var reuseDropoutMask: Bool = true
    public var beginStep: Int = 0
    public var cleanPass: Bool = false
    public var innerSteps: Int = 3
    /// Use only the first N training / dev examples (quick runs).
    public var trainLimit: Int? = nil
    public var evalLimit: Int? = nil
    /// Batch training examples of similar length together (less padding; HF's `--group_by_length`).
    public var groupByLength: Bool = false
    public var onNonfinite: NonFiniteAction = .stop
    /// With `onNonfinite == .skip`: stop after more than this many skipped batches in a row.
    public var nonfiniteSkipLimit: Int = 10
    /// Matrix products in fp32, or bf16 inputs with fp32 accumulation (docs/method.md §14).
    public var precision: Precision = .fp32
    /// How δ's random numbers are drawn: v1 (every run before data parallelism) or v2, keyed per global example
    /// (what `mpirun -np N` with N > 1 uses; docs/method.md §3).
    public var randomStreams: RandomStreams = .v1

    public init() {}

    enum CodingKeys: String, CodingKey {
        case model, task, seed, method, epochs
        case dataDir = "data-dir", outputDir = "output-dir", maxSeqLength = "max-seq-length", learningRate = "learning-rate"
        case batchSize = "batch-size", evalBatchSize = "eval-batch-size"
        case gradientAccumulationSteps = "gradient-accumulation-steps", maxSteps = "max-steps", warmupRatio = "warmup-ratio"
        case warmupSteps = "warmup-steps", weightDecay = "weight-decay", adamEpsilon = "adam-epsilon", maxGradNorm =
            "max-grad-norm"
        case evalSteps = "eval-steps", steps = "adv-steps", stepSize = "adv-lr", initMagnitude = "adv-init-mag"
        case radius = "adv-max-norm", norm = "adv-norm", reuseDropoutMask = "reuse-dropout-mask"
        case beginStep = "adv-begin-step", cleanPass = "adv-clean-pass", innerSteps = "yopo-inner-steps"
        case trainLimit = "train-limit", evalLimit = "eval-limit", groupByLength = "group-by-length"
        case onNonfinite = "on-nonfinite", nonfiniteSkipLimit = "nonfinite-skip-limit"
        case precision
        case randomStreams = "random-streams"
    }

    /// Decodes a partial JSON object: absent keys keep the current values.
    public func merging(json data: Data, file: String) throws -> RunConfiguration {
        guard let object = try? JSONSerialization.jsonObject(with: data), let dict = object as? [String: Any] else {
            throw RunError("\(file): not a JSON object")
        }
        return try merging(values: dict, source: file)
    }

    /// The `source` of settings given as flags.
    public static let commandLine = "the command line"

    /// Applies settings keyed by their flag names (JSON values: numbers, strings, booleans); absent
    /// keys keep the current values. `source` names where they came from in errors.
    public func merging(values: [String: Any], source file: String) throws -> RunConfiguration {
        var dict = values
        // JSON cannot hold NaN or infinity, and no setting allows them: refuse them before the round trip.
        for (key, value) in values {
            guard let number = value as? Double, !number.isFinite else { continue }
            let allowed = Self.setting(key)?.allowed ?? "a finite number"
            throw RunError(
                file == Self.commandLine
                    ? "--\(key) \(number): must be \(allowed)"
                    : "\(file): field '\(key)': \(number) must be \(allowed)")
        }
        let known = Set(CodingKeys.allKeys)
        if let unknown = dict.keys.first(where: { !known.contains($0) }) {
            throw RunError(
                "\(file): field '\(unknown)': unknown setting (settings use the CLI flag names, e.g. \"learning-rate\")")
        }
        let current = try JSONSerialization.jsonObject(with: JSONEncoder().encode(self)) as! [String: Any]
        for (key, value) in current where dict[key] == nil { dict[key] = value }
        do {
            return try JSONDecoder().decode(RunConfiguration.self, from: JSONSerialization.data(withJSONObject: dict))
        } catch let DecodingError.typeMismatch(type, context), let DecodingError.valueNotFound(type, context) {
            throw RunError("\(file): field '\(context.codingPath.map(\.stringValue).joined(separator: "."))': expected \(type)")
        } catch let DecodingError.dataCorrupted(context) {
            throw RunError(
                "\(file): field '\(context.codingPath.map(\.stringValue).joined(separator: "."))': \(context.debugDescription)")
        }
    }

    /// A stable text form (for the run folder and for detecting a changed configuration on resume).
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// Published hyper-parameters (docs/method.md §12, RoBERTa-large, fairseq scripts, K = passes).
    public static let presets: [String: (alpha: Double, epsilon: Double, mu: Double, steps: Int, lr: Double, batch: Int)] = [
        "mnli": (0.1, 0.3, 0.1, 3, 1e-5, 33), "qnli": (0.075, 0.15, 0.15, 3, 1e-5, 32),
        "qqp": (0.2, 0.7, 0.32, 3, 1e-5, 32), "sst2": (0.1, 0.6, 1.0, 3, 1e-5, 32),
        "cola": (0.025, 0.3, 0.4, 4, 1e-5, 16), "mrpc": (0.04, 0.4, 0.64, 4, 5e-6, 16),
        "stsb": (0.1, 0.28, 0.16, 4, 2e-5, 16), "rte": (0.06, 0.14, 0.16, 4, 1e-5, 16)
    ]

    /// Applies a preset (FreeLB, L2, K passes).
    public mutating func applyPreset(_ name: String) throws {
        let key = name.lowercased().replacingOccurrences(of: "-", with: "")
        guard let p = Self.presets[key] else {
            throw RunError("--preset \(name): unknown (available: \(Self.presets.keys.sorted().joined(separator: ", ")))")
        }
        method = .freelb
        norm = .l2
        stepSize = p.alpha
        radius = p.epsilon
        initMagnitude = p.mu
        steps = p.steps
        learningRate = p.lr
        batchSize = p.batch
    }

    /// The perturbation settings (keys of `json`).
    public static let perturbationKeys: Set<String> = [
        "adv-steps", "adv-lr", "adv-init-mag", "adv-max-norm", "adv-norm", "reuse-dropout-mask", "adv-begin-step",
        "adv-clean-pass", "yopo-inner-steps"
    ]

    /// Settings this configuration's method does not read: vanilla ignores every perturbation setting.
    public var unusedKeys: Set<String> { method == .vanilla ? Self.perturbationKeys : [] }

    /// The training step this configuration describes.
    public func makeMethod() throws -> TrainingStep {
        let perturbation = PerturbationConfig(
            norm: norm, initMagnitude: Float(initMagnitude), radius: Float(radius),
            stepSize: Float(stepSize))
        switch method {
        case .vanilla: return VanillaStep()
        case .freelb:
            return try FreeLBStep(
                perturbation: perturbation, steps: steps, reuseDropoutMask: reuseDropoutMask,
                beginStep: beginStep, cleanPass: cleanPass)
        case .pgd: return PGDStep(perturbation: perturbation, steps: steps, reuseDropoutMask: reuseDropoutMask)
        case .freeat: return FreeATStep(perturbation: perturbation, steps: steps)
        case .random: return RandomPerturbationStep(radius: Float(radius), steps: steps, reuseDropoutMask: reuseDropoutMask)
        case .yopo:
            return try YOPOStep(
                perturbation: perturbation, steps: steps, innerSteps: innerSteps,
                reuseDropoutMask: reuseDropoutMask)
        }
    }
}

extension RunConfiguration.CodingKeys: CaseIterable {
    static var allKeys: [String] { allCases.map(\.stringValue) }
}

public struct RunError: Error, CustomStringConvertible, LocalizedError {
    public let description: String
    public init(_ description: String) { self.description = description }
    public var errorDescription: String? { description }
}
