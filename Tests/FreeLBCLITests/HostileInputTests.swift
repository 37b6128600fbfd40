// Issue 15's hostile and careless inputs, run through the `freelb` binary as a user would: every one
// exits non-zero with a message naming the file, field or flag (never a signal, a hang or a silent
// success), a diverging run stops without writing non-finite weights, and run folders are locked.
import Foundation
import XCTest
import FreeLB
import FreeLBModels
import FreeLBSafetensors

final class HostileInputTests: XCTestCase {
    /// A tiny model and SST-2 / RTE / STS-B tasks in a fresh folder.
    func makeFixture() throws -> (root: URL, model: URL, data: URL) {
        let root = try temporaryDirectory(self)
        let model = root.appendingPathComponent("model"), data = root.appendingPathComponent("data")
        try TinyTask.writeModel(to: model)
        try TinyTask.writeSST2(to: data, train: 24, dev: 8, test: 4)
        try TinyTask.writeRTE(to: data, train: 16, dev: 8, test: 4)
        return (root, model, data)
    }

    func trainArguments(model: URL, data: URL, output: URL, task: String = "sst2", steps: Int = 3) -> [String] {
        [
            "train", "--model", model.path, "--task", task, "--data-dir", data.path, "--output-dir", output.path,
            "--max-seq-length", "16", "--batch-size", "4", "--max-steps", "\(steps)", "--threads", "1", "--json"
        ]
    }

