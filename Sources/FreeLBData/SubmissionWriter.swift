import Foundation

/// Writes test predictions: GLUE in the layout the GLUE server accepts: one file per task
/// (CoLA.tsv, SST-2.tsv, MRPC.tsv, STS-B.tsv, QQP.tsv, MNLI-m.tsv, MNLI-mm.tsv, QNLI.tsv, RTE.tsv, WNLI.tsv, AX.tsv),
/// header `index\tprediction`, then one row per test example: its index and the label name
/// (STS-B: the score clipped to [0, 5], 3 decimals). Zip the folder's files to submit.
public enum SubmissionWriter {
    /// Classification: `predictions` are class ids, `ids` the examples' `guid`s (the test file's index column).
    @discardableResult
    public static func write(
        task: TaskSpec, split: Split = .test, ids: [String], predictions: [Int],
        to directory: URL
    ) throws -> URL {
        guard !task.isRegression else {
            throw DataError(.invalidArgument, field: "predictions", "task \(task.name) is a regression task; pass scores")
        }
        _ = try fileName(task: task, split: split)
        var names: [String] = []
        names.reserveCapacity(predictions.count)
        for (i, p) in predictions.enumerated() {
            guard task.labels.indices.contains(p) else {
                throw DataError(
                    .invalidLabel, field: "predictions[\(i)]",
                    "class id \(p) is outside 0..<\(task.labels.count) for \(task.name)")
            }
            names.append(task.labels[p])
        }
        return try write(task: task, split: split, ids: ids, values: names, to: directory)
    }

    /// Regression (STS-B): scores are clipped to [0, 5] and written with 3 decimals.
    @discardableResult
    public static func write(
        task: TaskSpec, split: Split = .test, ids: [String], scores: [Double],
        to directory: URL
    ) throws -> URL {
        guard task.isRegression else {
            throw DataError(.invalidArgument, field: "scores", "task \(task.name) is not a regression task; pass class ids")
        }
        let values = scores.map { String(format: "%.3f", $0.isNaN ? 0 : min(5, max(0, $0))) }
        return try write(task: task, split: split, ids: ids, values: values, to: directory)
    }

    /// Multiple choice (ARC, CommonsenseQA): the leaderboards' CSV, one `question id,answer label` line per
    /// question (no header), the label being the predicted choice's own label ("A"…"E", or "1"…"4" in
    /// some ARC questions). Written to `<task>-<split>-predictions.csv`.
    @discardableResult
    public static func writeMultipleChoice(
        task: TaskSpec, split: Split = .test, ids: [String], choiceLabels: [[String]],
        predictions: [Int], to directory: URL
    ) throws -> URL {
        guard task.isMultipleChoice else {
            throw DataError(.invalidArgument, field: "task", "task \(task.name) is not a multiple-choice task")
        }
        guard ids.count == predictions.count, choiceLabels.count == predictions.count else {
            throw DataError(
                .invalidArgument, field: "ids",
                "\(ids.count) ids and \(choiceLabels.count) questions for "
                    + "\(predictions.count) predictions")
        }
        var text = ""
        for (i, p) in predictions.enumerated() {
            guard choiceLabels[i].indices.contains(p) else {
                throw DataError(
                    .invalidLabel, field: "predictions[\(i)]",
                    "choice \(p) is outside the \(choiceLabels[i].count) choices of question \(ids[i])")
            }
            text += "\(ids[i]),\(choiceLabels[i][p])\n"
        }
        let url = directory.appendingPathComponent("\(task.name)-\(split.rawValue)-predictions.csv")
        try writeAtomically(text, to: url, what: "predictions")
        return url
    }

    /// The file name the GLUE server expects for `task`/`split` ("MNLI-mm.tsv" for MNLI `testMismatched`).
    public static func fileName(task: TaskSpec, split: Split = .test) throws -> String {
        guard let name = task.submissionFiles[split] else {
            throw DataError(
                .unsupportedSplit, field: "split",
                "no GLUE submission file for task \(task.name) split \(split.rawValue)")
        }
        return name
    }

    private static func write(task: TaskSpec, split: Split, ids: [String], values: [String], to directory: URL) throws -> URL {
        guard ids.count == values.count else {
            throw DataError(.invalidArgument, field: "ids", "\(ids.count) ids for \(values.count) predictions")
        }
        let url = directory.appendingPathComponent(try fileName(task: task, split: split))
        var text = "index\tprediction\n"
        for (id, v) in zip(ids, values) { text += "\(id)\t\(v)\n" }
        try writeAtomically(text, to: url, what: "submission")
        return url
    }

    /// Writes `text` to `url` atomically, creating its folder; a failure names the file and `what` it holds.
    private static func writeAtomically(_ text: String, to url: URL, what: String) throws {
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url, options: .atomic)
        } catch {
            throw DataError(.unreadable, file: url.path, "cannot write \(what): \(error.localizedDescription)")
        }
    }
}
