import ArgumentParser
import Foundation
import FreeLB
import FreeLBModels

/// The flags of `freelb train` (also used by `experiment`). Every value is optional so that
/// `--config file.json` and `--preset` can supply it; the command line wins over both.
struct TrainingFlags: ParsableArguments {
    @Option(help: "Model folder, or Hugging Face model id (resolved through the HF cache; downloads unless HF_HUB_OFFLINE=1).")
    var model: String?
    @Option(help: "Task: cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli, arc-easy, arc-challenge, commonsenseqa.")
    var task: String?
    @Option(help: "Folder with the task's files (e.g. glue/RTE/train.tsv). (default: ./data)")
    var dataDir: String?
    @Option(help: "Run folder (checkpoints, metrics.jsonl, best/ and final/ models). Re-running resumes it.")
    var outputDir: String?
    @Option(help: "JSON file of settings keyed by these flag names (e.g. {\"learning-rate\": 2e-5}); flags override it.")
    var config: String?
    @Option(help: "Published FreeLB hyper-parameters for a GLUE task (docs/method.md §12): sets α, ε, μ, K (passes), lr, batch size.")
    var preset: String?

    @Option(help: "Maximum tokens per sequence, special tokens included. (default: 128) Allowed: \(allowed("max-seq-length")).") var maxSeqLength: Int?
    @Option(help: "Peak learning rate of AdamW. (default: 2e-5) Allowed: \(allowed("learning-rate")).") var learningRate: Double?
    @Option(help: "Examples per micro-batch. (default: 32) Allowed: \(allowed("batch-size")).") var batchSize: Int?
    @Option(help: "Examples per evaluation batch. (default: 64) Allowed: \(allowed("eval-batch-size")).") var evalBatchSize: Int?
    @Option(help: "Micro-batches per optimizer step; each has its own δ. (default: 1) Allowed: \(allowed("gradient-accumulation-steps")).") var gradientAccumulationSteps: Int?
    @Option(help: "Training epochs (fractions allowed). (default: 3) Allowed: \(allowed("epochs")).") var epochs: Double?
    @Option(help: "Total optimizer steps; overrides --epochs. Allowed: \(allowed("max-steps")).") var maxSteps: Int?
    @Option(help: "Linear warmup over this fraction of the steps, then linear decay to 0. (default: 0) Allowed: \(allowed("warmup-ratio")).") var warmupRatio: Double?
    @Option(help: "Warmup steps; overrides --warmup-ratio. Allowed: \(allowed("warmup-steps")).") var warmupSteps: Int?
    @Option(help: "AdamW weight decay, not applied to biases and LayerNorm weights. (default: 0.01) Allowed: \(allowed("weight-decay")).") var weightDecay: Double?
    @Option(help: "AdamW epsilon. (default: 1e-8) Allowed: \(allowed("adam-epsilon")).") var adamEpsilon: Double?
    @Option(help: "Global gradient-norm clip; 0 disables. (default: 1.0) Allowed: \(allowed("max-grad-norm")).") var maxGradNorm: Double?
    @Option(help: "Seed of data order, dropout masks, δ init and new heads. (default: 42)") var seed: UInt64?
    @Option(help: "Evaluate and checkpoint every N steps. (default: every epoch) Allowed: \(allowed("eval-steps")).") var evalSteps: Int?

    @Option(help: "vanilla | freelb | pgd | freeat | yopo | random (K passes with random δ of norm ε, no ascent: the control). (default: freelb)") var method: MethodName?
    @Option(name: .customLong("adv-steps"), help: """
        FreeLB: K, the number of forward/backward passes per batch (the paper's FreeLB-K; the official \
        fairseq script's --adv-steps N means K = N+1 passes). PGD: ascent steps (K+1 passes). FreeAT: \
        replays m (m updates per batch). YOPO: outer steps K. (default: 3) Allowed: \(allowed("adv-steps")).
        """) var steps: Int?
    @Option(name: .customLong("adv-lr"), help: "α, the ascent step size. (default: 0.1) Allowed: \(allowed("adv-lr")).") var stepSize: Double?
    @Option(name: .customLong("adv-init-mag"), help: "μ, δ's initial magnitude; for l2 the expected ‖δ0‖ is μ/√3. 0: the first pass is clean. (default: 0) Allowed: \(allowed("adv-init-mag")).") var initMagnitude: Double?
    @Option(name: .customLong("adv-max-norm"), help: "ε, the radius of the ball δ is projected onto; ≤ 0: no projection. (default: 0) Allowed: \(allowed("adv-max-norm")).") var radius: Double?
    @Option(name: .customLong("adv-norm"), help: "l2 | linf (sign step) | linf-maxnorm (the official code's 'linf'). (default: l2)") var norm: PerturbationNorm?
    @Flag(help: "Resample dropout masks on every pass (the paper's 'without reuse' ablation).") var noReuseDropoutMask = false
    @Option(name: .customLong("adv-begin-step"), help: "Train vanilla before this optimizer step. (default: 0) Allowed: \(allowed("adv-begin-step")).") var beginStep: Int?
    @Flag(name: .customLong("adv-clean-pass"), help: "Add one clean pass before the K adversarial passes (K+1 passes, loss/(K+1)).") var cleanPass = false
    @Option(name: .customLong("yopo-inner-steps"), help: "YOPO: cheap inner steps M per outer step. (default: 3) Allowed: \(allowed("yopo-inner-steps")).") var innerSteps: Int?
    @Option(help: "Use only the first N training examples. Allowed: \(allowed("train-limit")).") var trainLimit: Int?
    @Option(help: "Use only the first N dev examples. Allowed: \(allowed("eval-limit")).") var evalLimit: Int?
    @Option(help: "When a loss, the gradient norm or a parameter becomes NaN or infinite: stop (keeping the last good checkpoint) or skip the batch's update. (default: stop)")
    var onNonfinite: NonFiniteAction?
    @Option(help: "With --on-nonfinite skip: stop after more than N skipped batches in a row. (default: 10) Allowed: \(allowed("nonfinite-skip-limit")).")
    var nonfiniteSkipLimit: Int?
    @Flag(help: "Batch training examples of similar length together (pools of 50 batches sorted by length, batches shuffled): less padding, faster epochs.")
    var groupByLength = false

