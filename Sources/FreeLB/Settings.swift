// Every setting of a run declared once: its key (the CLI flag, the `--config` / run_config.json key),
// its help, its allowed values and their check, and whether a resumed run may change it. `--help`,
// the range errors and the resume check all read this table; defaults come from `RunConfiguration()`.
import Foundation

public struct Setting: Sendable {
    /// The flag without "--", which is also the JSON key.
    public let key: String
    /// The stored property of `RunConfiguration` (and of the CLI's flags): the key in camelCase unless
    /// the Swift API names the concept differently (`adv-lr` is `stepSize`, docs/method.md §1).
    public let propertyName: String
    public let help: String
    /// The allowed values in words (nil: any value of the type).
    public let allowed: String?
    /// Whether a resumed run may change it (how long it trains, how often it evaluates, where the files are).
    public let resumable: Bool
    /// Shown as the default when the setting has none (nil: the default of `RunConfiguration()`).
    public let defaultText: String?
    let isValid: @Sendable (RunConfiguration) -> Bool

    init(
        _ key: String, swiftName: String? = nil, _ help: String, allowed: String? = nil, resumable: Bool = false,
        defaultText: String? = nil, valid isValid: @escaping @Sendable (RunConfiguration) -> Bool = { _ in true }
    ) {
        self.key = key
        let words = key.split(separator: "-").map(String.init)
        propertyName = swiftName ?? words[0] + words.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        (self.help, self.allowed, self.resumable) = (help, allowed, resumable)
        (self.defaultText, self.isValid) = (defaultText, isValid)
    }
}

