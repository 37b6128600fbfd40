// `freelb train / evaluate / predict / robustness / experiment` end to end, as a user runs them, on a
// generated SST-2-layout task (and an RTE-layout one for the experiment grid) with a tiny BERT.
import Foundation
import XCTest
import FreeLB

final class EndToEndTests: XCTestCase {
    /// One temporary folder for the class: model/, data/{SST-2,RTE}/, and two trained runs.
    struct Fixture {
        let root: URL
        var model: URL { root.appendingPathComponent("model") }
        var data: URL { root.appendingPathComponent("data") }
        var vanillaRun: URL { root.appendingPathComponent("runs/vanilla") }
        var freelbRun: URL { root.appendingPathComponent("runs/freelb") }
        var trainOutput: [String: CLIResult] = [:]
    }

    nonisolated(unsafe) static var fixture: Fixture?
    nonisolated(unsafe) static var fixtureError: Error?

    static let trainSteps = 30
    static let devExamples = 32
    static let testExamples = 20

    /// Shared settings: max-seq-length 16, batch 8, lr 5e-3 (the tiny model learns the rule within 30 steps).
    static func trainArguments(_ f: Fixture, method: String, output: URL) -> [String] {
        [
            "train", "--model", f.model.path, "--task", "sst2", "--data-dir", f.data.path, "--output-dir", output.path,
            "--max-seq-length", "16", "--batch-size", "8", "--max-steps", "\(trainSteps)", "--eval-steps", "10",
            "--learning-rate", "5e-3", "--method", method, "--adv-init-mag", "0.5", "--adv-steps", "2", "--threads", "1"
        ]
    }

    override class func setUp() {
        super.setUp()
        do {
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("freelb-cli-e2e-\(UUID().uuidString)")
            var f = Fixture(root: root)
            try TinyTask.writeModel(to: f.model)
            try TinyTask.writeSST2(to: f.data, train: 48, dev: devExamples, test: testExamples)
            try TinyTask.writeRTE(to: f.data, train: 32, dev: 16, test: 8)
            for (method, run) in [("vanilla", f.vanillaRun), ("freelb", f.freelbRun)] {
                f.trainOutput[method] = try CLI.run(trainArguments(f, method: method, output: run))
            }
            fixture = f
        } catch { fixtureError = error }
    }

    override class func tearDown() {
        if let root = fixture?.root { try? FileManager.default.removeItem(at: root) }
        super.tearDown()
    }

    func loadedFixture() throws -> Fixture {
        if let error = Self.fixtureError { throw error }
        return try XCTUnwrap(Self.fixture)
    }

    // MARK: train

    func testTrainExitsZeroAndPrintsStartStepEvalAndDoneJSONLines() throws {
        let f = try loadedFixture()
        for method in ["vanilla", "freelb"] {
            let result = try XCTUnwrap(f.trainOutput[method])
            XCTAssertEqual(result.status, 0, "train --method \(method) failed:\n\(result.stderr)")
            let events = result.stdoutLines.compactMap(jsonObject)
            XCTAssertEqual(events.count, result.stdoutLines.count, "stdout is not a pipe's JSON lines only:\n\(result.stdout)")
            XCTAssertEqual(events.first?["event"] as? String, "start")
            XCTAssertEqual(events.first?["total_steps"] as? Int, Self.trainSteps)
            XCTAssertEqual(
                events.filter { $0["event"] as? String == "step" }.compactMap { $0["step"] as? Int },
                Array(1...Self.trainSteps))
            // --eval-steps 10 over 30 steps: evaluations at 10, 20, 30.
            XCTAssertEqual(events.filter { $0["event"] as? String == "eval" }.compactMap { $0["step"] as? Int }, [10, 20, 30])
            let done = try XCTUnwrap(events.last)
            XCTAssertEqual(done["event"] as? String, "done")
            XCTAssertEqual(done["steps"] as? Int, Self.trainSteps)
            XCTAssertEqual(done["interrupted"] as? Bool, false)
        }
    }

