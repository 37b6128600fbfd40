// Exact resume through the CLI: 2 steps, Ctrl-C (SIGINT), then 2 more steps give the same weights, bit for
// bit, as 4 uninterrupted steps. Dropout 0.1 and FreeLB with a random δ0 (--adv-init-mag 0.5) make every step
// draw from both RNGs, so the resume must restore the data position, the optimizer moments, the LR schedule,
// the dropout generator and the perturbation generator.
import Foundation
import XCTest
import FreeLB
#if canImport(Glibc)
    import Glibc
#endif

final class ResumeTests: XCTestCase {
    func testTwoStepsThenSIGINTThenTwoMoreStepsEqualsFourUninterruptedStepsBitForBit() throws {
        let root = try temporaryDirectory(self)
        let model = root.appendingPathComponent("model"), data = root.appendingPathComponent("data")
        try TinyTask.writeModel(to: model)
        // 400 dev examples: the evaluation and checkpoint after step 2 (--eval-steps 2) give SIGINT a window of
        // tens of milliseconds in which it stops the run at step 2 rather than during step 3.
        try TinyTask.writeSST2(to: data, train: 48, dev: 400, test: 4)
        func arguments(_ output: URL, maxSteps: Int = 4) -> [String] {
            [
                "train", "--model", model.path, "--task", "sst2", "--data-dir", data.path, "--output-dir", output.path,
                "--max-seq-length", "16", "--batch-size", "8", "--max-steps", "\(maxSteps)", "--eval-steps", "2",
                "--learning-rate", "5e-3",
                "--warmup-steps", "1", "--method", "freelb", "--adv-steps", "2", "--adv-init-mag", "0.5", "--adv-lr", "0.1",
                "--threads", "1"
            ]
        }

        // A: 4 steps without interruption.
        let runA = root.appendingPathComponent("A")
        let a = try CLI.run(arguments(runA))
        XCTAssertEqual(a.status, 0, a.stderr)

        // B: the same command, SIGINT as soon as step 2 is reported (up to 3 attempts if the signal lands late).
        var runB = root.appendingPathComponent("B")
        var stoppedAt: Int?
        var secondsAtInterruption: Double?
        for attempt in 1...3 {
            runB = root.appendingPathComponent("B\(attempt)")
            let process = try CLI.start(arguments(runB))
            let step2 = process.waitForJSONLine { $0["event"] as? String == "step" && $0["step"] as? Int == 2 }
            XCTAssertNotNil(step2, "train never reported step 2")
            process.signal(SIGINT)
            let interrupted = process.finish()
            XCTAssertEqual(interrupted.status, 130, "Ctrl-C exits with 130 after saving:\n\(interrupted.stderr)")
            XCTAssertFalse(interrupted.signalled, "SIGINT is handled, not fatal")
            let done = interrupted.stdoutLines.compactMap(jsonObject).last { $0["event"] as? String == "done" }
            XCTAssertEqual(done?["interrupted"] as? Bool, true)
            XCTAssertFalse(
                FileManager.default.fileExists(atPath: runB.appendingPathComponent("summary.json").path),
                "an interrupted run must not look finished")
            let checkpoint = try XCTUnwrap(try Checkpointing.latest(in: runB), "the interrupted run left no checkpoint")
            let record = try JSONDecoder().decode(
                TrainerStateRecord.self,
                from: Data(contentsOf: checkpoint.appendingPathComponent("trainer_state.json")))
            stoppedAt = record.globalStep
            secondsAtInterruption = record.wallSeconds
            if record.globalStep == 2 { break }
            print("attempt \(attempt): SIGINT landed during step \(record.globalStep), retrying")
        }
        XCTAssertEqual(stoppedAt, 2, "SIGINT after the step-2 line must stop the run at step 2")

        // B resumed with the same command: 2 more steps.
        let resumed = try CLI.run(arguments(runB))
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let events = resumed.stdoutLines.compactMap(jsonObject)
        XCTAssertEqual(events.first?["resumed_from_step"] as? Int, 2)
        XCTAssertEqual(events.filter { $0["event"] as? String == "step" }.compactMap { $0["step"] as? Int }, [3, 4])

        // Same parameter names and shapes, every float equal bit for bit: the final model…
        XCTAssertEqual(
            try differingTensors(
                runA.appendingPathComponent("final/model.safetensors"),
                runB.appendingPathComponent("final/model.safetensors")), [])
        // …the optimizer moments and the RNG states of the last checkpoint…
        let checkpointA = try XCTUnwrap(try Checkpointing.latest(in: runA)),
            checkpointB = try XCTUnwrap(try Checkpointing.latest(in: runB))
        XCTAssertEqual(
            try differingTensors(
                checkpointA.appendingPathComponent("optimizer.safetensors"),
                checkpointB.appendingPathComponent("optimizer.safetensors")), [])
        let stateA = try JSONDecoder().decode(
            TrainerStateRecord.self, from: Data(contentsOf: checkpointA.appendingPathComponent("trainer_state.json")))
        let stateB = try JSONDecoder().decode(
            TrainerStateRecord.self, from: Data(contentsOf: checkpointB.appendingPathComponent("trainer_state.json")))
        XCTAssertEqual(stateA.globalStep, 4)
        XCTAssertEqual(stateA.optimizerScalars, stateB.optimizerScalars)
        XCTAssertEqual(stateA.dropoutGenerator, stateB.dropoutGenerator)
        XCTAssertEqual(stateA.perturbationGenerator, stateB.perturbationGenerator)
        // …and the losses of steps 3 and 4 as printed.
        let lossesA = a.stdoutLines.compactMap(jsonObject).filter {
            $0["event"] as? String == "step" && ($0["step"] as? Int ?? 0) > 2
        }
        .compactMap { $0["loss"] as? Double }
        let lossesB = events.filter { $0["event"] as? String == "step" }.compactMap { $0["loss"] as? Double }
        XCTAssertEqual(lossesA, lossesB)
        // The comparison is not vacuous: 4 steps moved the weights away from the initial model.
        XCTAssertFalse(
            try differingTensors(
                model.appendingPathComponent("model.safetensors"),
                runA.appendingPathComponent("final/model.safetensors")
            ).isEmpty)

        // B's wall time adds the interrupted process's time, which its checkpoint recorded.
        func summary(_ run: URL) throws -> RunSummary {
            try JSONDecoder().decode(RunSummary.self, from: Data(contentsOf: run.appendingPathComponent("summary.json")))
        }
        let summaryA = try summary(runA), summaryB = try summary(runB)
        let before = try XCTUnwrap(secondsAtInterruption, "the checkpoint records the time spent so far")
        XCTAssertGreaterThan(before, 0)
        XCTAssertGreaterThan(summaryB.wallSeconds, before)
        XCTAssertEqual(summaryB.resumedFromStep, 2)
        XCTAssertNil(summaryB.wallSecondsIncomplete)
        XCTAssertNil(summaryA.resumedFromStep)

        // A checkpoint written before the time was recorded: A trained on to step 5 says its time is incomplete,
        // and the experiment report leaves it out of the wall-time medians.
        let stateFile = checkpointA.appendingPathComponent("trainer_state.json")
        var oldState = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: stateFile)) as? [String: Any])
        XCTAssertNotNil(oldState.removeValue(forKey: "wallSeconds"))
        try JSONSerialization.data(withJSONObject: oldState).write(to: stateFile)
        let longer = try CLI.run(arguments(runA, maxSteps: 5))
        XCTAssertEqual(longer.status, 0, longer.stderr)
        let summaryLonger = try summary(runA)
        XCTAssertEqual(summaryLonger.resumedFromStep, 4)
        XCTAssertEqual(summaryLonger.wallSecondsIncomplete, true)
        let report = ExperimentReport(
            cells: [
                ExperimentCell(task: "sst2", method: "freelb", seed: 1, summary: summaryLonger),
                ExperimentCell(task: "sst2", method: "freelb", seed: 2, summary: summaryB)
            ],
            tasks: ["sst2"], methods: ["freelb"], seeds: [1, 2])
        XCTAssertEqual(report.minutes(task: "sst2", method: "freelb"), [summaryB.wallSeconds / 60])
        XCTAssertTrue(report.markdown().contains("Left out: sst2/freelb/seed-1"), report.markdown())
    }
}
