import ArgumentParser
import Foundation
import FreeLB
import FreeLBData
import FreeLBModels
import FreeLBTensor
import FreeLBTokenizers

struct Robustness: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Maximum loss increment inside an L2 ball in word-embedding space (docs/method.md §13, paper Table 5).",
        discussion: """
            Keeps the dev examples every model classifies correctly, finds each example's radius with the anchor \
            (the first r of linspace(R, 1e-2, 11) then linspace(9e-3, 1e-4, 11) whose PGD max loss stays ≤ ln 2), \
            then reports per model the median, mean and std of (max loss − clean loss) at those radii.
            """)

    @Option(
        parsing: .upToNextOption, help: "Models as NAME=PATH (a run folder uses its best/), e.g. vanilla=runs/v freelb=runs/f.")
    var models: [String]
    @Option(help: "The NAME of the anchor model.") var anchor: String
    @Option(help: "Task name.") var task: String
    @Option(help: "Folder with the task's files. (default: ./data)") var dataDir: String?
    @Option(help: "The split whose examples are attacked. (default: dev)") var split: Split?
    @Option(help: "Maximum tokens per sequence.") var maxSeqLength: Int = 128
    @Option(help: "Use only the first N examples of the split.") var limit: Int?
    @Option(help: "R, the largest radius of the grid.") var radius: Float = 1
    @Option(help: "PGD steps per attack at most.") var maxSteps: Int = 2000
    @Option(help: "PGD step size. (default: 5e-3)") var stepSize: Float?
    @Option(help: "Examples attacked together.") var batchSize: Int = 32
    @Option(help: "Seed of δ's random start.") var seed: UInt64 = 0
    @Option(help: "Write the JSON report here.") var output: String?
    @Option(help: "fp32 | bf16 matrix products (bf16: inputs rounded, fp32 accumulation; docs/method.md §14). (default: fp32)")
    var precision: Precision?
    @Option(help: "Kernel and BLAS threads. (default: FREELB_NUM_THREADS or all cores) Allowed: \(threadsAllowed).") var threads:
        Int?

    func validate() throws {
        try checkFlag("max-seq-length", maxSeqLength)
        if let limit { try checkFlag("limit", limit, as: "eval-limit") }
        if !(radius.isFinite && radius >= 1e-2 && radius <= 1e6) {
            throw ValidationError("--radius \(radius): must be a number in [0.01, 1e6]")
        }
        if !(1...1_000_000).contains(maxSteps) {
            throw ValidationError("--max-steps \(maxSteps): must be an integer in 1...1000000")
        }
        if let stepSize, !(stepSize.isFinite && stepSize > 0) {
            throw ValidationError("--step-size \(stepSize): must be a finite number > 0")
        }
        try checkFlag("batch-size", batchSize)
        try validateThreads(threads)
    }

    func run() throws {
        configureThreads(threads)
        let started = Date()
        do {
            try FineTuningRun.usePrecision(precision ?? .fp32)
            let spec = try TaskRegistry.task(named: task)
            var loaded: [(name: String, model: TransformerClassifier)] = []
            var tokenizerFolder: URL?
            for entry in models {
                let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty else { throw RunError("--models: '\(entry)' is not NAME=PATH") }
                let best = URL(fileURLWithPath: parts[1]).appendingPathComponent("best")
                let path =
                    FileManager.default.fileExists(atPath: best.appendingPathComponent("config.json").path) ? best.path : parts[1]
                let (model, folder) = try TransformerClassifier.load(
                    path, kind: spec.type.modelKind,
                    numLabels: spec.isMultipleChoice ? nil : spec.numLabels)
                if model.headIsNew { throw RunError(untrainedHeadMessage(model, path)) }
                model.eval()
                loaded.append((parts[0], model))
                tokenizerFolder = tokenizerFolder ?? folder
            }
            guard let tokenizerFolder else { throw RunError("--models: give at least one NAME=PATH") }
            let tokenizer = try loadTokenizer(directory: tokenizerFolder)
            let data = try TaskSplit(
                task: spec, split: split ?? .dev, dataDir: URL(fileURLWithPath: dataDir ?? "data"), tokenizer: tokenizer,
                maxLength: maxSeqLength, batchSize: batchSize, shuffle: false, seed: 0, limit: limit)
            for batch in data.orderedBatches {
                for (_, model) in loaded { try model.validate(batch.input) }
            }
            var settings = AttackSettings()
            settings.maxSteps = maxSteps
            settings.stepSize = stepSize ?? 5e-3
            settings.batchSize = batchSize
            settings.seed = seed
            let report = try RobustnessAnalysis.compare(
                models: loaded, anchor: anchor, batches: data.orderedBatches,
                searchRadius: radius, settings: settings
            ) { event in
                var event = event
                event["elapsed_seconds"] = (Date().timeIntervalSince(started) * 10).rounded() / 10
                writeJSONLine(event, to: .standardError)
            }
            print(report.markdownTable())
            if let output { try report.write(to: URL(fileURLWithPath: output)) }
        } catch { fail(error) }
    }
}
