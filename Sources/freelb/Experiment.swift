import ArgumentParser
import Foundation
import FreeLB
import FreeLBData
import FreeLBTensor

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
    @Option(help: threadsHelp) var threads: Int?
    @Flag(
        help: ArgumentHelp(
            "Train nothing: write the table from the cells that have finished (a grid still running elsewhere, say). "
                + "Cells trained in another --precision count, and the table says which precision each method used."))
    var reportOnly = false

    func validate() throws { try validateThreads(threads) }

    /// One cell of the grid: its names and its run's configuration.
    struct Cell {
        var task: String
        var method: String
        var seed: UInt64
        var configuration: RunConfiguration
        var summaryFile: URL { URL(fileURLWithPath: configuration.outputDir).appendingPathComponent("summary.json") }
    }

    /// Under `mpirun -np N`, whole cells go to the ranks through a dynamic queue (each trains its cells in one
    /// process with its own threads); rank 0 writes the report, the same as one process's.
    func run() throws {
        let world = startWorld()
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
            var cells: [Cell] = []
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
                        cells.append(Cell(task: task, method: method, seed: seed, configuration: config))
                    }
                }
            }
            var summaries: [Int: RunSummary] = [:]
            var precisions: [Int: Precision] = [:]
            var toTrain: [Int] = []
            for (index, cell) in cells.enumerated() {
                if FileManager.default.fileExists(atPath: cell.summaryFile.path) {
                    (summaries[index], precisions[index]) = try finishedSummary(cell)
                    if world.isRoot {
                        emit(["event": "cell_done", "task": cell.task, "method": cell.method, "seed": cell.seed, "cached": true])
                    }
                } else if reportOnly {
                    if world.isRoot {
                        emit(["event": "cell_missing", "task": cell.task, "method": cell.method, "seed": cell.seed])
                    }
                } else if world.size > 1 {
                    toTrain.append(index)
                } else {  // one process: in grid order, as before
                    summaries[index] = try train(cell, world: world)
                }
            }
            try distributeWork(count: toTrain.count, collective: world) { item in
                summaries[toTrain[item]] = try train(cells[toTrain[item]], world: world)
            }
            guard world.isRoot else {
                Distributed.finish()
                return
            }
            // Cells trained by the other ranks: their summary.json (the run folders are shared).
            for index in toTrain where summaries[index] == nil {
                (summaries[index], precisions[index]) = try finishedSummary(cells[index])
            }
            let done = cells.indices.compactMap { index in
                summaries[index].map {
                    ExperimentCell(
                        task: cells[index].task, method: cells[index].method, seed: cells[index].seed, summary: $0,
                        precision: (precisions[index] ?? cells[index].configuration.precision).rawValue)
                }
            }
            let report = ExperimentReport(cells: done, tasks: taskList, methods: methodList, seeds: seedList)
            let folder = URL(fileURLWithPath: root)
            try report.writeJSON(to: folder.appendingPathComponent("results.json"))
            try Data(report.markdown().utf8).write(to: folder.appendingPathComponent("results.md"), options: .atomic)
            try report.writePlots(to: folder)
            print(report.markdown())
            Distributed.finish()
        } catch let code as ExitCode { throw code } catch { fail(error) }
    }

    /// A finished cell's summary and precision; it only counts when it was trained with these settings. A
    /// report (`--report-only`) also takes cells trained in another precision (its table says which) and
    /// vanilla cells trained with other perturbation settings, which vanilla does not use.
    func finishedSummary(_ cell: Cell) throws -> (RunSummary, Precision) {
        let summaryFile = cell.summaryFile
        let done: RunSummary
        do { done = try JSONDecoder().decode(RunSummary.self, from: Data(contentsOf: summaryFile)) } catch {
            throw RunError(
                "\(summaryFile.path): a finished cell's summary cannot be read (\(error.localizedDescription)); "
                    + "remove it to train the cell again")
        }
        let stored = try? String(
            contentsOf: summaryFile.deletingLastPathComponent().appendingPathComponent("run_config.json"), encoding: .utf8)
        let ignored = reportOnly ? cell.configuration.unusedKeys.union(["precision"]) : []
        try FineTuningRun.checkResumable(
            stored: stored, current: cell.configuration, folder: summaryFile.deletingLastPathComponent(), ignoring: ignored)
        let storedPrecision = stored.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .flatMap { $0["precision"] as? String }.flatMap(Precision.init(rawValue:))
        return (done, storedPrecision ?? .fp32)
    }

    /// Trains one cell in this process (resuming its folder); an interruption saves it and exits 130.
    func train(_ cell: Cell, world: Collective) throws -> RunSummary {
        var where_: [String: Any] = [:]
        if world.size > 1 { where_["rank"] = world.rank }
        emit(["event": "cell_start", "task": cell.task, "method": cell.method, "seed": cell.seed].merging(where_) { a, _ in a })
        let summary = try FineTuningRun(cell.configuration).run(shouldStop: { Interrupt.requested })
        if summary.interrupted { throw ExitCode(130) }
        emit(
            [
                "event": "cell_done", "task": cell.task, "method": cell.method, "seed": cell.seed, "cached": false,
                "score": summary.bestMetric ?? .nan, "wall_seconds": summary.wallSeconds
            ].merging(where_) { a, _ in a })
        return summary
    }

    func emit(_ object: [String: Any]) { writeJSONLine(object, to: .standardError) }
}
