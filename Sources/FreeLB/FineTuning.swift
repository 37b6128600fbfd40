// A whole fine-tuning run in a run folder: data, model, method, training with evaluation, best and
// final checkpoints in Hugging Face layout, resumable state, metrics.jsonl and a curves plot.
import Foundation
import FreeLBData
import FreeLBModels
import FreeLBNN
import FreeLBTensor
import FreeLBTokenizers

public enum RunEvent {
    case started(resumedFromStep: Int?, totalSteps: Int, stepsPerEpoch: Int, trainExamples: Int, devExamples: Int)
    case step(StepProgress)
    case evaluation(EvaluationResult, mainMetric: String, isBest: Bool)
    /// Something the user should know that does not stop the run (a new task head, a stale lock).
    case warning(String)
    /// A NaN or infinite value; the batch's update was skipped (see `NonFinitePolicy`).
    case nonFinite(NonFiniteValue, skippedBatches: Int)
    case checkpointSaved(URL)
    case finished(RunSummary)
}

public struct RunSummary: Codable {
    public var task: String
    public var method: String
    public var seed: UInt64
    public var steps: Int
    public var interrupted: Bool
    /// Wall seconds of the whole run, summed over the processes that trained it (resumes included).
    public var wallSeconds: Double
    /// The step the last process resumed from; nil when it started from scratch.
    public var resumedFromStep: Int?
    /// True when the run resumed from a checkpoint that did not record its time: `wallSeconds` then
    /// counts only the steps after `resumedFromStep`.
    public var wallSecondsIncomplete: Bool?
    public var mainMetric: String
    public var bestMetric: Double?
    public var bestStep: Int?
    public var finalMetrics: [String: Double]
}

public final class FineTuningRun {
    public let configuration: RunConfiguration
    public let outputDirectory: URL
    /// The ranks training this run together (data parallelism); rank 0 writes the run folder.
    public let collective: Collective
    public static let tokenizerFiles = [
        "tokenizer.json", "vocab.txt", "vocab.json", "merges.txt", "spiece.model",
        "sentencepiece.bpe.model", "tokenizer_config.json", "special_tokens_map.json"
    ]

    /// With more than one rank in `collective`, every rank must run it with the same configuration (mpirun
    /// starts them with the same flags); each trains on its slice of every global batch (`Trainer`).
    public init(_ configuration: RunConfiguration, collective: Collective = SingleProcess()) throws {
        try configuration.validate()
        self.configuration = configuration
        self.collective = collective
        outputDirectory = URL(fileURLWithPath: configuration.outputDir)
    }

    /// Sets the engine's product precision; bf16 where it cannot run is an error naming the reason.
    public static func usePrecision(_ precision: Precision) throws {
        do { try MixedPrecision.setPrecision(precision) } catch {
            throw RunError("--precision \(precision.rawValue): \(error)")
        }
    }

