// SIGKILL at many points of a run that checkpoints after every step: whatever `latest` names must be a
// complete, loadable checkpoint (never a `.partial` or half-deleted folder), and the killed run resumes to
// the same final weights as a run that was never killed.
import Foundation
import XCTest
import FreeLB
import FreeLBModels
import FreeLBSafetensors
import FreeLBNN
#if canImport(Glibc)
    import Glibc
#endif

final class CrashSafetyTests: XCTestCase {
    static let steps = 8
    static let killPoints = 10

    func testSIGKILLAtTenPointsNeverLeavesAPublishedCheckpointIncompleteAndTheRunResumesToTheSameWeights() throws {
        let root = try temporaryDirectory(self)
        let model = root.appendingPathComponent("model"), data = root.appendingPathComponent("data")
        try TinyTask.writeModel(to: model)
        try TinyTask.writeSST2(to: data, train: 48, dev: 32, test: 4)
        let parameterNames = try SafetensorsFile(url: model.appendingPathComponent("model.safetensors")).names
        func arguments(_ output: URL) -> [String] {
            // --eval-steps 1: evaluate, maybe replace best/, and write a checkpoint after every step.
            [
                "train", "--model", model.path, "--task", "sst2", "--data-dir", data.path, "--output-dir", output.path,
                "--max-seq-length", "16", "--batch-size", "8", "--max-steps", "\(Self.steps)", "--eval-steps", "1",
                "--learning-rate", "5e-3", "--method", "freelb", "--adv-steps", "2", "--adv-init-mag", "0.5", "--threads", "1"
            ]
        }

        // Reference: never killed. Its timing places the kill points.
        let reference = root.appendingPathComponent("reference")
        let referenceProcess = try CLI.start(arguments(reference))
        XCTAssertNotNil(referenceProcess.waitForJSONLine { $0["event"] as? String == "start" })
        let started = Date()
        let referenceResult = referenceProcess.finish()
        XCTAssertEqual(referenceResult.status, 0, referenceResult.stderr)
        let training = Date().timeIntervalSince(started)

        // Ten victims: the same command in a fresh folder, SIGKILLed right after the "start" line (kill point 0)
        // or after the "step k" line plus 0–3 quarters of a step, k = 1, 2, 3, 3, 4, 5, 5, 6, 7 (out of 8 steps),
        // so the kills fall at different phases of steps, evaluations, best/ replacement and checkpoint writes.
        // Each victim is then run again and must resume to the reference's weights.
        let perStep = training / Double(Self.steps)
        var killed = 0
        var publishedSteps: [Int] = []
        for i in 0..<Self.killPoints {
            let victim = root.appendingPathComponent("victim-\(i)")
            let process = try CLI.start(arguments(victim))
            if i == 0 {
                XCTAssertNotNil(process.waitForJSONLine { $0["event"] as? String == "start" }, "kill point 0: no start line")
            } else {
                let k = 1 + i * 7 / Self.killPoints
                XCTAssertNotNil(
                    process.waitForJSONLine { $0["event"] as? String == "step" && $0["step"] as? Int == k },
                    "kill point \(i): no step \(k) line")
                usleep(useconds_t(Double(i % 4) / 4 * perStep * 1e6))
            }
            process.signal(SIGKILL)
            let result = process.finish()
            if result.signalled && result.status == SIGKILL {
                killed += 1
            } else {
                XCTAssertEqual(result.status, 0, "kill point \(i): the run failed instead of finishing:\n\(result.stderr)")
            }
            try assertPublishedCheckpointIsComplete(in: victim, parameterNames: parameterNames, killPoint: i)
            if let latest = try Checkpointing.latest(in: victim) {
                let record = try JSONDecoder().decode(
                    TrainerStateRecord.self,
                    from: Data(contentsOf: latest.appendingPathComponent("trainer_state.json")))
                publishedSteps.append(record.globalStep)
            } else {
                publishedSteps.append(0)
            }

            // The killed run resumes and finishes with the reference's weights, bit for bit.
            let resumed = try CLI.run(arguments(victim))
            XCTAssertEqual(resumed.status, 0, "kill point \(i): the rerun failed:\n\(resumed.stderr)")
            let done = resumed.stdoutLines.compactMap(jsonObject).last
            XCTAssertEqual(done?["event"] as? String, "done", "kill point \(i)")
            XCTAssertEqual(done?["steps"] as? Int, Self.steps, "kill point \(i)")
            for name in ["final", "best"] {
                XCTAssertEqual(
                    try differingTensors(
                        reference.appendingPathComponent("\(name)/model.safetensors"),
                        victim.appendingPathComponent("\(name)/model.safetensors")), [],
                    "kill point \(i): \(name)/ differs from the uninterrupted run")
            }
            // metrics.jsonl holds each step once, as in the uninterrupted run (lines past the checkpoint are dropped).
            XCTAssertEqual(try loggedSteps(victim), try loggedSteps(reference), "kill point \(i): metrics.jsonl")
        }
        print(
            "CrashSafetyTests: training \(String(format: "%.3f", training)) s; \(killed)/\(Self.killPoints) kills landed; published step after each kill: \(publishedSteps)"
        )
        XCTAssertGreaterThanOrEqual(killed, Self.killPoints - 2, "the kill points must hit a running process")
    }

