import Foundation

/// One non-empty physical line of a text file: its 1-based line number and its text (no `\n`, no trailing `\r`).
struct NumberedLine {
    var number: Int
    var text: String
}

/// Reads a text file strictly: UTF-8 (a leading BOM is dropped), `\n` or `\r\n` line ends, blank lines skipped.
enum TextFile {
    /// Throws `fileNotFound`, `unreadable`, `emptyFile`, or `invalidUTF8` (with the line, and for a
    /// tab-separated file the 1-based column via `columnName`).
    /// `columnName(column, firstLine)` names the 0-based tab column of an invalid byte (the header is line 1).
    static func readLines(_ url: URL, columnName: ((Int, String) -> String)? = nil) throws -> [NumberedLine] {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else {
            throw DataError(.fileNotFound, file: path, "file not found")
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DataError(.unreadable, file: path, "cannot read file: \(error.localizedDescription)")
        }
        var bytes = [UInt8](data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }  // utf-8-sig
        if let bad = firstInvalidUTF8Offset(bytes) {
            let line = 1 + bytes[..<bad].reduce(0) { $1 == 0x0A ? $0 + 1 : $0 }
            let lineStart = bytes[..<bad].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
            let column = bytes[lineStart..<bad].reduce(0) { $1 == 0x09 ? $0 + 1 : $0 }
            let firstLine = String(decoding: bytes.prefix { $0 != 0x0A }, as: UTF8.self)
            throw DataError(
                .invalidUTF8, file: path, line: line, field: columnName?(column, firstLine),
                String(format: "invalid UTF-8 byte 0x%02X at byte offset %d", bytes[bad], bad))
        }
        var lines: [NumberedLine] = []
        var number = 0
        var start = 0
        while start < bytes.count {
            number += 1
            var end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
            let next = end + 1
            if end > start && bytes[end - 1] == 0x0D { end -= 1 }
            if end > start {
                lines.append(NumberedLine(number: number, text: String(decoding: bytes[start..<end], as: UTF8.self)))
            }
            start = next
        }
        if lines.isEmpty { throw DataError(.emptyFile, file: path, line: 1, "file is empty") }
        return lines
    }

    /// Offset of the first byte that is not part of a well-formed UTF-8 sequence (no overlongs, no surrogates,
    /// nothing above U+10FFFF), or nil when the whole buffer is valid.
    static func firstInvalidUTF8Offset(_ b: [UInt8]) -> Int? {
        var i = 0
        let n = b.count
        while i < n {
            let c = b[i]
            if c < 0x80 { i += 1; continue }
            var need = 0
            var lo: UInt8 = 0x80, hi: UInt8 = 0xBF  // allowed range of the second byte
            switch c {
            case 0xC2...0xDF: need = 1
            case 0xE0: need = 2; lo = 0xA0
            case 0xE1...0xEC, 0xEE, 0xEF: need = 2
            case 0xED: need = 2; hi = 0x9F
            case 0xF0: need = 3; lo = 0x90
            case 0xF1...0xF3: need = 3
            case 0xF4: need = 3; hi = 0x8F
            default: return i
            }
            if i + need >= n { return i }
            if b[i + 1] < lo || b[i + 1] > hi { return i }
            var k = 2
            while k <= need {
                if b[i + k] & 0xC0 != 0x80 { return i }
                k += 1
            }
            i += need + 1
        }
        return nil
    }
}

/// A minimal RFC 4180 CSV splitter (quoted fields, doubled quotes, commas and newlines inside quotes).
enum CSV {
    /// Rows with the 1-based line number where each row starts. Throws on an unterminated quote.
    static func parse(_ text: String, path: String) throws -> [(line: Int, fields: [String])] {
        var rows: [(line: Int, fields: [String])] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var inQuotes = false
        var line = 1
        var rowLine = 1
        var atFieldStart = true
        let bytes = Array(text.utf8)
        var i = 0
        func endField() { fields.append(String(decoding: field, as: UTF8.self)); field.removeAll(keepingCapacity: true) }
        while i < bytes.count {
            let c = bytes[i]
            if inQuotes {
                if c == 0x22 {
                    if i + 1 < bytes.count && bytes[i + 1] == 0x22 { field.append(0x22); i += 1 } else { inQuotes = false }
                } else {
                    if c == 0x0A { line += 1 }
                    field.append(c)
                }
            } else if c == 0x22 && atFieldStart {
                inQuotes = true
            } else if c == 0x2C {
                endField(); atFieldStart = true; i += 1; continue
            } else if c == 0x0A || c == 0x0D {
                if c == 0x0D && i + 1 < bytes.count && bytes[i + 1] == 0x0A { i += 1 }
                endField()
                if !(fields.count == 1 && fields[0].isEmpty) { rows.append((rowLine, fields)) }
                fields.removeAll(); line += 1; rowLine = line; atFieldStart = true; i += 1; continue
            } else {
                field.append(c)
            }
            atFieldStart = false
            i += 1
        }
        if inQuotes { throw DataError(.raggedRow, file: path, line: rowLine, "unterminated quoted field") }
        if !field.isEmpty || !fields.isEmpty {
            endField()
            rows.append((rowLine, fields))
        }
        return rows
    }
}
