import Foundation
import XCTest
@testable import FreeLBData
import FreeLBTokenizers

/// A tiny stand-in tokenizer: whitespace split, FNV-1a hash -> id in 1000..<1999, `[CLS] a [SEP] (b [SEP])`,
/// pad id 0. Truncation follows the protocol: `maxLength` counts the special tokens.
struct FakeTokenizer: Tokenizer {
    static let cls: Int32 = 101, sep: Int32 = 102

    static func id(_ word: Substring) -> Int32 {
        var h: UInt32 = 2_166_136_261
        for b in word.utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
        return 1000 + Int32(h % 999)
    }

    func encode(
        _ text: String, pair: String?, maxLength: Int?, truncation: TruncationStrategy,
        addSpecialTokens: Bool
    ) -> Encoding {
        var a = text.split(whereSeparator: \.isWhitespace)
        var b = pair.map { $0.split(whereSeparator: \.isWhitespace) } ?? []
        let special = addSpecialTokens ? (pair == nil ? 2 : 3) : 0
        if let maxLength {
            while a.count + b.count + special > maxLength {
                var removed = true
                switch truncation {
                case .longestFirst:
                    if a.count > b.count { a.removeLast() } else if !b.isEmpty { b.removeLast() } else { removed = false }
                case .onlyFirst: if !a.isEmpty { a.removeLast() } else { removed = false }
                case .onlySecond: if !b.isEmpty { b.removeLast() } else { removed = false }
                case .doNotTruncate: removed = false
                }
                if !removed { break }
            }
        }
        var ids: [Int32] = [], types: [Int32] = [], tokens: [String] = []
        func add(_ id: Int32, _ t: Int32, _ s: String) { ids.append(id); types.append(t); tokens.append(s) }
        if addSpecialTokens { add(Self.cls, 0, "[CLS]") }
        for w in a { add(Self.id(w), 0, String(w)) }
        if addSpecialTokens { add(Self.sep, 0, "[SEP]") }
        if pair != nil {
            for w in b { add(Self.id(w), 1, String(w)) }
            if addSpecialTokens { add(Self.sep, 1, "[SEP]") }
        }
        return Encoding(ids: ids, typeIds: types, attentionMask: Array(repeating: 1, count: ids.count), tokens: tokens)
    }

    func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String { ids.map(String.init).joined(separator: " ") }
    var padTokenId: Int32 { 0 }
    var padToken: String { "[PAD]" }
    var vocabularySize: Int { 2000 }
}

/// A fresh temporary folder per test, removed afterwards.
final class TempDir {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("freelb-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    /// Writes `text` (UTF-8) at `relative`, creating folders; returns its URL.
    @discardableResult
    func write(_ relative: String, _ text: String, bom: Bool = false) throws -> URL {
        try writeBytes(relative, (bom ? [0xEF, 0xBB, 0xBF] : []) + Array(text.utf8))
    }

    @discardableResult
    func writeBytes(_ relative: String, _ bytes: [UInt8]) throws -> URL {
        let f = url.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: f.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: f)
        return f
    }
}

/// Asserts that `body` throws a `DataError` of `kind` naming `line` and `field` (and the file, when given).
func assertDataError<T>(
    _ body: @autoclosure () throws -> T, kind: DataError.Kind, file: URL? = nil, line: Int?,
    field: String?, _ message: String = "", sourceFile: StaticString = #filePath,
    sourceLine: UInt = #line
) {
    do {
        _ = try body()
        XCTFail("expected DataError.\(kind), nothing thrown. \(message)", file: sourceFile, line: sourceLine)
    } catch let e as DataError {
        XCTAssertEqual(e.kind, kind, "\(e)", file: sourceFile, line: sourceLine)
        XCTAssertEqual(e.line, line, "\(e)", file: sourceFile, line: sourceLine)
        XCTAssertEqual(e.field, field, "\(e)", file: sourceFile, line: sourceLine)
        if let file {
            XCTAssertEqual(e.file, file.path, "\(e)", file: sourceFile, line: sourceLine)
            XCTAssertTrue(
                e.description.contains(file.path), "description names the file: \(e)", file: sourceFile, line: sourceLine)
        }
        if let field {
            XCTAssertTrue(e.description.contains(field), "description names the field: \(e)", file: sourceFile, line: sourceLine)
        }
    } catch {
        XCTFail("expected DataError, got \(error)", file: sourceFile, line: sourceLine)
    }
}
