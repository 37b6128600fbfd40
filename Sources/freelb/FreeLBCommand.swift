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

/// Sets kernel and BLAS threads from --threads, else FREELB_NUM_THREADS, else (under mpirun) the cores of this
/// rank, else every core.
func configureThreads(_ threads: Int?) {
    let fromEnvironment = ProcessInfo.processInfo.environment["FREELB_NUM_THREADS"] != nil
    TensorThreads.setCount(threads ?? (fromEnvironment ? nil : Distributed.coresPerRank) ?? TensorThreads.defaultCount)
}

let threadsHelp = ArgumentHelp(
    "Kernel and BLAS threads. (default: FREELB_NUM_THREADS, else under mpirun the cores of this rank, else all cores) "
        + "Allowed: \(threadsAllowed).")

/// The job this process belongs to (Open MPI under mpirun, else one process); an error ends the command.
func startWorld() -> Collective {
    do { return try Distributed.world() } catch { fail(error) }
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

/// Prints an error and exits non-zero, without a stack trace. Under mpirun it names the rank and ends every
/// rank of the job (MPI_Abort), so that none waits forever for this one.
func fail(_ error: Error) -> Never {
    let world = try? Distributed.world()
    let rank = (world?.size ?? 1) > 1 ? "rank \(world!.rank): " : ""
    FileHandle.standardError.write(Data("error: \(rank)\(error)\n".utf8))
    Distributed.abortJob(code: 1)
    Foundation.exit(1)
}