    /// Trains until done or `shouldStop()` (then a resumable checkpoint is saved). Re-running on the
    /// same folder resumes from its latest checkpoint. With several ranks, a stop asked on any rank stops
    /// all of them after the same step.
    @discardableResult
    public func run(onEvent: (RunEvent) -> Void = { _ in }, shouldStop: () -> Bool = { false }) throws -> RunSummary {
        var config = configuration
        let start = Date()
        let fm = FileManager.default
        let writes = collective.isRoot  // rank 0 writes the run folder; the other ranks only read it
        if collective.size > 1 && config.randomStreams == .v1 {
            config.randomStreams = .v2
            onEvent(
                .warning(
                    "\(collective.size) ranks: dropout masks and δ are drawn per global example (--random-streams v2, "
                        + "recorded in run_config.json) so that the run does not depend on the number of ranks; "
                        + "resume it in one process with --random-streams v2"))
        }
        var lock: RunFolderLock?
        if writes {
            try Self.createFolder(outputDirectory, flag: "--output-dir")
            lock = try RunFolderLock(folder: outputDirectory)
            if let pid = lock?.stalePid {
                onEvent(
                    .warning(
                        "\(outputDirectory.path)/.lock was left by process \(pid), which is no longer running; the folder is taken over"
                    ))
            }
            for name in ["best", "final"] { Checkpointing.recoverDirectory(outputDirectory.appendingPathComponent(name)) }
        }
        defer { withExtendedLifetime(lock) {} }

        try Self.usePrecision(config.precision)
        let task = try TaskRegistry.task(named: config.task)
        let modelLoad = try TransformerClassifier.load(
            config.model, kind: task.type.modelKind,
            numLabels: task.isMultipleChoice ? nil : task.numLabels, seed: config.seed)
        let model = modelLoad.model
        if model.headIsNew {
            onEvent(
                .warning(
                    "\(modelLoad.directory.path) has no trained \(model.architecture) head: it is newly initialised "
                        + "and will be trained (expected when fine-tuning a pretrained base model)"))
        }
        if !task.isMultipleChoice && !task.isRegression {
            model.config.id2label = Dictionary(uniqueKeysWithValues: task.labels.enumerated().map { ($0.offset, $0.element) })
        }
        let tokenizer = try loadTokenizer(directory: modelLoad.directory)
        try Self.checkVocabulary(tokenizer, model: model, folder: modelLoad.directory)
        let dataDir = URL(fileURLWithPath: config.dataDir)
        let train = try TaskSplit(
            task: task, split: .train, dataDir: dataDir, tokenizer: tokenizer, maxLength: config.maxSeqLength,
            batchSize: config.batchSize, shuffle: true, seed: config.seed, limit: config.trainLimit,
            groupByLength: config.groupByLength)
        let dev = try TaskSplit(
            task: task, split: .dev, dataDir: dataDir, tokenizer: tokenizer, maxLength: config.maxSeqLength,
            batchSize: config.evalBatchSize, shuffle: false, seed: config.seed, limit: config.evalLimit)
        let devBatches = dev.orderedBatches
        for batch in train.batches(epoch: 0) + devBatches { try model.validate(batch.input) }

        let optimizer = AdamW(
            learningRate: Float(config.learningRate), eps: Float(config.adamEpsilon), weightDecay: Float(config.weightDecay))
        let batchesPerEpoch = train.batcher.batchesPerEpoch
        let stepsPerEpoch = (batchesPerEpoch + config.gradientAccumulationSteps - 1) / config.gradientAccumulationSteps
        let totalSteps = config.maxSteps ?? Int((Double(stepsPerEpoch) * config.epochs).rounded(.up))
        let warmup = config.warmupSteps ?? Int((Double(totalSteps) * config.warmupRatio).rounded(.up))
        let state = TrainingState(
            model: model, optimizer: optimizer,
            schedule: LinearWarmupDecay(
                baseLearningRate: Float(config.learningRate), warmupSteps: warmup, totalSteps: totalSteps),
            maxGradNorm: Float(config.maxGradNorm), seed: config.seed)
        model.dropoutController.reuseMasks = config.reuseDropoutMask
        state.randomStreams = config.randomStreams
        state.collective = collective
        let method = try config.makeMethod()

        var record = TrainerStateRecord(
            globalStep: 0, optimizerScalars: [:], perturbationGenerator: state.perturbationGenerator,
            dropoutGenerator: model.dropoutController.generatorState, configuration: config.json)
        var resumedFrom: Int? = nil
        var wallSecondsBefore: Double? = 0
        func wallSeconds() -> Double { (wallSecondsBefore ?? 0) + Date().timeIntervalSince(start) }
        // Rank 0 finds the checkpoint and tells the others which one it is (the run folder must be readable by
        // every rank: a shared file system on a cluster).
        let latest = writes ? try Checkpointing.latest(in: outputDirectory) : nil
        let checkpointName = try collective.broadcast(ResumePoint(checkpoint: latest?.lastPathComponent)).checkpoint
        if let checkpointName {
            let checkpoint = outputDirectory.appendingPathComponent(checkpointName)
            do { record = try Checkpointing.restore(state, from: checkpoint) } catch  where !writes {
                throw RunError(
                    "rank \(collective.rank) cannot read \(checkpoint.path) (\(error)); with several nodes, --output-dir "
                        + "must be on a file system every node reads")
            }
            try Self.checkResumable(stored: record.configuration, current: config, folder: outputDirectory)
            record.configuration = config.json
            resumedFrom = record.globalStep
            wallSecondsBefore = record.wallSeconds
        } else if writes {
            try Data(config.json.utf8).write(to: outputDirectory.appendingPathComponent("run_config.json"), options: .atomic)
        }
        onEvent(
            .started(
                resumedFromStep: resumedFrom, totalSteps: totalSteps, stepsPerEpoch: stepsPerEpoch,
                trainExamples: train.count, devExamples: dev.count))

        let metricsLog = MetricsLog(url: outputDirectory.appendingPathComponent("metrics.jsonl"))
        // Lines past the checkpoint (all of them when there is none) came from steps that are trained again.
        let loggedEvaluation = try collective.broadcast(
            writes
                ? try metricsLog.dropLines(afterStep: resumedFrom ?? 0).map {
                    LoggedEvaluation(step: $0.step, metrics: $0.metrics)
                } : nil)
        let tokenizerSources = Self.tokenizerFiles.map { modelLoad.directory.appendingPathComponent($0) }
        func requireFiniteParameters(_ what: String) throws {
            if let (name, tensor) = model.namedParameters().first(where: { $0.1.nonFiniteCount > 0 }) {
                throw RunError("not writing \(what): parameter '\(name)' holds \(tensor.nonFiniteCount) NaN or infinite values")
            }
        }
        func saveModel(_ name: String) throws {
            guard writes else { return }
            try requireFiniteParameters(name + "/")
            try Checkpointing.replaceDirectory(outputDirectory.appendingPathComponent(name)) { folder in
                try model.save(to: folder)
                for file in tokenizerSources where fm.fileExists(atPath: file.path) {
                    try fm.copyItem(at: file, to: folder.appendingPathComponent(file.lastPathComponent))
                }
            }
        }
        func checkpoint() throws {
            guard writes else { return }
            try requireFiniteParameters("a checkpoint")
            record.globalStep = state.globalStep
            record.optimizerScalars = optimizer.exportState().scalars
            record.perturbationGenerator = state.perturbationGenerator
            record.dropoutGenerator = model.dropoutController.generatorState
            record.wallSeconds = wallSecondsBefore == nil ? nil : wallSeconds()
            try Checkpointing.save(state, record: record, in: outputDirectory)
            onEvent(.checkpointSaved(outputDirectory))
        }

        var metricsFailure: Error?
        let trainer = Trainer(
            state: state, method: method, accumulationSteps: config.gradientAccumulationSteps,
            evaluationBatches: devBatches, evaluationInterval: config.evalSteps,
            metrics: { logits in
                do { return try dev.metrics(logits) } catch { metricsFailure = error; return [:] }
            })
        trainer.nonFinitePolicy = config.onNonfinite == .skip ? .skip(maxConsecutive: config.nonfiniteSkipLimit) : .stop
        // One process asks `shouldStop` before and after every event; several ranks agree on it once per step.
        let stopNow = collective.size > 1 ? { trainer.stopAgreed } : shouldStop
        var lastMetrics: [String: Double] = [:]
        var lastEvaluationStep = -1
        // A run killed after its last evaluation but before its summary is not evaluated (and logged) twice.
        if let loggedEvaluation, loggedEvaluation.step == resumedFrom {
            lastEvaluationStep = loggedEvaluation.step
            lastMetrics = loggedEvaluation.metrics
        }
        var failure: Error?
        var interrupted = false
        /// Appends to metrics.jsonl; a failed write (a full disk) stops the run with the error.
        func log(_ line: [String: Any]) -> Bool {
            guard writes else { return true }
            do { try metricsLog.append(line) } catch {
                failure = RunError("\(metricsLog.url.path): cannot append a line (\(error.localizedDescription))")
                return false
            }
            return true
        }
        func handleEvaluation(_ result: EvaluationResult) -> TrainingControl {
            if let error = metricsFailure { failure = error; return .stop }
            lastMetrics = result.metrics
            lastEvaluationStep = result.step
            guard let value = result.metrics[task.mainMetric] else {
                failure = RunError("evaluation at step \(result.step) gave no \(task.mainMetric)")
                return .stop
            }
            // A NaN score (a diverged model) is never the best.
            let isBest = value.isFinite && (record.bestMetric.map { value > $0 } ?? true)
            var line: [String: Any] = ["type": "eval", "step": result.step, "epoch": result.epoch, "loss": Double(result.loss)]
            for (k, v) in result.metrics { line[k] = v }
            guard log(line) else { return .stop }
            onEvent(.evaluation(result, mainMetric: task.mainMetric, isBest: isBest))
            do {
                if isBest {
                    record.bestMetric = value
                    record.bestStep = result.step
                    try saveModel("best")
                }
                try checkpoint()
            } catch { failure = error; return .stop }
            return .proceed
        }
        let completed = trainer.run(
            totalSteps: totalSteps, epochBatches: { train.batches(epoch: $0) }, stopRequested: shouldStop
        ) { event in
            if stopNow() { interrupted = true; return .stop }
            switch event {
            case .step(let progress):
                var line: [String: Any] = [
                    "type": "train", "step": progress.step, "epoch": progress.epoch, "loss": Double(progress.loss),
                    "learning_rate": Double(progress.learningRate), "tokens_per_second": progress.tokensPerSecond
                ]
                if collective.size > 1 {
                    line["ranks"] = collective.size
                    line["allreduce_seconds"] = progress.allreduceSeconds
                    line["elapsed_seconds"] = progress.elapsedSeconds
                }
                guard log(line) else { return .stop }
                onEvent(.step(progress))
            case .evaluation(let result):
                if handleEvaluation(result) == .stop { return .stop }
            case let .nonFinite(bad, skipped):
                var line: [String: Any] = [
                    "type": "nonfinite", "step": bad.step, "pass": bad.pass, "value": Double(bad.value),
                    "skipped_batches": skipped, "message": bad.description
                ]
                if case let .parameters(name, count) = bad.quantity { line["parameter"] = name; line["count"] = count }
                guard log(line) else { return .stop }
                onEvent(.nonFinite(bad, skippedBatches: skipped))
            case .epochEnd:
                break
            }
            if stopNow() { interrupted = true; return .stop }
            return .proceed
        }
        if let failure { throw failure }
        if let bad = trainer.stoppedOnNonFinite {
            // No checkpoint, best/ or final/ is written from here: the last good ones stay as they are.
            let kept =
                (try? Checkpointing.latest(in: outputDirectory)).flatMap { $0 }.map {
                    "the last good checkpoint, \($0.lastPathComponent), is kept; "
                        + "a rerun resumes from it"
                } ?? "no checkpoint had been written yet"
            let hint =
                config.onNonfinite == .skip
                ? "more than \(config.nonfiniteSkipLimit) batches in a row were skipped, or the parameters became non-finite"
                : "lower --learning-rate, check the data, or pass --on-nonfinite skip to skip such batches"
            throw RunError("training diverged: \(bad.description); \(hint); \(kept)")
        }
        if !completed || interrupted {
            try checkpoint()
        } else {
            if lastEvaluationStep != state.globalStep, let result = trainer.evaluateNow(epoch: -1) {
                _ = handleEvaluation(result)
                if let failure { throw failure }
            }
            try saveModel("final")
            try checkpoint()
            do {
                if writes {
                    try TrainingCurves.write(
                        metrics: outputDirectory.appendingPathComponent("metrics.jsonl"),
                        mainMetric: task.mainMetric, to: outputDirectory.appendingPathComponent("training_curves.svg"))
                }
            } catch {  // the model is saved; a missing plot is worth a warning, not a failed run
                onEvent(.warning("training_curves.svg not written: \(error.localizedDescription)"))
            }
        }
        let summary = RunSummary(
            task: task.name, method: method.name, seed: config.seed, steps: state.globalStep,
            interrupted: !completed || interrupted, wallSeconds: wallSeconds(),
            resumedFromStep: resumedFrom, wallSecondsIncomplete: wallSecondsBefore == nil ? true : nil,
            mainMetric: task.mainMetric, bestMetric: record.bestMetric, bestStep: record.bestStep,
            finalMetrics: lastMetrics)
        if !summary.interrupted && writes {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(summary).write(to: outputDirectory.appendingPathComponent("summary.json"), options: .atomic)
        }
        onEvent(.finished(summary))
        return summary
    }
}

