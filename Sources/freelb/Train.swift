import ArgumentParser
import Foundation
import FreeLB
import FreeLBModels
import FreeLBTensor

/// The flags of `freelb train` (also used by `experiment`). Every value is optional so that
/// `--config file.json` and `--preset` can supply it; the command line wins over both. Each setting's
/// help, default, allowed values and resume rule come from `RunConfiguration.settings`; a property
/// here has the setting's Swift name and is mapped to its key by `resolve()`.
struct TrainingFlags: ParsableArguments {
    @Option(help: setting("model")) var model: String?
    @Option(help: setting("task")) var task: String?
    @Option(help: setting("data-dir")) var dataDir: String?
    @Option(help: setting("output-dir")) var outputDir: String?
    @Option(help: "JSON file of settings keyed by these flag names (e.g. {\"learning-rate\": 2e-5}); flags override it.")
    var config: String?
    @Option(
        help: "Published FreeLB hyper-parameters for a GLUE task (docs/method.md §12): sets α, ε, μ, K (passes), lr, batch size.")
    var preset: String?

    @Option(help: setting("max-seq-length")) var maxSeqLength: Int?
    @Option(help: setting("learning-rate")) var learningRate: Double?
    @Option(help: setting("batch-size")) var batchSize: Int?
    @Option(help: setting("eval-batch-size")) var evalBatchSize: Int?
    @Option(help: setting("gradient-accumulation-steps")) var gradientAccumulationSteps: Int?
    @Option(help: setting("epochs")) var epochs: Double?
    @Option(help: setting("max-steps")) var maxSteps: Int?
    @Option(help: setting("warmup-ratio")) var warmupRatio: Double?
    @Option(help: setting("warmup-steps")) var warmupSteps: Int?
    @Option(help: setting("weight-decay")) var weightDecay: Double?
    @Option(help: setting("adam-epsilon")) var adamEpsilon: Double?
    @Option(help: setting("max-grad-norm")) var maxGradNorm: Double?
    @Option(help: setting("seed")) var seed: UInt64?
    @Option(help: setting("eval-steps")) var evalSteps: Int?

    @Option(help: setting("method")) var method: MethodName?
    @Option(name: .customLong("adv-steps"), help: setting("adv-steps")) var steps: Int?
    @Option(name: .customLong("adv-lr"), help: setting("adv-lr")) var stepSize: Double?
    @Option(name: .customLong("adv-init-mag"), help: setting("adv-init-mag")) var initMagnitude: Double?
    @Option(name: .customLong("adv-max-norm"), help: setting("adv-max-norm")) var radius: Double?
    @Option(name: .customLong("adv-norm"), help: setting("adv-norm")) var norm: PerturbationNorm?
    @Flag(help: "Resample dropout masks on every pass (the paper's 'without reuse' ablation).") var noReuseDropoutMask = false
    @Option(name: .customLong("adv-begin-step"), help: setting("adv-begin-step")) var beginStep: Int?
    @Flag(name: .customLong("adv-clean-pass"), help: setting("adv-clean-pass")) var cleanPass = false
    @Option(name: .customLong("yopo-inner-steps"), help: setting("yopo-inner-steps")) var innerSteps: Int?
    @Option(help: setting("train-limit")) var trainLimit: Int?
    @Option(help: setting("eval-limit")) var evalLimit: Int?
    @Option(help: setting("on-nonfinite")) var onNonfinite: NonFiniteAction?
    @Option(help: setting("nonfinite-skip-limit")) var nonfiniteSkipLimit: Int?
    @Flag(help: setting("group-by-length")) var groupByLength = false
    @Option(help: setting("precision")) var precision: Precision?
    @Option(help: setting("random-streams")) var randomStreams: RandomStreams?

    /// defaults < preset < --config file < flags
    func resolve() throws -> RunConfiguration {
        var c = RunConfiguration()
        c.dataDir = "data"
        if let preset { try c.applyPreset(preset) }
        if let config {
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: config)) } catch {
                throw RunError("--config \(config): cannot read the file (\(error.localizedDescription))")
            }
            c = try c.merging(json: data, file: config)
        }
        return try c.merging(values: givenSettings(), source: RunConfiguration.commandLine)
    }

    /// The settings given on the command line, keyed by their flag names: each property that has a
    /// value is mapped through `RunConfiguration.keysByPropertyName`.
    func givenSettings() -> [String: Any] {
        var values: [String: Any] = [:]
        if noReuseDropoutMask { values["reuse-dropout-mask"] = false }
        for child in Mirror(reflecting: self).children {
            guard let label = child.label, let parsed = child.value as? ParsedSetting, let value = parsed.settingValue,
                let key = RunConfiguration.keysByPropertyName[String(label.dropFirst())]
            else { continue }  // "_name"
            values[key] = value
        }
        return values
    }
}

/// The parsed value of an option or flag as a JSON value (nil when not given).
protocol ParsedSetting { var settingValue: Any? { get } }

extension Option: ParsedSetting {
    var settingValue: Any? {
        let optional = Mirror(reflecting: wrappedValue)
        let value: Any
        if optional.displayStyle == .optional {
            guard let wrapped = optional.children.first?.value else { return nil }
            value = wrapped
        } else {
            value = wrappedValue
        }
        if let named = value as? any RawRepresentable { return named.rawValue }  // enums: their JSON spelling
        return value
    }
}

extension Flag: ParsedSetting where Value == Bool {
    var settingValue: Any? { wrappedValue ? true : nil }  // a flag only turns its setting on
}

/// `--help` text of a setting: its help, default and allowed values (`RunConfiguration.settings`).
func setting(_ key: String) -> ArgumentHelp { ArgumentHelp(RunConfiguration.helpText(key)) }

/// The allowed values of a setting, as `--help` and the errors state them.
func allowed(_ key: String) -> String { RunConfiguration.setting(key)?.allowed ?? "see --help" }

extension MethodName: ExpressibleByArgument {}
extension NonFiniteAction: ExpressibleByArgument {}
extension PerturbationNorm: ExpressibleByArgument {}
extension Precision: ExpressibleByArgument {}
extension RandomStreams: ExpressibleByArgument {}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a model on a task (resumes when --output-dir holds a checkpoint).",
        discussion: """
            Progress: a live bar on a terminal, JSON lines otherwise (or with --json). Ctrl-C saves a resumable \
            checkpoint and exits. The run folder holds run_config.json, metrics.jsonl, training_curves.svg, \
            best/ and final/ (Hugging Face layout) and checkpoint-<step>[-n]/ (exact resume state, published through the `latest` file).
            """)

    @OptionGroup var flags: TrainingFlags
    @Option(help: threadsHelp) var threads: Int?
    @Flag(help: "Print JSON lines even on a terminal.") var json = false

    func validate() throws { try validateThreads(threads) }

    /// Under `mpirun -np N` every rank runs this with the same flags; rank 0 reports and writes the run folder.
    func run() throws {
        let world = startWorld()
        configureThreads(threads)
        let configuration: RunConfiguration
        do {
            configuration = try flags.resolve()
            try configuration.validate()
        } catch { fail(error) }
        let reporter = ProgressReporter(json: json || isatty(STDOUT_FILENO) == 0)
        Interrupt.install()
        do {
            let summary = try FineTuningRun(configuration, collective: world).run(
                onEvent: world.isRoot ? reporter.handle : { _ in }, shouldStop: { Interrupt.requested })
            Distributed.finish()
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
