import Foundation
import XCTest
@testable import FreeLBData

/// Synthetic GLUE files in the official layouts, written into a temporary folder, with the official quirks:
/// CoLA without header, MRPC with a UTF-8 BOM, unbalanced quotes, STS-B float scores, MNLI's 15 columns.
final class GLUEReaderTests: XCTestCase {
    func testCoLAWithoutHeaderReadsLabelAndSentenceByPosition() throws {
        let d = try TempDir()
        try d.write(
            "glue/CoLA/train.tsv",
            "gj04\t1\t\tThe sailors rode the breeze clear of the rocks.\ngj04\t0\t*\tThe more does Bill smoke.\n")
        try d.write("glue/CoLA/test.tsv", "index\tsentence\n0\tBill whistled past the house.\n")
        let train = try GLUEReader.load(task: TaskRegistry.cola, split: .train, dataDir: d.url)
        XCTAssertEqual(
            train,
            [
                Example(guid: "train-1", textA: "The sailors rode the breeze clear of the rocks.", label: .classIndex(1)),
                Example(guid: "train-2", textA: "The more does Bill smoke.", label: .classIndex(0))
            ])
        let test = try GLUEReader.load(task: TaskRegistry.cola, split: .test, dataDir: d.url)
        XCTAssertEqual(test, [Example(guid: "0", textA: "Bill whistled past the house.", label: nil)])
    }

    func testMRPCWithBOMFindsTheQualityColumnAndKeepsUnbalancedQuotes() throws {
        let d = try TempDir()
        let f = try d.write(
            "MRPC/dev.tsv",
            "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
                + "1\t1355540\t1355592\tHe said the pie \" business .\t\" The foodservice pie business .\n",
            bom: true)
        // The `dataDir/<Task>/` layout (download_glue_data.py output) is accepted too.
        XCTAssertEqual(try TaskRegistry.mrpc.file(for: .dev, dataDir: d.url).path, f.path)
        let rows = try GLUEReader.load(task: TaskRegistry.mrpc, split: .dev, dataDir: d.url)
        XCTAssertEqual(
            rows,
            [
                Example(
                    guid: "dev-2", textA: "He said the pie \" business .",
                    textB: "\" The foodservice pie business .", label: .classIndex(1))
            ])
    }

    func testSST2QuotesHaveNoSpecialMeaningAcrossLines() throws {
        let d = try TempDir()
        // A quote opened on one line and never closed: a CSV reader would swallow the following lines.
        let f = try d.write(
            "train.tsv", "sentence\tlabel\n\"it 's a charming journey . \t1\nbleak and desperate \"\t0\n'' quoted ''\t1\r\n")
        let rows = try GLUEReader.read(file: f, task: TaskRegistry.sst2, split: .train)
        XCTAssertEqual(rows.map(\.textA), ["\"it 's a charming journey . ", "bleak and desperate \"", "'' quoted ''"])
        XCTAssertEqual(rows.map(\.label), [.classIndex(1), .classIndex(0), .classIndex(1)])
    }

    func testSTSBReadsFloatScoresAndTestFilesHaveNoLabel() throws {
        let d = try TempDir()
        let header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2"
        try d.write(
            "glue/STS-B/dev.tsv",
            header + "\tscore\n0\tmain-captions\tMSRvid\t2012test\t0000\tnone\tnone\tA man.\tA man!\t5.000\n"
                + "1\tmain-news\theadlines\t2013\t0001\tnone\tnone\tx\ty\t0.750\n")
        try d.write("glue/STS-B/test.tsv", header + "\n7\tmain-captions\tMSRvid\t2012test\t0024\tnone\tnone\tA girl.\tA girl!\n")
        let dev = try GLUEReader.load(task: TaskRegistry.stsb, split: .dev, dataDir: d.url)
        XCTAssertEqual(dev.map(\.label), [.score(5), .score(0.75)])
        XCTAssertEqual(dev[1].guid, "1")
        let test = try GLUEReader.load(task: TaskRegistry.stsb, split: .test, dataDir: d.url)
        XCTAssertEqual(test, [Example(guid: "7", textA: "A girl.", textB: "A girl!", label: nil)])
    }