extension FineTuningRun {
    /// A tokenizer whose ids reach past the model's embedding table cannot be used with it.
    public static func checkVocabulary(_ tokenizer: any Tokenizer, model: TransformerClassifier, folder: URL) throws {
        if tokenizer.vocabularySize > model.config.vocabSize {
            throw RunError(
                "\(folder.path): the tokenizer has \(tokenizer.vocabularySize) tokens but config.json's vocab_size is "
                    + "\(model.config.vocabSize) (the tokenizer and the model do not belong together)")
        }
    }

    /// `mkdir -p`, with an error in plain words (the part of the path that is in the way, and why).
    public static func createFolder(_ url: URL, flag: String) throws {
        var path = ""
        for component in url.standardizedFileURL.pathComponents {
            path = path.isEmpty ? component : (path as NSString).appendingPathComponent(component)
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) {
                if !isFolder.boolValue { throw RunError("\(flag) \(url.path): cannot create the folder: \(path) is a file") }
                continue
            }
            if mkdir(path, 0o755) != 0 && errno != EEXIST {
                throw RunError("\(flag) \(url.path): cannot create the folder \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Settings that may change when a run is resumed (`Setting.resumable`): how long it trains, how often
    /// it evaluates, where the files are. Anything else would silently mix two different trainings.
    static var resumeMutableKeys: Set<String> { RunConfiguration.resumableKeys }

    /// The model a `--model` value names, wherever the checkout is: the folder name or the hub id's last
    /// part ("/a/models/all-MiniLM-L6-v2", "models/all-MiniLM-L6-v2/" and "sentence-transformers/all-MiniLM-L6-v2"
    /// are one model), so a run moved with its checkout still resumes.
    static func modelName(_ model: String) -> String {
        model.split(separator: "/").last.map(String.init) ?? model
    }

    /// Throws, naming the flags, when the run stored in `folder` (its run_config.json text) was trained
    /// with settings other than `current`, outside the resumable ones and the `ignored` keys.
    public static func checkResumable(
        stored: String?, current: RunConfiguration, folder: URL, ignoring ignored: Set<String> = []
    ) throws {
        guard let stored, var old = try? JSONSerialization.jsonObject(with: Data(stored.utf8)) as? [String: Any],
            let new = try? JSONSerialization.jsonObject(with: Data(current.json.utf8)) as? [String: Any],
            let defaults = try? JSONSerialization.jsonObject(with: Data(RunConfiguration().json.utf8)) as? [String: Any]
        else { return }
        // A setting added after the run was written counts as its default.
        for (key, value) in defaults where old[key] == nil { old[key] = value }
        let changed = Set(old.keys).union(new.keys).subtracting(resumeMutableKeys).subtracting(ignored).filter { key in
            if key == "model", let a = old[key] as? String, let b = new[key] as? String { return modelName(a) != modelName(b) }
            return !(old[key].map { "\($0)" } == new[key].map { "\($0)" })
        }.sorted()
        if !changed.isEmpty {
            throw RunError(
                "\(folder.path) holds a run trained with different settings (\(changed.map { "--" + $0 }.joined(separator: ", "))); "
                    + "resume it with the same settings, or pass a new --output-dir")
        }
    }
}

/// What rank 0 tells the other ranks before training: the checkpoint it resumes from (nil: none).
struct ResumePoint: Codable { var checkpoint: String? }

/// The last evaluation metrics.jsonl kept on resume (rank 0 reads it; every rank needs it).
struct LoggedEvaluation: Codable {
    var step: Int
    var metrics: [String: Double]
}

/// Appends JSON lines (flushed per line).
final class MetricsLog {
    let url: URL
    init(url: URL) { self.url = url }

    /// Rewrites the log (atomically) without the lines whose "step" is past `step`; returns the step and
    /// metrics of the last evaluation line kept.
    func dropLines(afterStep step: Int) throws -> (step: Int, metrics: [String: Double])? {
        guard let data = try? Data(contentsOf: url) else { return nil }
        let lines = data.split(separator: 0x0A, omittingEmptySubsequences: true)
        var lastEvaluation: (step: Int, metrics: [String: Double])?
        let kept = lines.filter { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                let lineStep = object["step"] as? Int
            else { return true }
            if lineStep > step { return false }
            if object["type"] as? String == "eval" {
                let metrics = object.filter { !["type", "step", "epoch", "loss"].contains($0.key) }.compactMapValues {
                    $0 as? Double
                }
                lastEvaluation = (lineStep, metrics)
            }
            return true
        }
        if kept.count != lines.count {
            try Data(kept.map { Data($0) + Data([0x0A]) }.joined()).write(to: url, options: .atomic)
        }
        return lastEvaluation
    }

    func append(_ object: [String: Any]) throws {
        var data = jsonLine(object)
        data.append(0x0A)
        if let handle = try? FileHandle(forWritingTo: url) {
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: data)
        } else {
            try data.write(to: url)
        }
    }
}

/// `value` with every NaN or infinite number replaced by the string "NaN", "Infinity" or "-Infinity"
/// (JSON has no such numbers; Python's json module reads these spellings back as floats).
public func jsonSafe(_ value: Any) -> Any {
    switch value {
    case let number as Double where !number.isFinite:
        return number.isNaN ? "NaN" : number > 0 ? "Infinity" : "-Infinity"
    case let number as Float where !number.isFinite:
        return jsonSafe(Double(number))
    case let dictionary as [String: Any]:
        return dictionary.mapValues(jsonSafe)
    case let array as [Any]:
        return array.map(jsonSafe)
    default:
        return value
    }
}

/// One compact JSON object with sorted keys; non-finite numbers become strings (see `jsonSafe`).
public func jsonLine(_ object: [String: Any]) -> Data {
    (try? JSONSerialization.data(withJSONObject: jsonSafe(object), options: [.sortedKeys])) ?? Data("{}".utf8)
}