    func testTrainRunFolderHoldsConfigMetricsCurvesSummaryAndBestAndFinalModels() throws {
        let f = try loadedFixture()
        let run = f.freelbRun
        let fm = FileManager.default
        // run_config.json: the resolved flags.
        let config = try readJSONObject(run.appendingPathComponent("run_config.json"))
        XCTAssertEqual(config["method"] as? String, "freelb")
        XCTAssertEqual(config["max-steps"] as? Int, Self.trainSteps)
        XCTAssertEqual(config["adv-steps"] as? Int, 2)
        XCTAssertEqual(config["max-seq-length"] as? Int, 16)
        // metrics.jsonl: one train line per step and one eval line per evaluation.
        let lines = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        let metrics = lines.compactMap(jsonObject)
        XCTAssertEqual(metrics.count, lines.count, "every metrics.jsonl line is a JSON object")
        XCTAssertEqual(metrics.filter { $0["type"] as? String == "train" }.count, Self.trainSteps)
        let evals = metrics.filter { $0["type"] as? String == "eval" }
        XCTAssertEqual(evals.compactMap { $0["step"] as? Int }, [10, 20, 30])
        for line in evals { XCTAssertNotNil(line["accuracy"] as? Double, "eval line without accuracy: \(line)") }
        // summary.json agrees with the best eval line.
        let summary = try JSONDecoder().decode(
            RunSummary.self, from: Data(contentsOf: run.appendingPathComponent("summary.json")))
        XCTAssertEqual(summary.steps, Self.trainSteps)
        XCTAssertFalse(summary.interrupted)
        XCTAssertEqual(summary.mainMetric, "accuracy")
        let bestAccuracy = evals.compactMap { $0["accuracy"] as? Double }.max()
        XCTAssertEqual(summary.bestMetric, bestAccuracy)
        // training_curves.svg is an SVG document.
        let svg = try String(contentsOf: run.appendingPathComponent("training_curves.svg"), encoding: .utf8)
        XCTAssertTrue(svg.contains("<svg") && svg.contains("</svg>"), "training_curves.svg is not an SVG document")
        // best/ and final/: Hugging Face layout with the tokenizer files copied from the model folder.
        for name in ["best", "final"] {
            let folder = run.appendingPathComponent(name)
            for file in ["config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"] {
                XCTAssertTrue(fm.fileExists(atPath: folder.appendingPathComponent(file).path), "\(name)/\(file) is missing")
            }
            XCTAssertEqual(
                try Data(contentsOf: folder.appendingPathComponent("vocab.txt")),
                try Data(contentsOf: f.model.appendingPathComponent("vocab.txt")))
            let saved = try readJSONObject(folder.appendingPathComponent("config.json"))
            XCTAssertEqual(
                saved["id2label"] as? [String: String], ["0": "0", "1": "1"], "SST-2 label names in \(name)/config.json")
        }
        // Training changed the weights.
        XCTAssertFalse(
            try differingTensors(
                f.model.appendingPathComponent("model.safetensors"),
                run.appendingPathComponent("final/model.safetensors")
            ).isEmpty)
        // Only the latest checkpoint is kept, and `latest` names it.
        let checkpoints = try fm.contentsOfDirectory(atPath: run.path).filter { $0.hasPrefix("checkpoint-") }
        XCTAssertEqual(checkpoints.count, 1, "checkpoints left: \(checkpoints)")
        let latest = try String(contentsOf: run.appendingPathComponent("latest"), encoding: .utf8)
        XCTAssertEqual(latest.trimmingCharacters(in: .whitespacesAndNewlines), checkpoints.first)
    }

    // MARK: evaluate

