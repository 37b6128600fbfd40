import Foundation
import XCTest
@testable import FreeLBData

final class SubmissionWriterTests: XCTestCase {
    func testClassificationFilesUseLabelNamesAndTheGLUEFileNames() throws {
        let d = try TempDir()
        let url = try SubmissionWriter.write(
            task: TaskRegistry.mnli, split: .testMismatched, ids: ["0", "1", "2"],
            predictions: [0, 1, 2], to: d.url)
        XCTAssertEqual(url.lastPathComponent, "MNLI-mm.tsv")
        XCTAssertEqual(
            try String(contentsOf: url, encoding: .utf8),
            "index\tprediction\n0\tcontradiction\n1\tentailment\n2\tneutral\n")
        let rte = try SubmissionWriter.write(task: TaskRegistry.rte, ids: ["0", "1"], predictions: [1, 0], to: d.url)
        XCTAssertEqual(try String(contentsOf: rte, encoding: .utf8), "index\tprediction\n0\tnot_entailment\n1\tentailment\n")
        let cola = try SubmissionWriter.write(task: TaskRegistry.cola, ids: ["0"], predictions: [1], to: d.url)
        XCTAssertEqual(try String(contentsOf: cola, encoding: .utf8), "index\tprediction\n0\t1\n")
        XCTAssertEqual(try SubmissionWriter.fileName(task: TaskRegistry.mnli), "MNLI-m.tsv")
        XCTAssertEqual(try SubmissionWriter.fileName(task: TaskRegistry.ax), "AX.tsv")
    }

    func testSTSBScoresAreClippedToZeroToFive() throws {
        let d = try TempDir()
        let url = try SubmissionWriter.write(
            task: TaskRegistry.stsb, ids: ["0", "1", "2"], scores: [-0.3, 2.71828, 5.4], to: d.url)
        XCTAssertEqual(url.lastPathComponent, "STS-B.tsv")
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "index\tprediction\n0\t0.000\n1\t2.718\n2\t5.000\n")
    }

    func testOutOfRangeClassAndCountMismatchThrow() throws {
        let d = try TempDir()
        assertDataError(
            try SubmissionWriter.write(task: TaskRegistry.sst2, ids: ["0"], predictions: [2], to: d.url),
            kind: .invalidLabel, line: nil, field: "predictions[0]")
        assertDataError(
            try SubmissionWriter.write(task: TaskRegistry.sst2, ids: ["0", "1"], predictions: [1], to: d.url),
            kind: .invalidArgument, line: nil, field: "ids")
        assertDataError(
            try SubmissionWriter.write(task: TaskRegistry.arcEasy, ids: ["0"], predictions: [0], to: d.url),
            kind: .unsupportedSplit, line: nil, field: "split")
    }
}

final class DownloaderTests: XCTestCase {
    func testCanonicalSourcesCoverEveryDownloadableTask() {
        for task in TaskRegistry.all {
            XCTAssertFalse(DatasetDownloader.canonicalSources(task).isEmpty, task.name)
        }
        XCTAssertEqual(
            DatasetDownloader.canonicalSources(TaskRegistry.qnli).first?.url.absoluteString,
            "https://dl.fbaipublicfiles.com/glue/data/QNLIv2.zip")
        XCTAssertEqual(DatasetDownloader.canonicalSources(TaskRegistry.mrpc).count, 3)
    }

    /// No network in tests: the source points at a closed local port, which fails like being offline.
    func testOfflineDownloadFailsWithAMessageThatPointsAtDataDir() throws {
        let d = try TempDir()
        let dl = DatasetDownloader(
            cacheDir: d.url, timeout: 5,
            sources: { _ in
                [
                    DownloadSource(
                        url: URL(string: "http://127.0.0.1:9/CoLA.zip")!, destination: "glue/CoLA.zip", extractTo: "glue")
                ]
            }, log: { _ in })
        do {
            try dl.download(task: TaskRegistry.cola)
            XCTFail("download from a closed port must fail")
        } catch let e as DataError {
            XCTAssertEqual(e.kind, .downloadFailed)
            XCTAssertTrue(e.description.contains("--data-dir"), "\(e)")
            XCTAssertTrue(e.description.contains("glue/CoLA/train.tsv"), "names the expected layout: \(e)")
            XCTAssertTrue(e.description.contains("http://127.0.0.1:9/CoLA.zip"), "names the URL: \(e)")
        }
    }

    func testAlreadyCachedTaskIsNotFetched() throws {
        let d = try TempDir()
        for f in ["train.tsv", "dev.tsv", "test.tsv"] { try d.write("glue/RTE/\(f)", "index\tsentence1\tsentence2\tlabel\n") }
        let dl = DatasetDownloader(
            cacheDir: d.url,
            sources: { _ in
                XCTFail("must not fetch")
                return []
            }, log: { _ in })
        XCTAssertEqual(try dl.download(task: TaskRegistry.rte), d.url)
    }

    func testUnzipExtractsOnlyTheRequestedMembersIntoTheCacheLayout() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/zip") else {
            throw XCTSkip("SKIPPED: /usr/bin/zip not available to build a test archive")
        }
        let d = try TempDir()
        try d.write("src/WNLI/train.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\t1\n")
        try d.write("src/Corpus/huge.txt", "not wanted\n")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/zip")
        p.currentDirectoryURL = d.url.appendingPathComponent("src")
        p.arguments = ["-q", "-r", d.url.appendingPathComponent("WNLI.zip").path, "WNLI", "Corpus"]
        try p.run()
        p.waitUntilExit()
        try DatasetDownloader.unzip(
            d.url.appendingPathComponent("WNLI.zip"), into: d.url.appendingPathComponent("cache/glue"),
            members: ["WNLI/*"], task: TaskRegistry.wnli)
        XCTAssertFalse(FileManager.default.fileExists(atPath: d.url.appendingPathComponent("cache/glue/Corpus").path))
        let rows = try GLUEReader.load(task: TaskRegistry.wnli, split: .train, dataDir: d.url.appendingPathComponent("cache"))
        XCTAssertEqual(rows.first?.label, .classIndex(1))
    }
}