    /// (type, step, loss) of every metrics.jsonl line.
    func loggedSteps(_ run: URL) throws -> [String] {
        try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n").map { line in
            let object = try XCTUnwrap(jsonObject(String(line)))
            return "\(object["type"] ?? "") \(object["step"] ?? "") \(object["loss"] ?? "")"
        }
    }

    /// `latest` (if any) names a complete checkpoint folder that is not a `.partial`; best/ and final/, when
    /// present, are complete models. A `.partial` folder may be left over but is never referenced.
    func assertPublishedCheckpointIsComplete(
        in run: URL, parameterNames: [String], killPoint: Int,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let fm = FileManager.default
        let context = "kill point \(killPoint)"
        let latestFile = run.appendingPathComponent("latest")
        if fm.fileExists(atPath: latestFile.path) {
            let name = try String(contentsOf: latestFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            XCTAssertTrue(
                name.hasPrefix("checkpoint-") && !name.hasSuffix(".partial") && !name.contains("/"),
                "\(context): latest names '\(name)'", file: file, line: line)
            let folder = run.appendingPathComponent(name)
            // A missing folder would make the next run silently start over (or fail), so it counts as corrupt.
            XCTAssertEqual(
                try Checkpointing.latest(in: run)?.lastPathComponent, name,
                "\(context): latest names \(name), which has no trainer_state.json", file: file, line: line)
            let record = try JSONDecoder().decode(
                TrainerStateRecord.self,
                from: Data(contentsOf: folder.appendingPathComponent("trainer_state.json")))
            XCTAssertTrue(
                (1...Self.steps).contains(record.globalStep), "\(context): step \(record.globalStep)", file: file, line: line)
            let weights = try SafetensorsFile(url: folder.appendingPathComponent("model.safetensors"))
            XCTAssertEqual(weights.names, parameterNames, "\(context): \(name)/model.safetensors", file: file, line: line)
            for tensor in weights.names { _ = try weights.tensor(tensor) }
            let optimizer = try SafetensorsFile(url: folder.appendingPathComponent("optimizer.safetensors"))
            XCTAssertFalse(optimizer.names.isEmpty, "\(context): \(name)/optimizer.safetensors is empty", file: file, line: line)
            for tensor in optimizer.names { _ = try optimizer.tensor(tensor) }
            _ = try TransformerClassifier.load(folder.path, kind: .classification, numLabels: 2)
        }
        for name in ["best", "final"] where fm.fileExists(atPath: run.appendingPathComponent(name).path) {
            let folder = run.appendingPathComponent(name)
            XCTAssertNoThrow(
                try TransformerClassifier.load(folder.path, kind: .classification, numLabels: 2),
                "\(context): \(name)/ is not a loadable model", file: file, line: line)
            XCTAssertTrue(
                fm.fileExists(atPath: folder.appendingPathComponent("vocab.txt").path),
                "\(context): \(name)/vocab.txt is missing", file: file, line: line)
        }
    }
}

final class CheckpointRepublishTests: XCTestCase {
    /// The end of a run saves twice at its last step (after the last evaluation, then as the final state).
    /// The second save must publish a new folder and only then remove the old one; replacing the published
    /// folder in place would leave `latest` naming a missing or half-deleted folder if killed in between.
    func testSavingTwiceAtTheSameStepPublishesANewFolderBeforeRemovingTheOld() throws {
        let run = try temporaryDirectory(self)
        let model = TransformerClassifier(config: TinyTask.configuration(), kind: .classification, seed: 3)
        model.initializeWeights(seed: 3)
        let state = TrainingState(model: model, optimizer: AdamW(learningRate: 1e-3), seed: 3)
        state.globalStep = 5
        let record = TrainerStateRecord(
            globalStep: 5, optimizerScalars: state.optimizer.exportState().scalars,
            perturbationGenerator: state.perturbationGenerator,
            dropoutGenerator: model.dropoutController.generatorState)
        try Checkpointing.save(state, record: record, in: run)
        let first = try XCTUnwrap(try Checkpointing.latest(in: run))
        XCTAssertEqual(first.lastPathComponent, "checkpoint-5")
        for _ in 0..<3 {
            let before = try XCTUnwrap(try Checkpointing.latest(in: run))
            try Checkpointing.save(state, record: record, in: run)
            let after = try XCTUnwrap(try Checkpointing.latest(in: run))
            XCTAssertNotEqual(after.lastPathComponent, before.lastPathComponent, "the published folder was rewritten in place")
            XCTAssertFalse(FileManager.default.fileExists(atPath: before.path), "the superseded folder is removed")
            let restored = try Checkpointing.restore(state, from: after)
            XCTAssertEqual(restored.globalStep, 5)
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: run.path).filter { $0.hasPrefix("checkpoint-") }
        XCTAssertEqual(left.count, 1, "one checkpoint folder is kept: \(left)")
    }
}