    /// defaults < preset < --config file < flags
    func resolve() throws -> RunConfiguration {
        var c = RunConfiguration()
        c.dataDir = "data"
        if let preset { try c.applyPreset(preset) }
        if let config {
            let url = URL(fileURLWithPath: config)
            let data: Data
            do { data = try Data(contentsOf: url) } catch {
                throw RunError("--config \(config): cannot read the file (\(error.localizedDescription))")
            }
            c = try c.merging(json: data, file: config)
        }
        if let v = model { c.model = v }
        if let v = task { c.task = v }
        if let v = dataDir { c.dataDir = v }
        if let v = outputDir { c.outputDir = v }
        if let v = maxSeqLength { c.maxSeqLength = v }
        if let v = learningRate { c.learningRate = v }
        if let v = batchSize { c.batchSize = v }
        if let v = evalBatchSize { c.evalBatchSize = v }
        if let v = gradientAccumulationSteps { c.gradientAccumulationSteps = v }
        if let v = epochs { c.epochs = v }
        if let v = maxSteps { c.maxSteps = v }
        if let v = warmupRatio { c.warmupRatio = v }
        if let v = warmupSteps { c.warmupSteps = v }
        if let v = weightDecay { c.weightDecay = v }
        if let v = adamEpsilon { c.adamEpsilon = v }
        if let v = maxGradNorm { c.maxGradNorm = v }
        if let v = seed { c.seed = v }
        if let v = evalSteps { c.evalSteps = v }
        if let v = method { c.method = v }
        if let v = steps { c.steps = v }
        if let v = stepSize { c.stepSize = v }
        if let v = initMagnitude { c.initMagnitude = v }
        if let v = radius { c.radius = v }
        if let v = norm { c.norm = v }
        if noReuseDropoutMask { c.reuseDropoutMask = false }
        if let v = beginStep { c.beginStep = v }
        if cleanPass { c.cleanPass = true }
        if let v = innerSteps { c.innerSteps = v }
        if let v = trainLimit { c.trainLimit = v }
        if let v = evalLimit { c.evalLimit = v }
        if groupByLength { c.groupByLength = true }
        if let v = onNonfinite { c.onNonfinite = v }
        if let v = nonfiniteSkipLimit { c.nonfiniteSkipLimit = v }
        return c
    }
}

/// The allowed values of a numeric flag, as `--help` and the errors state them.
func allowed(_ flag: String) -> String { RunConfiguration.allowedValues[flag] ?? "see the docs" }

extension MethodName: ExpressibleByArgument {}
extension NonFiniteAction: ExpressibleByArgument {}
extension PerturbationNorm: ExpressibleByArgument {}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a model on a task (resumes when --output-dir holds a checkpoint).",
        discussion: """
            Progress: a live bar on a terminal, JSON lines otherwise (or with --json). Ctrl-C saves a resumable \
            checkpoint and exits. The run folder holds run_config.json, metrics.jsonl, training_curves.svg, \
            best/ and final/ (Hugging Face layout) and checkpoint-<step>[-n]/ (exact resume state, published through the `latest` file).
            """)

    @OptionGroup var flags: TrainingFlags
    @Option(help: "Kernel and BLAS threads. (default: FREELB_NUM_THREADS or all cores) Allowed: \(threadsAllowed).") var threads: Int?
    @Flag(help: "Print JSON lines even on a terminal.") var json = false

    func validate() throws { try validateThreads(threads) }

    func run() throws {
        configureThreads(threads)
        let configuration: RunConfiguration
        do {
            configuration = try flags.resolve()
            try configuration.validate()
        } catch { fail(error) }
        let reporter = ProgressReporter(json: json || isatty(STDOUT_FILENO) == 0)
        Interrupt.install()
        do {
            let summary = try FineTuningRun(configuration).run(onEvent: reporter.handle, shouldStop: { Interrupt.requested })
            if summary.interrupted { throw ExitCode(130) }
        } catch let code as ExitCode { throw code } catch { fail(error) }
    }
}

/// Ctrl-C: first press asks the run to stop after the current step and save; a second press exits.
enum Interrupt {
    nonisolated(unsafe) static var requested = false

    static func install() {
        signal(SIGINT) { _ in
            if Interrupt.requested { _exit(130) }
            Interrupt.requested = true
        }
        signal(SIGTERM) { _ in Interrupt.requested = true }
    }
}
