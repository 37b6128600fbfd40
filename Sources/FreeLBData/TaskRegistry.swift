import Foundation

/// What a task's model predicts.
public enum TaskType: String, Sendable, CaseIterable {
    case singleSentence = "single_sentence"
    case sentencePair = "sentence_pair"
    case regression
    case multipleChoice = "multiple_choice"
}

/// A data split. MNLI has matched (`dev`, `test`) and mismatched (`devMismatched`, `testMismatched`) sets.
public enum Split: String, Sendable, CaseIterable {
    case train, dev, test
    case devMismatched = "dev_mismatched"
    case testMismatched = "test_mismatched"

    /// Test splits carry no labels.
    public var isTest: Bool { self == .test || self == .testMismatched }
}

/// A column of a TSV file: by header name, or by 0-based position for files without a header (CoLA train/dev).
public enum TSVColumn: Sendable, Equatable, CustomStringConvertible {
    case name(String)
    case index(Int)
    public var description: String {
        switch self {
        case .name(let n): return n
        case .index(let i): return "column \(i + 1)"
        }
    }
}

/// Where a GLUE TSV keeps its fields. `headerless` files have exactly `columnCount` columns.
public struct TSVLayout: Sendable, Equatable {
    public var headerless: Bool
    public var columnCount: Int?
    public var id: TSVColumn?
    public var textA: TSVColumn
    public var textB: TSVColumn?
    /// nil for test files.
    public var label: TSVColumn?

    public init(
        headerless: Bool, columnCount: Int? = nil, id: TSVColumn?, textA: TSVColumn, textB: TSVColumn? = nil,
        label: TSVColumn?
    ) {
        self.headerless = headerless
        self.columnCount = columnCount
        self.id = id
        self.textA = textA
        self.textB = textB
        self.label = label
    }

    /// A file with a header row whose columns are named: `id` (nil: none), text A, text B (pairs) and the
    /// label (nil: a test file).
    public static func header(id: String?, _ textA: String, _ textB: String? = nil, label: String? = nil) -> TSVLayout {
        TSVLayout(
            headerless: false, id: id.map(TSVColumn.name), textA: .name(textA), textB: textB.map(TSVColumn.name),
            label: label.map(TSVColumn.name))
    }
}

/// Everything the CLI, the batcher and the metrics need to know about a task.
public struct TaskSpec: Sendable, Equatable {
    /// Canonical lowercase name ("sst2", "arc-easy").
    public var name: String
    /// Official spelling ("SST-2").
    public var displayName: String
    public var type: TaskType
    /// Class names in label-id order (what appears in the files); empty for regression and multiple choice.
    public var labels: [String]
    /// Output width of the head: classes, 1 for regression, 1 score per choice for multiple choice.
    public var numLabels: Int
    /// Metrics computed by `Metrics.compute` (keys of its result).
    public var metrics: [String]
    /// The metric used for model selection.
    public var mainMetric: String
    /// Default max sequence length (special tokens included).
    public var defaultMaxLength: Int
    /// Splits that exist for this task.
    public var splits: [Split]
    /// Folder names tried under the data dir, in order (first is canonical).
    public var directories: [String]
    /// GLUE: file name per split; multiple choice: likewise.
    public var fileNames: [Split: String]
    /// GLUE TSV layout for labelled splits and for test splits (nil for multiple choice).
    public var trainLayout: TSVLayout?
    public var testLayout: TSVLayout?
    /// GLUE server file name per test split ("MNLI-m.tsv"); empty for non-GLUE tasks.
    public var submissionFiles: [Split: String]

    public var isGLUE: Bool { trainLayout != nil }
    public var isRegression: Bool { type == .regression }
    public var isMultipleChoice: Bool { type == .multipleChoice }

    /// Label name to class id; nil when the name is not in `labels`.
    public func labelId(_ name: String) -> Int? { labels.firstIndex(of: name) }

    public func layout(for split: Split) -> TSVLayout? { split.isTest ? testLayout : trainLayout }
}

/// Looks tasks up by their lowercase GLUE names (and common spellings: "sst-2", "sts-b", "mnli-mm", "csqa").
public enum TaskRegistry {
    public static let all: [TaskSpec] = [
        cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli, ax,
        arcEasy, arcChallenge, commonsenseQA
    ]

    /// The GLUE tasks that count toward the GLUE score (AX is diagnostic only).
    public static let glueScoreTasks = ["cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli"]

    private static let aliases: [String: String] = [
        "sst-2": "sst2", "sst": "sst2", "sts-b": "stsb", "sts": "stsb", "mnli-m": "mnli", "mnli-mm": "mnli",
        "diagnostic": "ax", "arc_easy": "arc-easy", "arceasy": "arc-easy", "arc_challenge": "arc-challenge",
        "arcchallenge": "arc-challenge", "csqa": "commonsenseqa", "commonsense_qa": "commonsenseqa",
        "commonsense-qa": "commonsenseqa"
    ]

    public static var names: [String] { all.map(\.name) }