    func testMNLIMatchedAndMismatchedFilesUseSentenceAndGoldLabelColumns() throws {
        let d = try TempDir()
        let h =
            "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2"
        try d.write(
            "glue/MNLI/dev_matched.tsv",
            h + "\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label\n"
                + "0\t63735\t63735n\tslate\t( ( The ) )\t( x )\t(ROOT)\t(ROOT)\tThe new rights are nice.\tEveryone loves them.\tneutral\tentailment\tneutral\tneutral\tneutral\tneutral\n"
        )
        try d.write(
            "glue/MNLI/dev_mismatched.tsv",
            h + "\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label\n"
                + "0\t75290\t75290c\tletters\t( a )\t( b )\t(ROOT)\t(ROOT)\tYour gift helps.\tIt does not.\tcontradiction\tcontradiction\tcontradiction\tcontradiction\tcontradiction\tcontradiction\n"
        )
        try d.write(
            "glue/MNLI/train.tsv",
            h + "\tlabel1\tgold_label\n"
                + "0\t31193\t31193n\tgovernment\t( a )\t( b )\t(ROOT)\t(ROOT)\tConceptually cream skimming.\tProduct and geography.\tneutral\tneutral\n"
        )
        try d.write(
            "glue/MNLI/test_mismatched.tsv",
            h + "\n0\t214\t214e\tnineeleven\t( a )\t( b )\t(ROOT)\t(ROOT)\tPremise.\tHypothesis.\n")
        let m = try GLUEReader.load(task: TaskRegistry.mnli, split: .dev, dataDir: d.url)
        XCTAssertEqual(
            m, [Example(guid: "0", textA: "The new rights are nice.", textB: "Everyone loves them.", label: .classIndex(2))])
        let mm = try GLUEReader.load(task: TaskRegistry.mnli, split: .devMismatched, dataDir: d.url)
        XCTAssertEqual(mm.first?.label, .classIndex(0))
        XCTAssertEqual(
            try GLUEReader.load(task: TaskRegistry.mnli, split: .train, dataDir: d.url).first?.textB,
            "Product and geography.")
        let test = try GLUEReader.load(task: TaskRegistry.mnli, split: .testMismatched, dataDir: d.url)
        XCTAssertEqual(test, [Example(guid: "0", textA: "Premise.", textB: "Hypothesis.", label: nil)])
    }

    func testQQPUsesQuestionColumnsAndIsDuplicate() throws {
        let d = try TempDir()
        try d.write(
            "glue/QQP/train.tsv",
            "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
                + "133273\t213221\t213222\tHow is the life of a math student?\tWhich level of math?\t0\n"
                + "402555\t536040\t536041\tHow do I control my horny emotions?\tHow do you control your horniness?\t1\n")
        try d.write("glue/QQP/test.tsv", "id\tquestion1\tquestion2\n0\tWhy \"do\tWhy not?\n")
        let train = try GLUEReader.load(task: TaskRegistry.qqp, split: .train, dataDir: d.url)
        XCTAssertEqual(train.map(\.guid), ["133273", "402555"])
        XCTAssertEqual(train.map(\.label), [.classIndex(0), .classIndex(1)])
        XCTAssertEqual(train[1].textB, "How do you control your horniness?")
        XCTAssertEqual(
            try GLUEReader.load(task: TaskRegistry.qqp, split: .test, dataDir: d.url),
            [Example(guid: "0", textA: "Why \"do", textB: "Why not?")])
    }

    func testQNLIRTEAndWNLILabelNamesMapToTheRegistryOrder() throws {
        let d = try TempDir()
        try d.write("glue/QNLI/dev.tsv", "index\tquestion\tsentence\tlabel\n0\tq?\ts.\tnot_entailment\n1\tq2?\ts2.\tentailment\n")
        try d.write("glue/RTE/train.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n")
        try d.write("glue/WNLI/train.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\t1\n")
        XCTAssertEqual(
            try GLUEReader.load(task: TaskRegistry.qnli, split: .dev, dataDir: d.url).map(\.label),
            [.classIndex(1), .classIndex(0)])
        XCTAssertEqual(try GLUEReader.load(task: TaskRegistry.rte, split: .train, dataDir: d.url).first?.label, .classIndex(0))
        XCTAssertEqual(try GLUEReader.load(task: TaskRegistry.wnli, split: .train, dataDir: d.url).first?.label, .classIndex(1))
    }

    // MARK: Malformed input: an error naming file, line and field; never a crash.

    func testMissingColumnNamesTheColumnOnLine1() throws {
        let d = try TempDir()
        let f = try d.write("dev.tsv", "index\tsentence1\tlabel\n0\ta\tentailment\n")
        assertDataError(
            try GLUEReader.read(file: f, task: TaskRegistry.rte, split: .dev),
            kind: .missingColumn, file: f, line: 1, field: "sentence2")
    }

    func testLabelOutsideTheLabelSetNamesLineAndLabelColumn() throws {
        let d = try TempDir()
        let f = try d.write("dev.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\ta\tb\tneutral\n")
        assertDataError(
            try GLUEReader.read(file: f, task: TaskRegistry.rte, split: .dev),
            kind: .invalidLabel, file: f, line: 3, field: "label")
        let cola = try d.write("cola.tsv", "gj04\t1\t\tok.\ngj04\t2\t\tbad label.\n")
        assertDataError(
            try GLUEReader.read(file: cola, task: TaskRegistry.cola, split: .train),
            kind: .invalidLabel, file: cola, line: 2, field: "column 2")
    }

