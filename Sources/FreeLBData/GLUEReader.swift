import Foundation

/// Reads the official GLUE TSVs. Tab-separated, no quoting (quotes are ordinary characters, as in GLUE's
/// reader), a UTF-8 BOM is dropped (MRPC), columns are found by header name (CoLA train/dev: by position).
public enum GLUEReader {
    /// Loads `split` of `task` from `dataDir` (see `TaskSpec.file(for:dataDir:)` for the accepted layouts).
    public static func load(task: TaskSpec, split: Split, dataDir: URL) throws -> [Example] {
        try read(file: task.file(for: split, dataDir: dataDir), task: task, split: split)
    }

    /// Reads one file with the layout of `task`'s `split` (labelled for train/dev, unlabelled for test).
    public static func read(file url: URL, task: TaskSpec, split: Split) throws -> [Example] {
        guard let layout = task.layout(for: split) else {
            throw DataError(.invalidArgument, file: url.path, "task \(task.name) is not a GLUE task")
        }
        return try read(file: url, task: task, layout: layout, guidPrefix: split.rawValue)
    }

    static func read(file url: URL, task: TaskSpec, layout: TSVLayout, guidPrefix: String) throws -> [Example] {
        let path = url.path
        let lines = try TextFile.readLines(url) { column, firstLine in
            let names = firstLine.split(separator: "\t", omittingEmptySubsequences: false)
            return !layout.headerless && names.indices.contains(column) ? String(names[column]) : "column \(column + 1)"
        }
        let header =
            layout.headerless
            ? []
            : lines[0].text.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        let expected = layout.headerless ? (layout.columnCount ?? 0) : header.count
        if !layout.headerless && lines.count == 1 {
            throw DataError(.emptyFile, file: path, line: 1, "file has a header but no data rows")
        }

        func resolve(_ column: TSVColumn?) throws -> Int? {
            guard let column else { return nil }
            switch column {
            case .index(let i): return i
            case .name(let n):
                guard let i = header.firstIndex(of: n) else {
                    throw DataError(
                        .missingColumn, file: path, line: 1, field: n,
                        "missing column '\(n)'; header has: \(header.joined(separator: ", "))")
                }
                return i
            }
        }
        let idCol = try resolve(layout.id)
        guard let aCol = try resolve(layout.textA) else { return [] }
        let bCol = try resolve(layout.textB)
        let labelCol = try resolve(layout.label)
        func fieldName(_ i: Int) -> String { layout.headerless ? "column \(i + 1)" : header[i] }

        var examples: [Example] = []
        examples.reserveCapacity(lines.count)
        for line in lines.dropFirst(layout.headerless ? 0 : 1) {
            let fields = line.text.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == expected else {
                let which = fields.count < expected ? fieldName(fields.count) : "column \(expected + 1)"
                throw DataError(
                    .raggedRow, file: path, line: line.number, field: which,
                    "row has \(fields.count) fields, expected \(expected)")
            }
            var label: Label?
            if let labelCol {
                let raw = String(fields[labelCol])
                if task.isRegression {
                    guard let v = Float(raw.trimmingCharacters(in: .whitespaces)), v.isFinite else {
                        throw DataError(
                            .invalidNumber, file: path, line: line.number, field: fieldName(labelCol),
                            "'\(raw)' is not a number")
                    }
                    label = .score(v)
                } else {
                    guard let id = task.labelId(raw) else {
                        throw DataError(
                            .invalidLabel, file: path, line: line.number, field: fieldName(labelCol),
                            "label '\(raw)' is not one of \(task.labels.joined(separator: ", "))")
                    }
                    label = .classIndex(id)
                }
            }
            let guid = idCol.map { String(fields[$0]) } ?? "\(guidPrefix)-\(line.number)"
            examples.append(
                Example(
                    guid: guid, textA: String(fields[aCol]), textB: bCol.map { String(fields[$0]) },
                    label: label))
        }
        return examples
    }

    /// Reads MRPC's `dev_ids.tsv` (two tab-separated sentence ids per line, no header).
    public static func readMRPCDevIds(file url: URL) throws -> [(String, String)] {
        try TextFile.readLines(url).map { line in
            let f = line.text.split(separator: "\t", omittingEmptySubsequences: false)
            guard f.count == 2 else {
                throw DataError(
                    .raggedRow, file: url.path, line: line.number, field: f.count < 2 ? "column 2" : "column 3",
                    "row has \(f.count) fields, expected 2")
            }
            return (String(f[0]), String(f[1]))
        }
    }

    /// Builds GLUE's MRPC `train.tsv`/`dev.tsv`/`test.tsv` from the MSR sources exactly as
    /// download_glue_data.py's `format_mrpc` does (the BOM header line is copied to train/dev; test gets
    /// `index\t#1 ID\t#2 ID\t#1 String\t#2 String`; each row is whitespace-stripped and re-joined).
    public static func formatMRPC(trainSource: URL, testSource: URL, devIds: URL, into dir: URL) throws {
        let ids = Set(try readMRPCDevIds(file: devIds).map { "\($0.0)\t\($0.1)" })
        func rawLines(_ url: URL) throws -> [String] {
            let data: Data
            do { data = try Data(contentsOf: url) } catch {
                throw DataError(.fileNotFound, file: url.path, "cannot read: \(error.localizedDescription)")
            }
            let bytes = [UInt8](data)
            if let bad = TextFile.firstInvalidUTF8Offset(bytes) {
                throw DataError(.invalidUTF8, file: url.path, "invalid UTF-8 at byte offset \(bad)")
            }
            let text = String(decoding: bytes, as: UTF8.self)  // keeps a BOM as U+FEFF, as Python's utf-8 does
            var lines = text.components(separatedBy: "\n")
            if lines.last == "" { lines.removeLast() }
            guard !lines.isEmpty else { throw DataError(.emptyFile, file: url.path, line: 1, "file is empty") }
            return lines
        }
        func fields(_ row: String, _ url: URL, _ n: Int) throws -> [Substring] {
            let f = row.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\t", omittingEmptySubsequences: false)
            guard f.count == 5 else {
                throw DataError(.raggedRow, file: url.path, line: n, "row has \(f.count) fields, expected 5")
            }
            return f
        }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let test = try rawLines(testSource)
        var testOut = "index\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
        for (i, row) in test.dropFirst().enumerated() {
            let f = try fields(row, testSource, i + 2)
            testOut += "\(i)\t\(f[1])\t\(f[2])\t\(f[3])\t\(f[4])\n"
        }
        let train = try rawLines(trainSource)
        var trainOut = train[0] + "\n", devOut = train[0] + "\n"
        for (i, row) in train.dropFirst().enumerated() {
            let f = try fields(row, trainSource, i + 2)
            let out = "\(f[0])\t\(f[1])\t\(f[2])\t\(f[3])\t\(f[4])\n"
            if ids.contains("\(f[1])\t\(f[2])") { devOut += out } else { trainOut += out }
        }
        try Data(trainOut.utf8).write(to: dir.appendingPathComponent("train.tsv"))
        try Data(devOut.utf8).write(to: dir.appendingPathComponent("dev.tsv"))
        try Data(testOut.utf8).write(to: dir.appendingPathComponent("test.tsv"))
    }
}