    /// Asserts a clean failure: exit status 1 (no signal) and stderr containing every fragment.
    func assertCleanFailure(_ result: CLIResult, mentions fragments: [String], file: StaticString = #filePath, line: UInt = #line)
    {
        XCTAssertFalse(result.signalled, "killed by signal \(result.status): \(result.stderr)", file: file, line: line)
        XCTAssertNotEqual(result.status, 0, "exited 0; stdout: \(result.stdout.suffix(400))", file: file, line: line)
        for fragment in fragments {
            XCTAssertTrue(
                result.stderr.contains(fragment), "stderr lacks '\(fragment)': \(result.stderr)", file: file, line: line)
        }
    }

    /// Rewrites fields of the model's config.json.
    func editConfig(_ model: URL, _ edit: (inout [String: Any]) -> Void) throws {
        let url = model.appendingPathComponent("config.json")
        var json = try readJSONObject(url)
        edit(&json)
        try JSONSerialization.data(withJSONObject: json).write(to: url)
    }

    /// Removes the task head from the model's checkpoint (a pretrained base model).
    func stripHead(_ model: URL) throws {
        let url = model.appendingPathComponent("model.safetensors")
        let file = try SafetensorsFile(url: url)
        let encoderOnly = try file.names.filter { !$0.hasPrefix("classifier.") }.map { try file.tensor($0) }
        try SafetensorsWriter.write(encoderOnly, metadata: ["format": "pt"], to: url)
    }

    /// Every tensor in every model.safetensors under `folder` is finite.
    func assertAllWeightsFinite(under folder: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        let files =
            FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)?
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "safetensors" } ?? []
        for url in files {
            let weights = try SafetensorsFile(url: url)
            for name in weights.names {
                let values = try weights.floats(name)
                XCTAssertTrue(values.allSatisfy(\.isFinite), "\(url.path): \(name) is not finite", file: file, line: line)
            }
        }
    }

    // MARK: config.json and model.safetensors

    func testHostileConfigValuesAreRejectedBeforeAllocating() throws {
        let f = try makeFixture()
        let cases: [(String, (inout [String: Any]) -> Void, [String])] = [
            (
                "roberta pad -3",
                {
                    $0["model_type"] = "roberta"; $0["pad_token_id"] = -3
                }, ["pad_token_id", "0..<vocab_size"]
            ),
            ("pad -100000", { $0["pad_token_id"] = -100_000 }, ["pad_token_id"]),
            ("layers -1", { $0["num_hidden_layers"] = -1 }, ["num_hidden_layers", "1...512"]),
            (
                "labels -3",
                {
                    $0["num_labels"] = -3; $0["id2label"] = nil
                }, ["num_labels"]
            ),
            ("vocab 1e12", { $0["vocab_size"] = 1_000_000_000_000 }, ["vocab_size"]),
            ("intermediate 2^40", { $0["intermediate_size"] = 1 << 40 }, ["intermediate_size"]),
            ("intermediate larger than stored", { $0["intermediate_size"] = 1 << 17 }, ["config.json", "stores only"]),
            ("dropout 1.5", { $0["hidden_dropout_prob"] = 1.5 }, ["hidden_dropout_prob"]),
            ("eps string", { $0["layer_norm_eps"] = "tiny" }, ["layer_norm_eps"])
        ]
        for (name, edit, fragments) in cases {
            let model = f.root.appendingPathComponent("model-\(name.filter(\.isLetter))")
            try FileManager.default.copyItem(at: f.model, to: model)
            try editConfig(model, edit)
            let output = f.root.appendingPathComponent("run-\(name.filter(\.isLetter))")
            let result = try CLI.run(trainArguments(model: model, data: f.data, output: output), timeout: 60)
            assertCleanFailure(result, mentions: fragments + [model.lastPathComponent])
            let evaluated = try CLI.run(
                [
                    "evaluate", "--model", model.path, "--task", "sst2", "--data-dir", f.data.path,
                    "--max-seq-length", "16", "--threads", "1"
                ], timeout: 60)
            assertCleanFailure(evaluated, mentions: fragments)
        }
    }

    func testNaNWeightsInACheckpointAreAnErrorNamingTheTensor() throws {
        let f = try makeFixture()
        let url = f.model.appendingPathComponent("model.safetensors")
        let file = try SafetensorsFile(url: url)
        var tensors = try file.names.map { try file.tensor($0) }
        let index = try XCTUnwrap(tensors.firstIndex { $0.name.hasSuffix("LayerNorm.bias") })
        tensors[index].values[0] = .nan
        try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: url)
        let result = try CLI.run(
            [
                "evaluate", "--model", f.model.path, "--task", "sst2", "--data-dir", f.data.path,
                "--max-seq-length", "16", "--threads", "1"
            ], timeout: 60)
        assertCleanFailure(result, mentions: [tensors[index].name, "NaN or infinite"])
    }

    // MARK: divergence

    func testADivergingRunStopsWithoutWritingNonFiniteWeights() throws {
        let f = try makeFixture()
        let run = f.root.appendingPathComponent("diverge")
        let result = try CLI.run(
            trainArguments(model: f.model, data: f.data, output: run, steps: 6)
                + ["--learning-rate", "1e30", "--max-grad-norm", "0", "--eval-steps", "1"], timeout: 60)
        assertCleanFailure(result, mentions: ["training diverged", "step"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.appendingPathComponent("final").path), "final/ was written")
        try assertAllWeightsFinite(under: run)
        // Every step is logged, the non-finite loss as a string that JSON can hold.
        let lines = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try XCTUnwrap(jsonObject(String($0)), "not JSON: \($0)") }
        XCTAssertTrue(lines.contains { $0["type"] as? String == "nonfinite" }, "no nonfinite line: \(lines)")
        XCTAssertTrue(lines.contains { ["NaN", "Infinity", "-Infinity"].contains($0["loss"] as? String ?? "") }, "\(lines)")
        // The last good checkpoint (if one was written) loads.
        if let latest = try Checkpointing.latest(in: run) {
            _ = try TransformerClassifier.load(latest.path, kind: .classification, numLabels: 2)
        }
    }

    func testSkipPolicyCountsSkippedBatchesAndStopsAfterTheLimit() throws {
        let f = try makeFixture()
        let run = f.root.appendingPathComponent("skip")
        let result = try CLI.run(
            trainArguments(model: f.model, data: f.data, output: run, steps: 8)
                + [
                    "--learning-rate", "1e30", "--max-grad-norm", "0", "--on-nonfinite", "skip",
                    "--nonfinite-skip-limit", "2"
                ], timeout: 60)
        assertCleanFailure(result, mentions: ["training diverged", "more than 2"])
        let skipped = result.stdoutLines.compactMap(jsonObject).filter { $0["event"] as? String == "nonfinite" }
        XCTAssertEqual(skipped.last?["skipped_batches"] as? Int, 3, "\(result.stdout)")
        try assertAllWeightsFinite(under: run)
    }

    func testAnInfiniteRegressionLabelStopsTrainingAndIsLogged() throws {
        let f = try makeFixture()
        try stripHead(f.model)  // a regression head has one output
        let folder = f.data.appendingPathComponent("STS-B")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
        func rows(_ scores: [String]) -> String {
            header
                + scores.enumerated().map { "\($0.offset)\tg\tf\t2020\t0\ts\ts\tthe good film\ta dull plot\t\($0.element)\n" }
                .joined()
        }
        try Data(rows(["1e30", "2.0", "3.5", "1.0"]).utf8).write(to: folder.appendingPathComponent("train.tsv"))
        try Data(rows(["1.0", "4.0"]).utf8).write(to: folder.appendingPathComponent("dev.tsv"))
        let run = f.root.appendingPathComponent("stsb")
        let result = try CLI.run(trainArguments(model: f.model, data: f.data, output: run, task: "stsb", steps: 2), timeout: 60)
        assertCleanFailure(result, mentions: ["training diverged", "loss is +infinity at step 1"])
        let metrics = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        XCTAssertTrue(metrics.contains("\"loss\":\"Infinity\""), metrics)
    }

    // MARK: flags

    func testEveryNumericFlagIsRangeCheckedWithTheAllowedValuesInTheError() throws {
        let f = try makeFixture()
        let output = f.root.appendingPathComponent("flags")
        let bad: [[String]] = [
            ["--eval-steps", "0"], ["--train-limit=-1"], ["--method", "yopo", "--adv-init-mag", "0.1", "--yopo-inner-steps=-1"],
            ["--max-steps=-5"], ["--epochs", "nan"], ["--epochs=-1"], ["--learning-rate=-0.1"], ["--adv-lr=-1"],
            ["--adam-epsilon=-1"], ["--max-grad-norm", "nan"], ["--warmup-steps=-10"], ["--learning-rate", "nan"],
            ["--eval-limit", "0"], ["--weight-decay", "nan"], ["--batch-size", "0"], ["--max-seq-length", "2"],
            ["--adv-steps", "0"], ["--adv-max-norm", "inf"], ["--gradient-accumulation-steps", "0"], ["--threads", "0"]
        ]
        for flags in bad {
            let flag = String(flags.last { $0.hasPrefix("--") }!.split(separator: "=")[0])
            let arguments =
                [
                    "train", "--model", f.model.path, "--task", "sst2", "--data-dir", f.data.path,
                    "--output-dir", output.path
                ] + flags
            let result = try CLI.run(arguments, timeout: 30)
            assertCleanFailure(result, mentions: [flag, "must be"])
            XCTAssertFalse(FileManager.default.fileExists(atPath: output.path), "\(flags) created the run folder")
        }
        let help = try CLI.run(["train", "--help"])
        XCTAssertTrue(help.stdout.contains("Allowed: an integer in 1...65536"), help.stdout)
    }

    // MARK: run folders

    func testASecondProcessOnTheSameRunFolderIsRefusedAndAStaleLockIsReported() throws {
        let f = try makeFixture()
        let run = f.root.appendingPathComponent("locked")
        let first = try CLI.start(trainArguments(model: f.model, data: f.data, output: run, steps: 400))
        XCTAssertNotNil(first.waitForJSONLine { $0["event"] as? String == "step" }, "the first run did not start")
        let second = try CLI.run(trainArguments(model: f.model, data: f.data, output: run, steps: 400), timeout: 60)
        assertCleanFailure(second, mentions: ["is in use by process \(first.pid)"])
        first.signal(SIGKILL)
        _ = first.finish()
        // The dead process's lock file is still there; a rerun takes the folder over and says so.
        let rerun = try CLI.run(trainArguments(model: f.model, data: f.data, output: run, steps: 2), timeout: 60)
        XCTAssertEqual(rerun.status, 0, rerun.stderr)
        XCTAssertTrue(rerun.stdout.contains("no longer running"), rerun.stdout)
    }

    func testACorruptLatestFileIsAnErrorAndKeepsTheCheckpoints() throws {
        let f = try makeFixture()
        let run = f.root.appendingPathComponent("latest")
        XCTAssertEqual(try CLI.run(trainArguments(model: f.model, data: f.data, output: run, steps: 2)).status, 0)
        let checkpoint = try XCTUnwrap(try Checkpointing.latest(in: run))
        try Data("junk\n".utf8).write(to: run.appendingPathComponent("latest"))
        let result = try CLI.run(trainArguments(model: f.model, data: f.data, output: run, steps: 4))
        assertCleanFailure(result, mentions: [run.appendingPathComponent("latest").path, "junk"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: checkpoint.path), "the checkpoint was deleted")
    }

    func testAnUnusableOutputDirIsAPlainMessage() throws {
        let f = try makeFixture()
        let file = f.root.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: file)
        let result = try CLI.run(trainArguments(model: f.model, data: f.data, output: file.appendingPathComponent("run")))
        assertCleanFailure(result, mentions: ["--output-dir", "cannot create the folder"])
        XCTAssertFalse(result.stderr.contains("NSCocoaErrorDomain") || result.stderr.contains("Error Domain"), result.stderr)
    }

    func testExperimentRejectsABadTaskNameBeforeCreatingFolders() throws {
        let f = try makeFixture()
        let output = f.root.appendingPathComponent("grid")
        let result = try CLI.run([
            "experiment", "--tasks", "../../escape", "--methods", "vanilla", "--seeds", "1",
            "--model", f.model.path, "--data-dir", f.data.path, "--output-dir", output.path
        ])
        assertCleanFailure(result, mentions: ["unknown task"])
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: f.root.deletingLastPathComponent().appendingPathComponent("escape").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: output.path))
    }

    func testAMissingDevFileNamesTheFileAndNoMissingCommand() throws {
        let f = try makeFixture()
        try FileManager.default.removeItem(at: f.data.appendingPathComponent("SST-2/dev.tsv"))
        let result = try CLI.run(trainArguments(model: f.model, data: f.data, output: f.root.appendingPathComponent("r")))
        assertCleanFailure(result, mentions: ["dev.tsv", "--data-dir"])
        XCTAssertFalse(result.stderr.contains("freelb download"), result.stderr)
    }

    // MARK: untrained heads and long inputs

    func testAModelWithoutATaskHeadIsFlagged() throws {
        let f = try makeFixture()
        try stripHead(f.model)
        let common = [
            "--model", f.model.path, "--task", "sst2", "--data-dir", f.data.path, "--max-seq-length", "16", "--threads", "1"
        ]
        let predictions = f.root.appendingPathComponent("predictions")
        let refused = try CLI.run(["predict", "--output-dir", predictions.path] + common)
        assertCleanFailure(refused, mentions: ["no trained", "--allow-untrained-head"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: predictions.path))
        let allowed = try CLI.run(["predict", "--output-dir", predictions.path, "--allow-untrained-head"] + common)
        XCTAssertEqual(allowed.status, 0, allowed.stderr)
        let evaluated = try CLI.run(["evaluate"] + common)
        XCTAssertEqual(evaluated.status, 0, evaluated.stderr)
        XCTAssertTrue(evaluated.stderr.contains("warning") && evaluated.stderr.contains("no trained"), evaluated.stderr)
        let trained = try CLI.run(
            trainArguments(model: f.model, data: f.data, output: f.root.appendingPathComponent("t"), steps: 1))
        XCTAssertEqual(trained.status, 0, trained.stderr)
        XCTAssertTrue(trained.stdout.contains("newly initialised"), trained.stdout)
    }

    func testRobustnessOnInputsLongerThanThePositionsIsAnError() throws {
        let f = try makeFixture()
        let run = f.root.appendingPathComponent("robust")
        XCTAssertEqual(try CLI.run(trainArguments(model: f.model, data: f.data, output: run, steps: 2)).status, 0)
        let long = Array(repeating: "good film", count: 40).joined(separator: " ")
        try Data("sentence\tlabel\n\(long)\t1\nthe plot\t0\n".utf8).write(to: f.data.appendingPathComponent("SST-2/dev.tsv"))
        let result = try CLI.run(
            [
                "robustness", "--models", "a=\(run.path)", "--anchor", "a", "--task", "sst2",
                "--data-dir", f.data.path, "--max-seq-length", "64", "--threads", "1"
            ], timeout: 60)
        assertCleanFailure(result, mentions: ["exceeds the model's 16 positions"])
    }
}