extension RunConfiguration {
    public static let settings: [Setting] = {
        func inRange(_ range: ClosedRange<Int>) -> String { "an integer in \(range.lowerBound)...\(range.upperBound)" }
        let sizes = 1...65536, counts = 1...1_000_000_000
        return [
            Setting(
                "model",
                "Model folder, or Hugging Face model id (resolved through the HF cache; downloads unless HF_HUB_OFFLINE=1)."),
            Setting("task", "Task: cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli, arc-easy, arc-challenge, commonsenseqa."),
            Setting(
                "data-dir", "Folder with the task's files (e.g. glue/RTE/train.tsv).", resumable: true, defaultText: "./data"),
            Setting(
                "output-dir", "Run folder (checkpoints, metrics.jsonl, best/ and final/ models). Re-running resumes it.",
                resumable: true),
            Setting("max-seq-length", "Maximum tokens per sequence, special tokens included.", allowed: inRange(4...65536)) {
                (4...65536).contains($0.maxSeqLength)
            },
            Setting("learning-rate", "Peak learning rate of AdamW.", allowed: "a finite number > 0") {
                $0.learningRate.isFinite && $0.learningRate > 0
            },
            Setting("batch-size", "Examples per micro-batch.", allowed: inRange(sizes)) { sizes.contains($0.batchSize) },
            Setting("eval-batch-size", "Examples per evaluation batch.", allowed: inRange(sizes), resumable: true) {
                sizes.contains($0.evalBatchSize)
            },
            Setting(
                "gradient-accumulation-steps", "Micro-batches per optimizer step; each has its own δ.", allowed: inRange(sizes)
            ) {
                sizes.contains($0.gradientAccumulationSteps)
            },
            Setting("epochs", "Training epochs (fractions allowed).", allowed: "a finite number in (0, 100000]", resumable: true)
            {
                $0.epochs.isFinite && $0.epochs > 0 && $0.epochs <= 100_000
            },
            Setting("max-steps", "Total optimizer steps; overrides --epochs.", allowed: inRange(counts), resumable: true) {
                $0.maxSteps.map(counts.contains) ?? true
            },
            Setting(
                "warmup-ratio", "Linear warmup over this fraction of the steps, then linear decay to 0.",
                allowed: "a number in [0, 1]"
            ) {
                (0...1).contains($0.warmupRatio)
            },
            Setting("warmup-steps", "Warmup steps; overrides --warmup-ratio.", allowed: inRange(0...1_000_000_000)) {
                $0.warmupSteps.map((0...1_000_000_000).contains) ?? true
            },
            Setting(
                "weight-decay", "AdamW weight decay, not applied to biases and LayerNorm weights.", allowed: "a finite number ≥ 0"
            ) {
                $0.weightDecay.isFinite && $0.weightDecay >= 0
            },
            Setting("adam-epsilon", "AdamW epsilon.", allowed: "a finite number > 0") {
                $0.adamEpsilon.isFinite && $0.adamEpsilon > 0
            },
            Setting(
                "max-grad-norm", "Global gradient-norm clip; 0 disables.", allowed: "a finite number ≥ 0 (0 disables clipping)"
            ) {
                $0.maxGradNorm.isFinite && $0.maxGradNorm >= 0
            },
            Setting("seed", "Seed of data order, dropout masks, δ init and new heads."),
            Setting(
                "eval-steps", "Evaluate and checkpoint every N steps.", allowed: inRange(counts), resumable: true,
                defaultText: "every epoch"
            ) { $0.evalSteps.map(counts.contains) ?? true },
            Setting(
                "method",
                "vanilla | freelb | pgd | freeat | yopo | random (K passes with random δ of norm ε, no ascent: the control)."),
            Setting(
                "adv-steps", swiftName: "steps",
                """
                FreeLB: K, the number of forward/backward passes per batch (the paper's FreeLB-K; the official fairseq \
                script's --adv-steps N means K = N+1 passes; docs/method.md §6). PGD: ascent steps (K+1 passes). FreeAT: \
                replays m (m updates per batch). YOPO: outer steps K. random: passes.
                """, allowed: inRange(1...1000)
            ) { (1...1000).contains($0.steps) },
            Setting("adv-lr", swiftName: "stepSize", "α, the ascent step size.", allowed: "a finite number ≥ 0") {
                $0.stepSize.isFinite && $0.stepSize >= 0
            },
            Setting(
                "adv-init-mag", swiftName: "initMagnitude",
                "μ, δ's initial magnitude; for l2 the expected ‖δ0‖ is μ/√3. 0: the first pass is clean.",
                allowed: "a finite number ≥ 0 (> 0 for yopo)"
            ) {
                $0.initMagnitude.isFinite && $0.initMagnitude >= 0 && ($0.method != .yopo || $0.initMagnitude > 0)
            },
            Setting(
                "adv-max-norm", swiftName: "radius", "ε, the radius of the ball δ is projected onto; ≤ 0: no projection.",
                allowed: "a finite number (≤ 0: no projection; > 0 for random)"
            ) {
                $0.radius.isFinite && ($0.method != .random || $0.radius > 0)
            },
            Setting("adv-norm", swiftName: "norm", "l2 | linf (sign step) | linf-maxnorm (the official code's 'linf')."),
            Setting("reuse-dropout-mask", "Reuse dropout masks across the K passes (docs/method.md §7)."),
            Setting(
                "adv-begin-step", swiftName: "beginStep", "Train vanilla before this optimizer step.",
                allowed: inRange(0...1_000_000_000)
            ) {
                (0...1_000_000_000).contains($0.beginStep)
            },
            Setting(
                "adv-clean-pass", swiftName: "cleanPass",
                "Add one clean pass before the K adversarial passes (K+1 passes, loss/(K+1))."),
            Setting(
                "yopo-inner-steps", swiftName: "innerSteps", "YOPO: cheap inner steps M per outer step.",
                allowed: inRange(1...1000)
            ) {
                (1...1000).contains($0.innerSteps)
            },
            Setting("train-limit", "Use only the first N training examples.", allowed: "an integer ≥ 1") {
                ($0.trainLimit ?? 1) >= 1
            },
            Setting("eval-limit", "Use only the first N dev examples.", allowed: "an integer ≥ 1", resumable: true) {
                ($0.evalLimit ?? 1) >= 1
            },
            Setting(
                "group-by-length",
                "Batch training examples of similar length together (pools of 50 batches sorted by length, "
                    + "batches shuffled): less padding, faster epochs."),
            Setting(
                "on-nonfinite",
                "When a loss, the gradient norm or a parameter becomes NaN or infinite: stop (keeping the last "
                    + "good checkpoint) or skip the batch's update.", resumable: true),
            Setting(
                "nonfinite-skip-limit", "With --on-nonfinite skip: stop after more than N skipped batches in a row.",
                allowed: inRange(0...1_000_000), resumable: true
            ) { (0...1_000_000).contains($0.nonfiniteSkipLimit) },
            Setting(
                "precision",
                "fp32 | bf16: bf16 rounds the inputs of every matrix product (linear layers, attention) to bf16 and "
                    + "accumulates in fp32 (oneDNN; needs AVX512-BF16, else the run stops with the reason); weights, "
                    + "optimizer state, δ, softmax, LayerNorm and the loss stay fp32 (docs/method.md §14)."),
            Setting(
                "random-streams",
                "v1 | v2: how δ's random start is drawn. v1 (every run made before v2): from the run's sequential "
                    + "generator. v2: keyed by (draw, global example index), so data-parallel training gives the same run "
                    + "for every number of ranks; mpirun -np N > 1 switches to it (docs/method.md §3).")
        ]
    }()