    func testNonNumericSTSBScoreNamesTheScoreField() throws {
        let d = try TempDir()
        let f = try d.write("train.tsv", "index\tsentence1\tsentence2\tscore\n0\ta\tb\t4.2\n1\ta\tb\tfive\n")
        assertDataError(
            try GLUEReader.read(file: f, task: TaskRegistry.stsb, split: .train),
            kind: .invalidNumber, file: f, line: 3, field: "score")
        let nan = try d.write("nan.tsv", "index\tsentence1\tsentence2\tscore\n0\ta\tb\tnan\n")
        assertDataError(
            try GLUEReader.read(file: nan, task: TaskRegistry.stsb, split: .train),
            kind: .invalidNumber, file: nan, line: 2, field: "score")
    }

    func testEmptyFileAndHeaderOnlyFileAreErrors() throws {
        let d = try TempDir()
        let empty = try d.write("empty.tsv", "")
        assertDataError(
            try GLUEReader.read(file: empty, task: TaskRegistry.sst2, split: .train),
            kind: .emptyFile, file: empty, line: 1, field: nil)
        let headerOnly = try d.write("h.tsv", "sentence\tlabel\n")
        assertDataError(
            try GLUEReader.read(file: headerOnly, task: TaskRegistry.sst2, split: .train),
            kind: .emptyFile, file: headerOnly, line: 1, field: nil)
    }

    func testInvalidUTF8NamesLineAndColumn() throws {
        let d = try TempDir()
        // Line 3, second column (sentence2) holds a lone continuation byte 0x80.
        let bytes =
            Array("index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\tok\tbad ".utf8) + [0x80]
            + Array("\tentailment\n".utf8)
        let f = try d.writeBytes("dev.tsv", bytes)
        assertDataError(
            try GLUEReader.read(file: f, task: TaskRegistry.rte, split: .dev),
            kind: .invalidUTF8, file: f, line: 3, field: "sentence2")
        // Overlong encoding of "/" (0xC0 0xAF) is rejected too.
        let g = try d.writeBytes("cola.tsv", Array("gj04\t1\t\t".utf8) + [0xC0, 0xAF] + [0x0A])
        assertDataError(
            try GLUEReader.read(file: g, task: TaskRegistry.cola, split: .train),
            kind: .invalidUTF8, file: g, line: 1, field: "column 4")
    }

    func testRaggedRowNamesTheFirstMissingField() throws {
        let d = try TempDir()
        let f = try d.write("dev.tsv", "index\tquestion\tsentence\tlabel\n0\tq?\ts.\tentailment\n1\tq?\tentailment\n")
        assertDataError(
            try GLUEReader.read(file: f, task: TaskRegistry.qnli, split: .dev),
            kind: .raggedRow, file: f, line: 3, field: "label")
        let long = try d.write("long.tsv", "sentence\tlabel\nfine\t1\ntoo\tmany\t1\n")
        assertDataError(
            try GLUEReader.read(file: long, task: TaskRegistry.sst2, split: .train),
            kind: .raggedRow, file: long, line: 3, field: "column 3")
    }

    func testMissingFileAndUnknownSplitSayWhatToDo() throws {
        let d = try TempDir()
        assertDataError(
            try GLUEReader.load(task: TaskRegistry.rte, split: .train, dataDir: d.url),
            kind: .fileNotFound, line: nil, field: nil)
        do {
            _ = try GLUEReader.load(task: TaskRegistry.rte, split: .train, dataDir: d.url)
        } catch let e as DataError {
            XCTAssertTrue(e.message.contains("--data-dir"), "\(e)")
        }
        assertDataError(
            try GLUEReader.load(task: TaskRegistry.rte, split: .devMismatched, dataDir: d.url),
            kind: .unsupportedSplit, line: nil, field: "split")
    }

    // MARK: Registry

    func testRegistryResolvesGLUENamesAndAliases() throws {
        XCTAssertEqual(try TaskRegistry.task(named: "SST-2").name, "sst2")
        XCTAssertEqual(try TaskRegistry.task(named: "sts-b").type, .regression)
        XCTAssertEqual(try TaskRegistry.task(named: "CSQA").name, "commonsenseqa")
        XCTAssertEqual(try TaskRegistry.task(named: "mnli").numLabels, 3)
        XCTAssertEqual(try TaskRegistry.task(named: "cola").mainMetric, "mcc")
        XCTAssertEqual(try TaskRegistry.task(named: "mrpc").metrics, ["f1", "accuracy"])
        XCTAssertEqual(try TaskRegistry.task(named: "arc-challenge").type, .multipleChoice)
        XCTAssertEqual(TaskRegistry.all.map(\.defaultMaxLength), Array(repeating: 128, count: TaskRegistry.all.count))
        for t in TaskRegistry.all where !t.isMultipleChoice && !t.isRegression {
            XCTAssertEqual(t.numLabels, t.labels.count, t.name)
        }
        assertDataError(try TaskRegistry.task(named: "squad"), kind: .unknownTask, line: nil, field: "task")
    }
}
