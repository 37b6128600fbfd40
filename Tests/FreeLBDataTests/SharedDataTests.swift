import Foundation
import XCTest
@testable import FreeLBData

/// Loads every file of the real benchmark copies in `../shared/data` (outside the project; see its README.md
/// for the row counts used below). Skipped with a message when the folder is absent, e.g. in a user's clone.
/// `FREELB_SHARED_DATA` overrides the location.
final class SharedDataTests: XCTestCase {
    private func dataDir() throws -> URL {
        if let env = ProcessInfo.processInfo.environment["FREELB_SHARED_DATA"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        // <package>/Tests/FreeLBDataTests/SharedDataTests.swift -> <package>/../shared/data
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let dir = package.deletingLastPathComponent().appendingPathComponent("shared/data")
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("README.md").path) else {
            throw XCTSkip("SKIPPED: real benchmark data not found at \(dir.path) (set FREELB_SHARED_DATA to run this test)")
        }
        return dir
    }

    /// Row counts from ../shared/data/README.md (= the official sizes).
    func testEveryGLUEFileLoadsWithTheOfficialRowCount() throws {
        let dir = try dataDir()
        let expected: [(String, Split, Int)] = [
            ("cola", .train, 8551), ("cola", .dev, 1043), ("cola", .test, 1063),
            ("sst2", .train, 67349), ("sst2", .dev, 872), ("sst2", .test, 1821),
            ("mrpc", .train, 3668), ("mrpc", .dev, 408), ("mrpc", .test, 1725),
            ("stsb", .train, 5749), ("stsb", .dev, 1500), ("stsb", .test, 1379),
            ("qnli", .dev, 5463), ("qnli", .test, 5463),
            ("rte", .train, 2490), ("rte", .dev, 277), ("rte", .test, 3000),
            ("wnli", .train, 635), ("wnli", .dev, 71), ("wnli", .test, 146)
        ]
        for (name, split, rows) in expected {
            let task = try TaskRegistry.task(named: name)
            let examples = try GLUEReader.load(task: task, split: split, dataDir: dir)
            XCTAssertEqual(examples.count, rows, "\(name) \(split)")
            XCTAssertEqual(examples.allSatisfy { $0.label == nil }, split.isTest, "\(name) \(split): labels only off test")
            XCTAssertTrue(examples.allSatisfy { !$0.textA.isEmpty }, "\(name) \(split): no empty first text")
            if split.isTest { XCTAssertEqual(examples.first?.guid, "0", "\(name) test index starts at 0") }
        }
        // The MRPC sources in the same folder have MRPC's layout (BOM header included).
        let mrpc = dir.appendingPathComponent("glue/MRPC")
        XCTAssertEqual(
            try GLUEReader.read(
                file: mrpc.appendingPathComponent("msr_paraphrase_train.txt"),
                task: TaskRegistry.mrpc, split: .train
            ).count, 4076)
        XCTAssertEqual(
            try GLUEReader.read(
                file: mrpc.appendingPathComponent("msr_paraphrase_test.txt"),
                task: TaskRegistry.mrpc, split: .train
            ).count, 1725)
        XCTAssertEqual(try GLUEReader.readMRPCDevIds(file: mrpc.appendingPathComponent("dev_ids.tsv")).count, 408)
        // Label balance sanity: SST-2 dev has 444 positive of 872 (known GLUE statistic).
        let sst = try GLUEReader.load(task: TaskRegistry.sst2, split: .dev, dataDir: dir)
        XCTAssertEqual(sst.filter { $0.label == .classIndex(1) }.count, 444)
    }

    func testEveryMultipleChoiceFileLoadsWithTheOfficialRowCount() throws {
        let dir = try dataDir()
        let expected: [(TaskSpec, Split, Int)] = [
            (TaskRegistry.arcEasy, .train, 2251), (TaskRegistry.arcEasy, .dev, 570), (TaskRegistry.arcEasy, .test, 2376),
            (TaskRegistry.arcChallenge, .train, 1119), (TaskRegistry.arcChallenge, .dev, 299),
            (TaskRegistry.arcChallenge, .test, 1172),
            (TaskRegistry.commonsenseQA, .train, 9741), (TaskRegistry.commonsenseQA, .dev, 1221),
            (TaskRegistry.commonsenseQA, .test, 1140)
        ]
        for (task, split, rows) in expected {
            let examples = try MultipleChoiceReader.load(task: task, split: split, dataDir: dir)
            XCTAssertEqual(examples.count, rows, "\(task.name) \(split)")
            if task.name == "commonsenseqa" {
                XCTAssertTrue(examples.allSatisfy { $0.choices.count == 5 }, "CSQA has 5 choices")
                XCTAssertEqual(examples.allSatisfy { $0.label == nil }, split == .test, "CSQA test has no answers")
            } else {
                XCTAssertTrue(
                    examples.allSatisfy { (3...5).contains($0.choices.count) && $0.label != nil },
                    "ARC: 3 to 5 choices, all answered")
                // The CSV release of the same split agrees on ids, choice counts and answers.
                let csvName = task.fileNames[split]!.replacingOccurrences(of: ".jsonl", with: ".csv")
                let csv = try MultipleChoiceReader.readARCCSV(
                    file: dir.appendingPathComponent("arc/\(task.displayName)/\(csvName)"))
                XCTAssertEqual(csv.map(\.id), examples.map(\.id), "\(csvName) ids")
                XCTAssertEqual(csv.map(\.choices.count), examples.map(\.choices.count), "\(csvName) choice counts")
                XCTAssertEqual(csv.map(\.label), examples.map(\.label), "\(csvName) answers")
            }
        }
    }

    /// GLUE's MRPC train/dev/test are derived files: rebuilding them from the MSR sources must give the
    /// shipped files byte for byte (they are byte-identical to download_glue_data.py's output).
    func testFormatMRPCReproducesTheGLUEFilesByteForByte() throws {
        let dir = try dataDir().appendingPathComponent("glue/MRPC")
        let out = try TempDir()
        try GLUEReader.formatMRPC(
            trainSource: dir.appendingPathComponent("msr_paraphrase_train.txt"),
            testSource: dir.appendingPathComponent("msr_paraphrase_test.txt"),
            devIds: dir.appendingPathComponent("dev_ids.tsv"), into: out.url)
        for name in ["train.tsv", "dev.tsv", "test.tsv"] {
            let made = try Data(contentsOf: out.url.appendingPathComponent(name))
            let official = try Data(contentsOf: dir.appendingPathComponent(name))
            XCTAssertTrue(made == official, "\(name): \(made.count) bytes vs official \(official.count)")
        }
    }
}
