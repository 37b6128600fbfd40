import ArgumentParser
import Foundation
import FreeLB
import FreeLBData

struct Experiment: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a grid of tasks × methods × seeds and write a Table-1-style markdown table of median (std) dev scores.",
        discussion: """
            Each cell is a `train` run in OUTPUT/<task>/<method>/seed-<seed>/ with the shared flags. A finished cell \
            (summary.json present) is skipped and a partial one resumes, so an interrupted grid picks up where it stopped. \
            Methods: vanilla, freelb, pgd, freeat, yopo, random, and freelb-noreuse (FreeLB without dropout-mask reuse). \
            The score of a run is its best dev value of the task's main metric.
            """)

    @Option(help: "Comma-separated tasks, e.g. rte,mrpc.") var tasks: String
    @Option(help: "Comma-separated methods, e.g. vanilla,pgd,freeat,freelb,freelb-noreuse.") var methods: String
    @Option(help: "Comma-separated seeds, e.g. 1,2,3.") var seeds: String
    @OptionGroup var flags: TrainingFlags
    @Option(help: "Kernel and BLAS threads. (default: FREELB_NUM_THREADS or all cores) Allowed: \(threadsAllowed).") var threads:
        Int?
    @Flag(help: "Train nothing: write the table from the cells that have finished (a grid still running elsewhere, say).")
    var reportOnly = false

    func validate() throws { try validateThreads(threads) }

    func run() throws {
        configureThreads(threads)
        do {
            guard let root = flags.outputDir else { throw RunError("--output-dir is required") }
            let taskList = tasks.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            let methodList = methods.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            let seedList = try seeds.split(separator: ",").map { text -> UInt64 in
                guard let v = UInt64(text.trimmingCharacters(in: .whitespaces)) else {
                    throw RunError("--seeds: '\(text)' is not a seed")
                }
                return v
            }
            // Every name and setting is checked before the first folder is created.
            for task in taskList { _ = try TaskRegistry.task(named: task) }
            for method in methodList where method != "freelb-noreuse" && MethodName(rawValue: method) == nil {
                throw RunError(
                    "--methods: unknown method '\(method)' (vanilla, freelb, pgd, freeat, yopo, random, freelb-noreuse)")
            }
            if taskList.isEmpty || methodList.isEmpty || seedList.isEmpty {
                throw RunError("--tasks, --methods and --seeds need at least one value each")
            }
            var probe = try flags.resolve()
            probe.task = taskList[0]
            probe.outputDir = root
            try probe.validate()
            Interrupt.install()
            var cells: [ExperimentCell] = []
            for task in taskList {
                for method in methodList {
                    for seed in seedList {
                        var config = try flags.resolve()
                        config.task = task
                        config.seed = seed
                        switch method {
                        case "freelb-noreuse":
                            config.method = .freelb
                            config.reuseDropoutMask = false
                        default:
                            guard let name = MethodName(rawValue: method) else {
                                throw RunError("--methods: unknown method '\(method)'")
                            }
                            config.method = name
                        }
                        config.outputDir =
                            URL(fileURLWithPath: root).appendingPathComponent("\(task)/\(method)/seed-\(seed)").path
                        let summaryFile = URL(fileURLWithPath: config.outputDir).appendingPathComponent("summary.json")
                        let summary: RunSummary
                        if FileManager.default.fileExists(atPath: summaryFile.path) {
                            let done: RunSummary
                            do { done = try JSONDecoder().decode(RunSummary.self, from: Data(contentsOf: summaryFile)) } catch {
                                throw RunError(
                                    "\(summaryFile.path): a finished cell's summary cannot be read (\(error.localizedDescription)); "
                                        + "remove it to train the cell again")
                            }
                            // A finished cell only counts when it was trained with these settings.
                            let stored = try? String(
                                contentsOf: summaryFile.deletingLastPathComponent().appendingPathComponent("run_config.json"),
                                encoding: .utf8)
                            try FineTuningRun.checkResumable(
                                stored: stored, current: config, folder: summaryFile.deletingLastPathComponent())
                            summary = done
                            emit(["event": "cell_done", "task": task, "method": method, "seed": seed, "cached": true])
                        } else if reportOnly {
                            emit(["event": "cell_missing", "task": task, "method": method, "seed": seed])
                            continue
                        } else {
                            emit(["event": "cell_start", "task": task, "method": method, "seed": seed])
                            summary = try FineTuningRun(config).run(shouldStop: { Interrupt.requested })
                            if summary.interrupted { throw ExitCode(130) }
                            emit([
                                "event": "cell_done", "task": task, "method": method, "seed": seed, "cached": false,
                                "score": summary.bestMetric ?? .nan, "wall_seconds": summary.wallSeconds
                            ])
                        }
                        cells.append(ExperimentCell(task: task, method: method, seed: seed, summary: summary))
                    }
                }
            }
            let report = ExperimentReport(cells: cells, tasks: taskList, methods: methodList, seeds: seedList)
            let folder = URL(fileURLWithPath: root)
            try report.writeJSON(to: folder.appendingPathComponent("results.json"))
            try Data(report.markdown().utf8).write(to: folder.appendingPathComponent("results.md"), options: .atomic)
            try report.writePlots(to: folder)
            print(report.markdown())
        } catch let code as ExitCode { throw code } catch { fail(error) }
    }

    func emit(_ object: [String: Any]) { writeJSONLine(object, to: .standardError) }
}
