import ArgumentParser
import Foundation
import FreeLB
import FreeLBData
import FreeLBModels
import FreeLBTensor
import FreeLBTokenizers

/// Options shared by commands that run a trained model over a split.
struct ModelAndData: ParsableArguments {
    @Option(help: "A model folder (e.g. RUN/best or RUN/final), a run folder (uses its best/), or a Hub id.")
    var model: String
    @Option(help: "Task name (see `freelb train --help`).") var task: String
    @Option(help: "Folder with the task's files. (default: ./data)") var dataDir: String?
    @Option(help: "Maximum tokens per sequence. Allowed: \(allowed("max-seq-length")).") var maxSeqLength: Int = 128
    @Option(help: "Examples per batch. Allowed: \(allowed("eval-batch-size")).") var batchSize: Int = 64
    @Option(help: "Use only the first N examples. Allowed: \(allowed("eval-limit")).") var limit: Int?
    @Option(help: "Kernel and BLAS threads. (default: FREELB_NUM_THREADS or all cores) Allowed: \(threadsAllowed).") var threads:
        Int?
    @Option(help: "fp32 | bf16 matrix products (bf16: inputs rounded, fp32 accumulation; docs/method.md §14). (default: fp32)")
    var precision: Precision?

    func validate() throws {
        try checkFlag("max-seq-length", maxSeqLength)
        try checkFlag("batch-size", batchSize, as: "eval-batch-size")
        if let limit { try checkFlag("limit", limit, as: "eval-limit") }
        try validateThreads(threads)
    }

    /// A run folder stands for its best model.
    var modelLocation: String {
        let best = URL(fileURLWithPath: model).appendingPathComponent("best")
        return FileManager.default.fileExists(atPath: best.appendingPathComponent("config.json").path) ? best.path : model
    }

    func load(split: Split) throws -> (TransformerClassifier, TaskSplit) {
        configureThreads(threads)
        try FineTuningRun.usePrecision(precision ?? .fp32)
        let spec = try TaskRegistry.task(named: task)
        let (model, directory) = try TransformerClassifier.load(
            modelLocation, kind: spec.type.modelKind,
            numLabels: spec.isMultipleChoice ? nil : spec.numLabels)
        let tokenizer = try loadTokenizer(directory: directory)
        let data = try TaskSplit(
            task: spec, split: split, dataDir: URL(fileURLWithPath: dataDir ?? "data"), tokenizer: tokenizer,
            maxLength: maxSeqLength, batchSize: batchSize, shuffle: false, seed: 0, limit: limit)
        for batch in data.orderedBatches { try model.validate(batch.input) }
        return (model, data)
    }
}

/// The message for a model whose task head is not in its checkpoint (random weights).
func untrainedHeadMessage(_ model: TransformerClassifier, _ location: String) -> String {
    "\(location) has no trained \(model.architecture) head; it was newly initialised with random weights, "
        + "so its predictions are meaningless (pass a fine-tuned model, e.g. RUN/best)"
}

extension Split: ExpressibleByArgument {}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Report a task's metrics on a labelled split (JSON on stdout).")

    @OptionGroup var options: ModelAndData
    @Option(help: "The split to evaluate. (default: dev)") var split: Split?

    func run() throws {
        do {
            let split = split ?? .dev
            let (model, data) = try options.load(split: split)
            if model.headIsNew {
                FileHandle.standardError.write(Data("warning: \(untrainedHeadMessage(model, options.modelLocation))\n".utf8))
            }
            let (logits, loss) = FreeLB.evaluate(model, batches: data.orderedBatches)
            var report: [String: Any] = [
                "task": data.task.name, "split": split.rawValue, "examples": data.count,
                "loss": Double(loss), "main_metric": data.task.mainMetric
            ]
            for (k, v) in try data.metrics(logits) { report[k] = v }
            let json = try JSONSerialization.data(withJSONObject: jsonSafe(report), options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: json, as: UTF8.self))
        } catch { fail(error) }
    }
}

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Write submission files: GLUE (index, prediction as a label name; STS-B clipped to [0, 5]); ARC and CommonsenseQA (question id, answer label; the leaderboards' CSV)."
    )

    @OptionGroup var options: ModelAndData
    @Option(help: "The split to predict. (default: test)") var split: Split?
    @Option(help: "Folder for the submission file.") var outputDir: String
    @Flag(help: "Write predictions even when the model has no trained task head (random predictions).")
    var allowUntrainedHead = false

    func run() throws {
        do {
            let split = split ?? .test
            let (model, data) = try options.load(split: split)
            if model.headIsNew && !allowUntrainedHead {
                throw RunError(
                    untrainedHeadMessage(model, options.modelLocation) + "; --allow-untrained-head writes the file anyway")
            }
            let (logits, _) = FreeLB.evaluate(model, batches: data.orderedBatches)
            let (classes, scores) = data.predictions(logits)
            let folder = URL(fileURLWithPath: outputDir)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let file: URL
            if data.task.isMultipleChoice, let choiceLabels = data.choiceLabels {
                file = try SubmissionWriter.writeMultipleChoice(
                    task: data.task, split: split, ids: data.ids, choiceLabels: choiceLabels,
                    predictions: classes ?? [], to: folder)
            } else if let scores {
                file = try SubmissionWriter.write(
                    task: data.task, split: split, ids: data.ids, scores: scores.map(Double.init), to: folder)
            } else {
                file = try SubmissionWriter.write(
                    task: data.task, split: split, ids: data.ids, predictions: classes ?? [], to: folder)
            }
            print(file.path)
        } catch { fail(error) }
    }
}