    /// Case-insensitive lookup. Throws `unknownTask` listing the known names.
    public static func task(named raw: String) throws -> TaskSpec {
        let key = raw.lowercased().trimmingCharacters(in: .whitespaces)
        let name = aliases[key] ?? key
        guard let spec = all.first(where: { $0.name == name }) else {
            throw DataError(
                .unknownTask, field: "task",
                "unknown task '\(raw)'; known tasks: \(names.joined(separator: ", "))")
        }
        return spec
    }

    // MARK: GLUE

    private static let std: [Split: String] = [.train: "train.tsv", .dev: "dev.tsv", .test: "test.tsv"]
    private static let glueSplits: [Split] = [.train, .dev, .test]
    private static let nli2 = ["entailment", "not_entailment"]
    private static let binary = ["0", "1"]

    public static let cola = TaskSpec(
        name: "cola", displayName: "CoLA", type: .singleSentence, labels: binary, numLabels: 2,
        metrics: ["mcc", "accuracy"], mainMetric: "mcc", defaultMaxLength: 128, splits: glueSplits,
        directories: ["CoLA"], fileNames: std,
        // train/dev: source, label, original label mark, sentence; no header.
        trainLayout: TSVLayout(headerless: true, columnCount: 4, id: nil, textA: .index(3), textB: nil, label: .index(1)),
        testLayout: .header(id: "index", "sentence"),
        submissionFiles: [.test: "CoLA.tsv"])

    public static let sst2 = TaskSpec(
        name: "sst2", displayName: "SST-2", type: .singleSentence, labels: binary, numLabels: 2,
        metrics: ["accuracy"], mainMetric: "accuracy", defaultMaxLength: 128, splits: glueSplits,
        directories: ["SST-2"], fileNames: std,
        trainLayout: .header(id: nil, "sentence", label: "label"),
        testLayout: .header(id: "index", "sentence"),
        submissionFiles: [.test: "SST-2.tsv"])

    public static let mrpc = TaskSpec(
        name: "mrpc", displayName: "MRPC", type: .sentencePair, labels: binary, numLabels: 2,
        metrics: ["f1", "accuracy"], mainMetric: "f1", defaultMaxLength: 128, splits: glueSplits,
        directories: ["MRPC"], fileNames: std,
        trainLayout: .header(id: nil, "#1 String", "#2 String", label: "Quality"),
        testLayout: .header(id: "index", "#1 String", "#2 String"),
        submissionFiles: [.test: "MRPC.tsv"])

    public static let stsb = TaskSpec(
        name: "stsb", displayName: "STS-B", type: .regression, labels: [], numLabels: 1,
        metrics: ["pearson", "spearman"], mainMetric: "pearson", defaultMaxLength: 128, splits: glueSplits,
        directories: ["STS-B"], fileNames: std,
        trainLayout: .header(id: "index", "sentence1", "sentence2", label: "score"),
        testLayout: .header(id: "index", "sentence1", "sentence2"),
        submissionFiles: [.test: "STS-B.tsv"])

    public static let qqp = TaskSpec(
        name: "qqp", displayName: "QQP", type: .sentencePair, labels: binary, numLabels: 2,
        metrics: ["f1", "accuracy"], mainMetric: "f1", defaultMaxLength: 128, splits: glueSplits,
        directories: ["QQP", "QQP-clean"], fileNames: std,
        // id, qid1, qid2, question1, question2, is_duplicate; test: id, question1, question2.
        trainLayout: .header(id: "id", "question1", "question2", label: "is_duplicate"),
        testLayout: .header(id: "id", "question1", "question2"),
        submissionFiles: [.test: "QQP.tsv"])

    public static let mnli = TaskSpec(
        name: "mnli", displayName: "MNLI", type: .sentencePair, labels: ["contradiction", "entailment", "neutral"],
        numLabels: 3, metrics: ["accuracy"], mainMetric: "accuracy", defaultMaxLength: 128,
        splits: [.train, .dev, .devMismatched, .test, .testMismatched], directories: ["MNLI"],
        fileNames: [
            .train: "train.tsv", .dev: "dev_matched.tsv", .devMismatched: "dev_mismatched.tsv",
            .test: "test_matched.tsv", .testMismatched: "test_mismatched.tsv"
        ],
        // index, promptID, pairID, genre, 4 parse columns, sentence1, sentence2, label1..label5, gold_label.
        trainLayout: .header(id: "index", "sentence1", "sentence2", label: "gold_label"),
        testLayout: .header(id: "index", "sentence1", "sentence2"),
        submissionFiles: [.test: "MNLI-m.tsv", .testMismatched: "MNLI-mm.tsv"])

    public static let qnli = TaskSpec(
        name: "qnli", displayName: "QNLI", type: .sentencePair, labels: nli2, numLabels: 2,
        metrics: ["accuracy"], mainMetric: "accuracy", defaultMaxLength: 128, splits: glueSplits,
        directories: ["QNLI", "QNLIv2"], fileNames: std,
        trainLayout: .header(id: "index", "question", "sentence", label: "label"),
        testLayout: .header(id: "index", "question", "sentence"),
        submissionFiles: [.test: "QNLI.tsv"])

