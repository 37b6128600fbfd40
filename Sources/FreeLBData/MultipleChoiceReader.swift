import Foundation

/// Reads ARC and CommonsenseQA: jsonl with `{"id", "question": {"stem", "choices": [{"label", "text"}]}, "answerKey"?}`.
/// ARC has 3 to 5 choices labelled A–E or 1–5; CommonsenseQA has 5 (A–E) and no `answerKey` in test.
public enum MultipleChoiceReader {
    public static func load(task: TaskSpec, split: Split, dataDir: URL) throws -> [MultipleChoiceExample] {
        guard task.isMultipleChoice else {
            throw DataError(.invalidArgument, field: "task", "task \(task.name) is not a multiple-choice task")
        }
        return try readJSONL(file: task.file(for: split, dataDir: dataDir))
    }

    /// Each non-blank line is one question. Errors name the file, line and JSON field.
    public static func readJSONL(file url: URL) throws -> [MultipleChoiceExample] {
        let path = url.path
        var out: [MultipleChoiceExample] = []
        for line in try TextFile.readLines(url) {
            let n = line.number
            let object: Any
            do {
                object = try JSONSerialization.jsonObject(with: Data(line.text.utf8))
            } catch {
                throw DataError(.invalidJSON, file: path, line: n, "line is not valid JSON")
            }
            guard let root = object as? [String: Any] else {
                throw DataError(.invalidJSON, file: path, line: n, "line is not a JSON object")
            }
            let id = try string(root["id"], "id", path, n)
            guard let q = root["question"] as? [String: Any] else {
                throw DataError(.missingField, file: path, line: n, field: "question", "missing object 'question'")
            }
            let stem = try string(q["stem"], "question.stem", path, n)
            guard let rawChoices = q["choices"] as? [Any] else {
                throw DataError(.missingField, file: path, line: n, field: "question.choices", "missing array 'question.choices'")
            }
            var texts: [String] = []
            var labels: [String] = []
            for (i, c) in rawChoices.enumerated() {
                guard let choice = c as? [String: Any] else {
                    throw DataError(
                        .missingField, file: path, line: n, field: "question.choices[\(i)]", "choice is not an object")
                }
                texts.append(try string(choice["text"], "question.choices[\(i)].text", path, n))
                labels.append(try string(choice["label"], "question.choices[\(i)].label", path, n))
            }
            guard texts.count >= 2 else {
                throw DataError(
                    .tooFewChoices, file: path, line: n, field: "question.choices",
                    "question has \(texts.count) choice(s); at least 2 are needed")
            }
            var key: String?
            if let value = root["answerKey"], !(value is NSNull) { key = try string(value, "answerKey", path, n) }
            let answer = try answerIndex(key, labels: labels, field: "answerKey", path: path, line: n)
            out.append(
                MultipleChoiceExample(
                    id: id, question: stem, context: nil, choices: texts,
                    choiceLabels: labels, label: answer))
        }
        return out
    }

    /// The position of answer key `key` among the choice labels (nil: no key, an unlabelled question).
    private static func answerIndex(_ key: String?, labels: [String], field: String, path: String, line: Int) throws -> Int? {
        guard let key else { return nil }
        guard let index = labels.firstIndex(of: key) else {
            throw DataError(
                .invalidLabel, file: path, line: line, field: field,
                "\(field) '\(key)' is not one of the choice labels \(labels.joined(separator: ", "))")
        }
        return index
    }

    /// Reads ARC's CSV release (`questionID, ..., AnswerKey, ..., question, ...`): the choices are inline in
    /// `question` as "stem (A) first (B) second ..." (or "(1) ... (2) ...").
    public static func readARCCSV(file url: URL) throws -> [MultipleChoiceExample] {
        let path = url.path
        let lines = try TextFile.readLines(url)
        let text = lines.map(\.text).joined(separator: "\n")
        // Line numbers inside the joined text shift when blank lines were skipped; map them back.
        let lineNumbers = lines.map(\.number)
        let rows = try CSV.parse(text, path: path)
        guard let header = rows.first?.fields else { throw DataError(.emptyFile, file: path, line: 1, "file is empty") }
        func col(_ name: String) throws -> Int {
            guard let i = header.firstIndex(of: name) else {
                throw DataError(.missingColumn, file: path, line: 1, field: name, "missing column '\(name)'")
            }
            return i
        }
        let idCol = try col("questionID"), keyCol = try col("AnswerKey"), qCol = try col("question")
        var out: [MultipleChoiceExample] = []
        for row in rows.dropFirst() {
            let n = lineNumbers[min(row.line, lineNumbers.count) - 1]
            guard row.fields.count == header.count else {
                throw DataError(.raggedRow, file: path, line: n, "row has \(row.fields.count) fields, expected \(header.count)")
            }
            guard let (stem, labels, choices) = splitInlineChoices(row.fields[qCol]), choices.count >= 2 else {
                throw DataError(
                    .tooFewChoices, file: path, line: n, field: "question",
                    "no inline choices '(A) ...' or '(1) ...' found")
            }
            let key = row.fields[keyCol]
            let answer = try answerIndex(key.isEmpty ? nil : key, labels: labels, field: "AnswerKey", path: path, line: n)
            out.append(
                MultipleChoiceExample(
                    id: row.fields[idCol], question: stem, choices: choices,
                    choiceLabels: labels, label: answer))
        }
        return out
    }

    /// "stem (A) x (B) y" -> ("stem", ["A", "B"], ["x", "y"]). Markers must run in order from A or 1.
    static func splitInlineChoices(_ s: String) -> (String, [String], [String])? {
        for alphabet in [["A", "B", "C", "D", "E", "F"], ["1", "2", "3", "4", "5", "6"]] {
            // The first "(A) " that is followed by "(B) " starts the choices.
            var searchFrom = s.startIndex
            while let first = s.range(of: "(\(alphabet[0])) ", range: searchFrom..<s.endIndex) {
                var markers = [first]
                var k = 1
                while k < alphabet.count,
                    let next = s.range(of: " (\(alphabet[k])) ", range: markers[k - 1].upperBound..<s.endIndex)
                {
                    markers.append(next)
                    k += 1
                }
                if markers.count >= 2 {
                    let stem = s[..<first.lowerBound].trimmingCharacters(in: .whitespaces)
                    var choices: [String] = []
                    for (i, m) in markers.enumerated() {
                        let end = i + 1 < markers.count ? markers[i + 1].lowerBound : s.endIndex
                        choices.append(s[m.upperBound..<end].trimmingCharacters(in: .whitespaces))
                    }
                    return (stem, Array(alphabet.prefix(markers.count)), choices)
                }
                searchFrom = first.upperBound
            }
        }
        return nil
    }

    private static func string(_ value: Any?, _ field: String, _ path: String, _ line: Int) throws -> String {
        if let s = value as? String { return s }
        if let n = value as? NSNumber, !(value is Bool) { return n.stringValue }
        if value == nil || value is NSNull {
            throw DataError(.missingField, file: path, line: line, field: field, "missing field '\(field)'")
        }
        throw DataError(.missingField, file: path, line: line, field: field, "field '\(field)' is not a string")
    }
}