    public static func setting(_ key: String) -> Setting? { settings.first { $0.key == key } }

    /// Whether the value of setting `key` is allowed (true for a key without a check).
    public func allows(_ key: String) -> Bool { Self.setting(key)?.isValid(self) ?? true }

    /// "help (default: X) Allowed: Y." for `--help`, the default read from `RunConfiguration()`.
    public static func helpText(_ key: String) -> String {
        guard let setting = setting(key) else { return key }
        var text = setting.help
        if let shown = setting.defaultText ?? RunConfiguration().shownDefault(key) { text += " (default: \(shown))" }
        if let allowed = setting.allowed { text += " Allowed: \(allowed)." }
        return text
    }

    /// Checks every value a user can get wrong; the error names the flag and its allowed values.
    public func validate() throws {
        if model.isEmpty { throw RunError("--model is required (a folder or a Hugging Face model id)") }
        if task.isEmpty { throw RunError("--task is required") }
        if outputDir.isEmpty { throw RunError("--output-dir is required") }
        for setting in Self.settings where !setting.isValid(self) {
            throw RunError("--\(setting.key) \(describedValue(setting.key)): must be \(setting.allowed ?? "valid")")
        }
    }

    /// The stored value of a setting (nil for an unset optional).
    func value(_ key: String) -> Any? {
        guard let property = Self.keysByPropertyName.first(where: { $0.value == key })?.key,
            let value = Mirror(reflecting: self).children.first(where: { $0.label == property })?.value
        else { return nil }
        let optional = Mirror(reflecting: value)
        if optional.displayStyle == .optional { return optional.children.first?.value }
        if let named = value as? any RawRepresentable { return named.rawValue }
        return value
    }

    /// The value of a setting as text (works for NaN, which JSON cannot hold).
    func describedValue(_ key: String) -> String { value(key).map { "\($0)" } ?? "nil" }

    /// The default `--help` shows: none for flags (booleans), unset optionals and empty names.
    func shownDefault(_ key: String) -> String? {
        guard let value = value(key), !(value is Bool), "\(value)" != "" else { return nil }
        return "\(value)"
    }

    /// Settings a resumed run may change; any other change would mix two different trainings.
    public static var resumableKeys: Set<String> { Set(settings.filter(\.resumable).map(\.key)) }

    /// The setting key of each stored property (`learningRate` → "learning-rate").
    public static let keysByPropertyName: [String: String] = Dictionary(
        uniqueKeysWithValues: settings.map { ($0.propertyName, $0.key) })
}