    func testEvaluateOnARunFolderPrintsJSONWithTheBestDevAccuracy() throws {
        let f = try loadedFixture()
        let result = try CLI.run([
            "evaluate", "--model", f.freelbRun.path, "--task", "sst2", "--data-dir", f.data.path,
            "--max-seq-length", "16", "--threads", "1"
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        let report = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
            "evaluate stdout is not one JSON object:\n\(result.stdout)")
        XCTAssertEqual(report["task"] as? String, "sst2")
        XCTAssertEqual(report["split"] as? String, "dev")
        XCTAssertEqual(report["examples"] as? Int, Self.devExamples)
        XCTAssertEqual(report["main_metric"] as? String, "accuracy")
        let accuracy = try XCTUnwrap(report["accuracy"] as? Double)
        // A run folder stands for best/; its accuracy (a count over 32 examples) is the best one during training, exactly.
        let summary = try JSONDecoder().decode(
            RunSummary.self, from: Data(contentsOf: f.freelbRun.appendingPathComponent("summary.json")))
        XCTAssertEqual(accuracy, try XCTUnwrap(summary.bestMetric))
        XCTAssertGreaterThan(accuracy, 0.5, "after 30 steps the tiny model should beat the majority class on the 'good' rule")
    }

    // MARK: predict

    func testPredictWritesSST2SubmissionWithAnIndexAndLabelRowForEveryTestExample() throws {
        let f = try loadedFixture()
        let out = f.root.appendingPathComponent("submission")
        let result = try CLI.run([
            "predict", "--model", f.freelbRun.appendingPathComponent("final").path, "--task", "sst2",
            "--data-dir", f.data.path, "--max-seq-length", "16", "--output-dir", out.path, "--threads", "1"
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        let file = out.appendingPathComponent("SST-2.tsv")
        XCTAssertEqual(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines), file.path)
        let rows = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map {
            $0.split(separator: "\t").map(String.init)
        }
        XCTAssertEqual(rows.first, ["index", "prediction"])
        XCTAssertEqual(rows.count, 1 + Self.testExamples)
        XCTAssertEqual(rows.dropFirst().map { $0.first ?? "" }, (0..<Self.testExamples).map(String.init))
        for row in rows.dropFirst() {
            XCTAssertEqual(row.count, 2, "row \(row)")
            XCTAssertTrue(["0", "1"].contains(row.last ?? ""), "SST-2 labels are 0/1, got \(row)")
        }
    }

    // MARK: robustness

    func testRobustnessPrintsAMarkdownTableAndWritesTheJSONReport() throws {
        let f = try loadedFixture()
        let output = f.root.appendingPathComponent("robustness.json")
        let result = try CLI.run([
            "robustness", "--models", "vanilla=\(f.vanillaRun.path)", "freelb=\(f.freelbRun.path)",
            "--anchor", "vanilla", "--task", "sst2", "--data-dir", f.data.path, "--max-seq-length", "16",
            "--radius", "2", "--max-steps", "20", "--step-size", "0.1", "--output", output.path,
            "--threads", "1"
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdoutLines
        XCTAssertEqual(lines.first, "| model | median Δloss | mean Δloss | std Δloss | clean loss | n |")
        XCTAssertTrue(lines.contains { $0.hasPrefix("| vanilla (anchor) |") }, result.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("| freelb |") }, result.stdout)
        // Progress on stderr, one JSON line per stage: kept examples, grid radii, the other model's attack.
        let events = result.stderrLines.compactMap(jsonObject).compactMap { $0["event"] as? String }
        XCTAssertEqual(events.first, "kept", result.stderr)
        XCTAssertTrue(events.contains("radius") && events.last == "attacked", result.stderr)
        let report = try readJSONObject(output)
        XCTAssertEqual(report["anchor"] as? String, "vanilla")
        XCTAssertEqual(report["models"] as? [String], ["vanilla", "freelb"])
        XCTAssertEqual(report["totalExamples"] as? Int, Self.devExamples)
        let kept = try XCTUnwrap(report["commonlyCorrect"] as? Int)
        XCTAssertTrue((1...Self.devExamples).contains(kept), "commonly correct examples: \(kept)")
        let examples = try XCTUnwrap(report["examples"] as? [[String: Any]])
        let withoutRadius = (report["withoutRadius"] as? [Any])?.count ?? 0
        XCTAssertEqual(examples.count + withoutRadius, kept, "every kept example has a radius or is listed without one")
        // The table's n column is the number of attacked examples.
        let anchorRow = try XCTUnwrap(lines.first { $0.hasPrefix("| vanilla (anchor) |") })
        XCTAssertEqual(anchorRow.split(separator: "|").last?.trimmingCharacters(in: .whitespaces), "\(examples.count)")
    }

    // MARK: experiment

    func testExperimentGridOfTwoTasksTwoMethodsTwoSeedsWritesResultsAndSkipsFinishedCellsOnRerun() throws {
        let f = try loadedFixture()
        let out = f.root.appendingPathComponent("experiment")
        let arguments = [
            "experiment", "--tasks", "sst2,rte", "--methods", "vanilla,freelb", "--seeds", "1,2",
            "--model", f.model.path, "--data-dir", f.data.path, "--output-dir", out.path,
            "--max-seq-length", "16", "--batch-size", "8", "--max-steps", "3", "--learning-rate", "5e-3",
            "--adv-init-mag", "0.5", "--adv-steps", "2", "--group-by-length", "--threads", "1"
        ]
        let first = try CLI.run(arguments)
        XCTAssertEqual(first.status, 0, first.stderr)
        let firstEvents = first.stderrLines.compactMap(jsonObject).filter { $0["event"] as? String == "cell_done" }
        XCTAssertEqual(firstEvents.count, 8, "2 tasks × 2 methods × 2 seeds:\n\(first.stderr)")
        XCTAssertTrue(firstEvents.allSatisfy { $0["cached"] as? Bool == false })
        for task in ["sst2", "rte"] {
            for method in ["vanilla", "freelb"] {
                for seed in [1, 2] {
                    let cell = out.appendingPathComponent("\(task)/\(method)/seed-\(seed)")
                    XCTAssertTrue(
                        FileManager.default.fileExists(atPath: cell.appendingPathComponent("summary.json").path),
                        "\(cell.path) has no summary.json")
                    XCTAssertTrue(
                        FileManager.default.fileExists(atPath: cell.appendingPathComponent("final/model.safetensors").path))
                    let settings = try JSONSerialization.jsonObject(
                        with: Data(contentsOf: cell.appendingPathComponent("run_config.json")))
                    XCTAssertEqual(
                        (settings as? [String: Any])?["group-by-length"] as? Bool, true, "shared flags reach every cell")
                }
            }
        }
        // results.json: 8 cells; results.md: the table printed on stdout, median (std) ×100 per method and task.
        let report = try JSONDecoder().decode(
            ExperimentReport.self, from: Data(contentsOf: out.appendingPathComponent("results.json")))
        XCTAssertEqual(report.cells.count, 8)
        XCTAssertEqual(report.tasks, ["sst2", "rte"])
        XCTAssertEqual(report.methods, ["vanilla", "freelb"])
        XCTAssertTrue(report.cells.allSatisfy { $0.summary.steps == 3 && !$0.summary.interrupted })
        let markdown = try String(contentsOf: out.appendingPathComponent("results.md"), encoding: .utf8)
        XCTAssertEqual(
            first.stdout.trimmingCharacters(in: .whitespacesAndNewlines),
            markdown.trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertTrue(markdown.hasPrefix("| method | sst2 | rte |\n|---|---|---|\n"), markdown)
        for method in ["vanilla", "freelb"] {
            let cells = ["sst2", "rte"].map { task -> String in
                let s = report.scores(task: task, method: method)
                XCTAssertEqual(s.count, 2, "two seeds of \(task)/\(method)")
                return String(format: "%.2f (%.2f)", ExperimentReport.median(s), ExperimentReport.standardDeviation(s))
            }
            XCTAssertTrue(
                markdown.contains("| \(method) | \(cells.joined(separator: " | ")) |"), "row of \(method) in:\n\(markdown)")
            let minutes = ["sst2", "rte"].map {
                String(format: "%.1f", ExperimentReport.median(report.minutes(task: $0, method: method)))
            }
            XCTAssertTrue(
                markdown.contains("| \(method) | \(minutes.joined(separator: " | ")) |"),
                "wall times of \(method) in:\n\(markdown)")
        }
        XCTAssertTrue(markdown.contains("Median wall time per run, minutes."), markdown)
        // Per seed ("seed 1 / seed 2"), then freelb − vanilla on the same seed: mean (seeds where freelb is higher of 2).
        for method in ["vanilla", "freelb"] {
            let perSeed = try ["sst2", "rte"].map { task in
                try [UInt64(1), 2].map {
                    String(format: "%.2f", try XCTUnwrap(report.score(task: task, method: method, seed: $0)))
                }
                .joined(separator: " / ")
            }
            XCTAssertTrue(
                markdown.contains("| \(method) | \(perSeed.joined(separator: " | ")) |"), "seeds of \(method) in:\n\(markdown)")
        }
        let paired = try ["sst2", "rte"].map { task -> String in
            let d = try [UInt64(1), 2].map { seed in
                try XCTUnwrap(report.score(task: task, method: "freelb", seed: seed))
                    - XCTUnwrap(report.score(task: task, method: "vanilla", seed: seed))
            }
            XCTAssertEqual(report.pairedDifferences(task: task, method: "freelb", baseline: "vanilla"), d)
            return String(format: "%+.2f", (d[0] + d[1]) / 2) + " (\(d.filter { $0 > 0 }.count) of 2)"
        }
        XCTAssertTrue(markdown.contains("| freelb | \(paired.joined(separator: " | ")) |"), "paired row in:\n\(markdown)")
        XCTAssertFalse(markdown.contains("| vanilla | +"), "the baseline has no paired row:\n\(markdown)")

        // A rerun trains nothing: every cell is reported as cached and the table is unchanged.
        let second = try CLI.run(arguments)
        XCTAssertEqual(second.status, 0, second.stderr)
        let secondEvents = second.stderrLines.compactMap(jsonObject)
        XCTAssertEqual(
            secondEvents.filter { $0["event"] as? String == "cell_done" && $0["cached"] as? Bool == true }.count, 8,
            second.stderr)
        XCTAssertFalse(secondEvents.contains { $0["event"] as? String == "cell_start" }, "a finished cell was started again")
        XCTAssertEqual(second.stdout, first.stdout)

        // --report-only with a seed that never ran: nothing trains, the table says n=2 where 3 seeds were asked.
        let partial = try CLI.run(arguments.map { $0 == "1,2" ? "1,2,3" : $0 } + ["--report-only"])
        XCTAssertEqual(partial.status, 0, partial.stderr)
        let partialEvents = partial.stderrLines.compactMap(jsonObject)
        XCTAssertFalse(partialEvents.contains { $0["event"] as? String == "cell_start" }, partial.stderr)
        XCTAssertEqual(partialEvents.filter { $0["event"] as? String == "cell_missing" }.count, 4, partial.stderr)
        XCTAssertEqual(partial.stdout.components(separatedBy: " n=2").count - 1, 4, partial.stdout)
        XCTAssertEqual(
            partial.stdout.components(separatedBy: " / –").count - 1, 4,
            "seed 3 is a dash in each per-seed cell:\n\(partial.stdout)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("sst2/vanilla/seed-3").path))

        // A report takes a cell trained in another precision (here one marked bf16) and says which each
        // method used; training into that folder with fp32 refuses.
        try withRunConfig(
            out.appendingPathComponent("rte/freelb/seed-1"), replacing: "\"precision\" : \"fp32\"", by: "\"precision\" : \"bf16\""
        ) {
            let mixed = try CLI.run(arguments + ["--report-only"])
            XCTAssertEqual(mixed.status, 0, mixed.stderr)
            XCTAssertTrue(mixed.stdout.contains("Precision: vanilla fp32; freelb bf16 and fp32."), mixed.stdout)
            let mixedResume = try CLI.run(arguments)
            XCTAssertNotEqual(mixedResume.status, 0)
            XCTAssertTrue(mixedResume.stderr.contains("--precision"), mixedResume.stderr)
        }
        XCTAssertFalse(try CLI.run(arguments + ["--report-only"]).stdout.contains("Precision:"))
        // A report also takes vanilla cells trained with another perturbation (vanilla reads none of it), but
        // not a FreeLB cell.
        for (method, accepted) in [("vanilla", true), ("freelb", false)] {
            try withRunConfig(
                out.appendingPathComponent("sst2/\(method)/seed-2"), replacing: "\"adv-init-mag\" : 0.5",
                by: "\"adv-init-mag\" : 0.25"
            ) {
                let report = try CLI.run(arguments + ["--report-only"])
                XCTAssertEqual(report.status == 0, accepted, report.stderr)
                if !accepted { XCTAssertTrue(report.stderr.contains("--adv-init-mag"), report.stderr) }
            }
        }

        // Finished cells trained with other settings are not mixed into a table: the grid refuses, naming the flag.
        let changed = try CLI.run(arguments.map { $0 == "5e-3" ? "1e-3" : $0 })
        XCTAssertNotEqual(changed.status, 0)
        XCTAssertTrue(changed.stderr.contains("--learning-rate"), changed.stderr)
    }

    /// Runs `body` with one setting of a run folder's run_config.json replaced, then restores the file.
    private func withRunConfig(_ folder: URL, replacing old: String, by new: String, _ body: () throws -> Void) throws {
        let file = folder.appendingPathComponent("run_config.json")
        let text = try String(contentsOf: file, encoding: .utf8)
        XCTAssertTrue(text.contains(old), text)
        try text.replacingOccurrences(of: old, with: new).write(to: file, atomically: true, encoding: .utf8)
        defer { try? text.write(to: file, atomically: true, encoding: .utf8) }
        try body()
    }
}