    public static let rte = pairNLI(name: "rte", display: "RTE", labels: nli2)
    public static let wnli = pairNLI(name: "wnli", display: "WNLI", labels: binary)

    /// GLUE diagnostic (AX): test only, predicted by an MNLI model, submitted as AX.tsv.
    public static let ax = TaskSpec(
        name: "ax", displayName: "AX", type: .sentencePair, labels: mnli.labels, numLabels: 3,
        metrics: ["mcc"], mainMetric: "mcc", defaultMaxLength: 128, splits: [.test],
        directories: ["diagnostic", "AX"], fileNames: [.test: "diagnostic.tsv"],
        trainLayout: .header(id: "index", "sentence1", "sentence2", label: "label"),
        testLayout: .header(id: "index", "sentence1", "sentence2"),
        submissionFiles: [.test: "AX.tsv"])

    private static func pairNLI(name: String, display: String, labels: [String]) -> TaskSpec {
        TaskSpec(
            name: name, displayName: display, type: .sentencePair, labels: labels, numLabels: labels.count,
            metrics: ["accuracy"], mainMetric: "accuracy", defaultMaxLength: 128, splits: glueSplits,
            directories: [display], fileNames: std,
            trainLayout: .header(id: "index", "sentence1", "sentence2", label: "label"),
            testLayout: .header(id: "index", "sentence1", "sentence2"),
            submissionFiles: [.test: "\(display).tsv"])
    }

    // MARK: Multiple choice

    public static let arcEasy = arc(name: "arc-easy", display: "ARC-Easy")
    public static let arcChallenge = arc(name: "arc-challenge", display: "ARC-Challenge")

    private static func arc(name: String, display: String) -> TaskSpec {
        TaskSpec(
            name: name, displayName: display, type: .multipleChoice, labels: [], numLabels: 1,
            metrics: ["accuracy"], mainMetric: "accuracy", defaultMaxLength: 128, splits: glueSplits,
            directories: [display, "ARC-V1-Feb2018-2/\(display)"],
            fileNames: [.train: "\(display)-Train.jsonl", .dev: "\(display)-Dev.jsonl", .test: "\(display)-Test.jsonl"],
            trainLayout: nil, testLayout: nil, submissionFiles: [:])
    }

    public static let commonsenseQA = TaskSpec(
        name: "commonsenseqa", displayName: "CommonsenseQA", type: .multipleChoice, labels: [], numLabels: 1,
        metrics: ["accuracy"], mainMetric: "accuracy", defaultMaxLength: 128, splits: glueSplits,
        directories: ["commonsenseqa", "CommonsenseQA", "csqa"],
        fileNames: [
            .train: "train_rand_split.jsonl", .dev: "dev_rand_split.jsonl",
            .test: "test_rand_split_no_answers.jsonl"
        ],
        trainLayout: nil, testLayout: nil, submissionFiles: [:])
}

extension TaskSpec {
    /// Finds the file of `split` under `dataDir`. Accepts the layouts `dataDir/glue/<Task>/`, `dataDir/<Task>/`,
    /// `dataDir/arc/<ARC-Easy>/`, and `dataDir` itself being the task folder.
    public func file(for split: Split, dataDir: URL) throws -> URL {
        guard splits.contains(split), let fileName = fileNames[split] else {
            throw DataError(
                .unsupportedSplit, field: "split",
                "task \(name) has no split '\(split.rawValue)'; available: \(splits.map(\.rawValue).joined(separator: ", "))")
        }
        let group = isGLUE ? "glue" : (name.hasPrefix("arc") ? "arc" : "")
        var candidates: [URL] = []
        for dir in directories {
            if !group.isEmpty { candidates.append(dataDir.appendingPathComponent(group).appendingPathComponent(dir)) }
            candidates.append(dataDir.appendingPathComponent(dir))
        }
        candidates.append(dataDir)
        var names = [fileName]
        if name == "ax" { names.append("AX.tsv") }
        for dir in candidates {
            for n in names {
                let url = dir.appendingPathComponent(n)
                if FileManager.default.fileExists(atPath: url.path) { return url }
            }
        }
        let tried = candidates.first.map { $0.appendingPathComponent(fileName).path } ?? fileName
        throw DataError(
            .fileNotFound, file: tried,
            "no \(fileName) for task \(name) under \(dataDir.path) "
                + "(looked in \(candidates.map(\.path).joined(separator: ", "))); "
                + "pass --data-dir pointing at a folder with this layout (e.g. glue/RTE/train.tsv)")
    }
}

extension TaskSpec {
    /// Loads `split` with the reader this task needs (GLUE TSV or multiple-choice jsonl).
    public func load(split: Split, dataDir: URL) throws -> TaskExamples {
        isMultipleChoice
            ? .multipleChoice(try MultipleChoiceReader.load(task: self, split: split, dataDir: dataDir))
            : .classification(try GLUEReader.load(task: self, split: split, dataDir: dataDir))
    }
}
