// `freelb`: fine-tune BERT/RoBERTa/ALBERT with FreeLB and its baselines, evaluate, predict,
// measure robustness and run experiment grids.
import ArgumentParser
import Foundation
import FreeLB
import FreeLBTensor

@main
struct FreeLBCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "freelb",
        abstract: "Adversarial fine-tuning of transformer encoders (FreeLB, PGD, FreeAT, YOPO) on GLUE-style data.",
        subcommands: [Train.self, Evaluate.self, Predict.self, Robustness.self, Experiment.self, Download.self],
        defaultSubcommand: nil)
}

/// Sets kernel and BLAS threads from --threads or FREELB_NUM_THREADS.
func configureThreads(_ threads: Int?) {
    TensorThreads.setCount(threads ?? TensorThreads.defaultCount)
}

let threadsAllowed = "an integer in 1...1024"

func validateThreads(_ threads: Int?) throws {
    if let threads, !(1...1024).contains(threads) { throw ValidationError("--threads \(threads): must be \(threadsAllowed)") }
}

/// Checks `value` of `--flag` with the check of the setting `key` (`RunConfiguration.settings`), so commands
/// other than `train` share its allowed values; reported when parsed.
func checkFlag(_ flag: String, _ value: Any, as key: String? = nil) throws {
    let key = key ?? flag
    let valid =
        (try? RunConfiguration().merging(values: [key: value], source: RunConfiguration.commandLine))
        .map { $0.allows(key) } ?? false
    if !valid { throw ValidationError("--\(flag) \(value): must be \(allowed(key))") }
}

/// Prints an error and exits non-zero, without a stack trace.
func fail(_ error: Error) -> Never {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    Foundation.exit(1)
}
