// Data-parallel training and distributed grids under Open MPI's mpirun, on the tiny generated BERT: -np 2
// trains like one process on the same global batch, a rank killed with SIGKILL stops the job with an error
// within seconds and leaves a checkpoint that a rerun resumes, and `experiment` trains every cell once.
// Skipped where mpirun is not installed (scripts/setup.sh installs Open MPI).
import Foundation
import XCTest
import FreeLB
import FreeLBSafetensors
#if canImport(Glibc)
    import Glibc
#endif

final class MPITests: XCTestCase {
    /// mpirun, or a skip when Open MPI is absent.
    func mpirun() throws -> URL {
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(folder)).appendingPathComponent("mpirun")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw XCTSkip("mpirun not found (install Open MPI: scripts/setup.sh)")
    }

    /// `mpirun -np ranks freelb arguments…`, started; root needs --allow-run-as-root, and 2 cores may hold fewer
    /// slots than ranks (--oversubscribe).
    func startMPI(_ ranks: Int, _ arguments: [String]) throws -> RunningCLI {
        let launcher = try mpirun()
        var options = ["-np", "\(ranks)", "--oversubscribe"]
        if getuid() == 0 { options.append("--allow-run-as-root") }
        return try RunningCLI(executable: launcher, arguments: options + [try CLI.executable().path] + arguments, directory: nil)
    }

    func runMPI(_ ranks: Int, _ arguments: [String]) throws -> CLIResult { try startMPI(ranks, arguments).finish() }

    struct Fixture {
        var root: URL
        var model: URL
        var data: URL
    }

    func fixture(train: Int) throws -> Fixture {
        let root = try temporaryDirectory(self)
        let fixture = Fixture(root: root, model: root.appendingPathComponent("model"), data: root.appendingPathComponent("data"))
        try TinyTask.writeModel(to: fixture.model)
        try TinyTask.writeSST2(to: fixture.data, train: train, dev: 24, test: 4)
        return fixture
    }

    /// ‖θ_a − θ_b‖ / ‖θ_a‖ over the tensors of two safetensors files (same names and shapes), and the largest
    /// such ratio of one tensor. The attention key biases are left out: softmax is invariant to them, so their
    /// gradient is zero up to rounding, and AdamW normalises that rounding noise into steps of ±lr, which any
    /// other summation order (here the allreduce) draws differently.
    func relativeDifference(_ a: URL, _ b: URL) throws -> (global: Double, worstTensor: Double) {
        let x = try SafetensorsFile(url: a), y = try SafetensorsFile(url: b)
        XCTAssertEqual(x.names.sorted(), y.names.sorted())
        var difference = 0.0, norm = 0.0, worst = 0.0
        for name in x.names where !name.hasSuffix("attention.self.key.bias") {
            let p = try x.tensor(name).values, q = try y.tensor(name).values
            XCTAssertEqual(p.count, q.count, name)
            var d = 0.0, n = 0.0
            for (u, v) in zip(p, q) {
                d += Double(u - v) * Double(u - v)
                n += Double(u) * Double(u)
            }
            (difference, norm) = (difference + d, norm + n)
            if n > 0 { worst = max(worst, (d / n).squareRoot()) }
        }
        return ((difference / norm).squareRoot(), worst)
    }

    func trainArguments(_ f: Fixture, _ output: URL, _ extra: [String]) -> [String] {
        [
            "train", "--model", f.model.path, "--task", "sst2", "--data-dir", f.data.path, "--output-dir", output.path,
            "--max-seq-length", "16", "--learning-rate", "5e-3", "--warmup-steps", "1", "--threads", "1",
            "--random-streams", "v2", "--json"
        ] + extra
    }

    /// 10 FreeLB-3 steps (random δ0, dropout 0.1) of global batch 7 over 45 examples: slices of 4 and 3, and the
    /// last batch of each epoch has 3 examples (2 and 1). Then FreeAT-2 (two allreduces per batch) with
    /// accumulation over micro-batches of 3 down to 1, so rank 1 sometimes holds no example.
    func testTwoRanksTrainLikeOneProcessOnTheSameGlobalBatch() throws {
        let f = try fixture(train: 45)
        let settings: [(String, [String])] = [
            (
                "freelb",
                [
                    "--method", "freelb", "--adv-steps", "3", "--adv-init-mag", "0.5", "--adv-lr", "0.1", "--adv-max-norm", "1",
                    "--batch-size", "7", "--max-steps", "10", "--eval-steps", "5"
                ]
            ),
            (
                "freeat-accumulated",
                [
                    "--method", "freeat", "--adv-steps", "2", "--adv-init-mag", "0.5", "--adv-lr", "0.1", "--batch-size", "3",
                    "--gradient-accumulation-steps", "2", "--train-limit", "13", "--max-steps", "6"
                ]
            )
        ]
        for (name, extra) in settings {
            let one = f.root.appendingPathComponent("\(name)-np1"), two = f.root.appendingPathComponent("\(name)-np2")
            let single = try CLI.run(trainArguments(f, one, extra))
            XCTAssertEqual(single.status, 0, single.stderr)
            let parallel = try runMPI(2, trainArguments(f, two, extra))
            XCTAssertEqual(parallel.status, 0, parallel.stderr)
            let difference = try relativeDifference(
                one.appendingPathComponent("final/model.safetensors"), two.appendingPathComponent("final/model.safetensors"))
            XCTAssertLessThan(difference.global, 1e-5, "\(name): -np 2 vs one process, ‖Δθ‖/‖θ‖")
            XCTAssertLessThan(difference.worstTensor, 1e-5, "\(name): -np 2 vs one process, the worst tensor")
            // Rank 0 alone reports: one line per step, with the global batch's loss.
            let steps = { (result: CLIResult) in
                result.stdoutLines.compactMap(jsonObject).filter { $0["event"] as? String == "step" }
            }
            XCTAssertEqual(steps(parallel).count, steps(single).count, parallel.stdout)
            for (a, b) in zip(steps(single), steps(parallel)) {
                let (x, y) = (a["loss"] as? Double ?? .nan, b["loss"] as? Double ?? .nan)
                XCTAssertEqual(x, y, accuracy: 1e-4 * max(1, abs(x)), "\(name): loss of step \(a["step"] ?? "?")")
            }
            let metrics = try String(contentsOf: two.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            XCTAssertTrue(metrics.contains("\"allreduce_seconds\""), "metrics.jsonl records the time in the allreduce")
            let config = try readJSONObject(two.appendingPathComponent("run_config.json"))
            XCTAssertEqual(config["random-streams"] as? String, "v2")
        }
    }

    /// A checkpoint holds nothing per rank: 4 steps with 2 ranks then 4 more in one process (and the other way
    /// round) end where 4 + 4 steps in one process end, to rounding.
    func testARunSavedWithTwoRanksResumesInOneProcessAndTheOtherWayRound() throws {
        let f = try fixture(train: 64)
        let extra = [
            "--method", "freelb", "--adv-steps", "2", "--adv-init-mag", "0.5", "--adv-lr", "0.1", "--batch-size", "8",
            "--eval-steps", "4"
        ]
        func train(_ ranks: Int, _ output: URL, steps: Int) throws {
            let arguments = trainArguments(f, output, extra + ["--max-steps", "\(steps)"])
            let result = ranks == 1 ? try CLI.run(arguments) : try runMPI(ranks, arguments)
            XCTAssertEqual(result.status, 0, result.stderr)
        }
        var finals: [URL] = []
        for (first, second) in [(1, 1), (2, 1), (1, 2)] {
            let output = f.root.appendingPathComponent("np\(first)-then-np\(second)")
            try train(first, output, steps: 4)
            try train(second, output, steps: 8)
            finals.append(output.appendingPathComponent("final/model.safetensors"))
        }
        for other in finals.dropFirst() {
            let difference = try relativeDifference(finals[0], other)
            XCTAssertLessThan(difference.global, 1e-5, other.path)
            XCTAssertLessThan(difference.worstTensor, 1e-5, other.path)
        }
    }

    /// The first child of `parent` whose environment says it is MPI rank `rank` (nil: none yet).
    func rankProcess(_ rank: Int, of parent: pid_t) -> pid_t? {
        let proc = URL(fileURLWithPath: "/proc")
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry),
                let stat = try? String(contentsOf: proc.appendingPathComponent("\(entry)/stat"), encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, pid_t(fields[1]) == parent,
                let environment = try? Data(contentsOf: proc.appendingPathComponent("\(entry)/environ"))
            else { continue }
            let variables = environment.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if variables.contains("OMPI_COMM_WORLD_RANK=\(rank)") { return pid }
        }
        return nil
    }

    func testKilledRankStopsTheJobWithinSecondsAndTheCheckpointResumes() throws {
        let f = try fixture(train: 400)
        let output = f.root.appendingPathComponent("run")
        let arguments = trainArguments(
            f, output, ["--method", "freelb", "--adv-steps", "2", "--batch-size", "8", "--max-steps", "400", "--eval-steps", "2"])
        let job = try startMPI(2, arguments)
        let step = job.waitForJSONLine { ($0["step"] as? Int ?? 0) >= 5 && $0["event"] as? String == "step" }
        XCTAssertNotNil(step, "the job never reached step 5")
        let victim = try XCTUnwrap(rankProcess(1, of: job.pid), "rank 1 not found among mpirun's children")
        let killed = Date()
        kill(victim, SIGKILL)
        let result = job.finish()
        let seconds = Date().timeIntervalSince(killed)
        XCTAssertLessThan(seconds, 15, "the job must stop within seconds of losing a rank:\n\(result.stderr)")
        XCTAssertNotEqual(result.status, 0, "a job that lost a rank must fail")
        XCTAssertTrue(
            result.stderr.contains("rank 1") && result.stderr.contains("signal 9"),
            "mpirun names the rank that died and why:\n\(result.stderr)")
        // The last checkpoint is complete, and the same command resumes from it and finishes.
        let checkpoint = try XCTUnwrap(try Checkpointing.latest(in: output), "no checkpoint was published")
        let record = try JSONDecoder().decode(
            TrainerStateRecord.self, from: Data(contentsOf: checkpoint.appendingPathComponent("trainer_state.json")))
        XCTAssertGreaterThanOrEqual(record.globalStep, 2)
        var resumedArguments = arguments
        resumedArguments[resumedArguments.firstIndex(of: "400")!] = "\(record.globalStep + 2)"
        let resumed = try runMPI(2, resumedArguments)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let start = resumed.stdoutLines.compactMap(jsonObject).first { $0["event"] as? String == "start" }
        XCTAssertEqual(start?["resumed_from_step"] as? Int, record.globalStep, resumed.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: output.appendingPathComponent("summary.json").path))
    }

    func testExperimentUnderMPIRunsEveryCellOnceAndReportsLikeOneProcess() throws {
        let f = try fixture(train: 32)
        func arguments(_ output: URL) -> [String] {
            [
                "experiment", "--tasks", "sst2", "--methods", "vanilla,freelb", "--seeds", "1,2", "--model", f.model.path,
                "--data-dir", f.data.path, "--output-dir", output.path, "--max-seq-length", "16", "--batch-size", "8",
                "--max-steps", "3", "--learning-rate", "5e-3", "--adv-init-mag", "0.5", "--adv-steps", "2", "--threads", "1"
            ]
        }
        let distributed = f.root.appendingPathComponent("grid-np2"), single = f.root.appendingPathComponent("grid-np1")
        let grid = try runMPI(2, arguments(distributed))
        XCTAssertEqual(grid.status, 0, grid.stderr)
        let started = grid.stderrLines.compactMap(jsonObject).filter { $0["event"] as? String == "cell_start" }
        let names = started.map { "\($0["method"] ?? "")/\($0["seed"] ?? "")" }.sorted()
        XCTAssertEqual(names, ["freelb/1", "freelb/2", "vanilla/1", "vanilla/2"], "every cell trained once:\n\(grid.stderr)")
        XCTAssertEqual(Set(started.compactMap { $0["rank"] as? Int }), [0, 1], "both ranks took cells")
        let one = try CLI.run(arguments(single))
        XCTAssertEqual(one.status, 0, one.stderr)
        let a = try JSONDecoder().decode(
            ExperimentReport.self, from: Data(contentsOf: single.appendingPathComponent("results.json")))
        let b = try JSONDecoder().decode(
            ExperimentReport.self, from: Data(contentsOf: distributed.appendingPathComponent("results.json")))
        XCTAssertEqual(a.cells.map { "\($0.task)/\($0.method)/\($0.seed)" }, b.cells.map { "\($0.task)/\($0.method)/\($0.seed)" })
        XCTAssertEqual(a.cells.map(\.summary.bestMetric), b.cells.map(\.summary.bestMetric))
        XCTAssertEqual(a.cells.map(\.summary.finalMetrics), b.cells.map(\.summary.finalMetrics))
        // The score table (the report's first block) is the same; only wall times differ.
        let table = { (url: URL) in
            try String(contentsOf: url.appendingPathComponent("results.md"), encoding: .utf8).components(separatedBy: "\n\n")[0]
        }
        XCTAssertEqual(try table(single), try table(distributed))
        // Rerun: every cell is finished, nothing trains again.
        let rerun = try runMPI(2, arguments(distributed))
        XCTAssertEqual(rerun.status, 0, rerun.stderr)
        XCTAssertFalse(rerun.stderr.contains("cell_start"), rerun.stderr)
    }
}
