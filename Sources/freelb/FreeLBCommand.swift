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

/// A flag outside its allowed values (`RunConfiguration.settings`), reported when parsed.
func checkFlag(_ flag: String, _ value: Any, _ ok: Bool, allowedKey: String? = nil) throws {
    if !ok { throw ValidationError("--\(flag) \(value): must be \(allowed(allowedKey ?? flag))") }
}

/// Prints an error and exits non-zero, without a stack trace.
func fail(_ error: Error) -> Never {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    Foundation.exit(1)
}
