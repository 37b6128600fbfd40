import Foundation
import XCTest
@testable import FreeLBTokenizers

/// Malformed Unigram tokenizer.json files and oversized ids give a `TokenizerError` naming the file and
/// the field, never a crash or a huge allocation (issues 15 and 20).
final class UnigramLoadingErrorTests: XCTestCase {
    private static let vocabulary = #"[["<unk>", 0.0], ["<pad>", 0.0], ["▁a", -1.5], ["a", -2.0], ["b", -2.5]]"#

    private func unigramJSON(
        model: String = #""type": "Unigram", "unk_id": 0, "vocab": \#(vocabulary)"#,
        normalizer: String = "null"
    ) -> String {
        #"{"model": {\#(model)}, "normalizer": \#(normalizer), "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true}}"#
    }

    private func expectError(_ json: String, _ check: (_ field: String, _ reason: String) -> Void, line: UInt = #line) throws {
        let url = try makeTemporaryDirectory(self).appendingPathComponent("tokenizer.json")
        try json.write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try loadTokenizer(tokenizerJSON: url), line: line) { error in
            guard case let .malformedFile(path, field, reason)? = error as? TokenizerError else {
                return XCTFail("unexpected \(error)", line: line)
            }
            XCTAssertEqual(path, url.path, line: line)
            check(field, reason)
        }
    }

    private func charsmapNormalizer(_ base64: String) -> String {
        #"{"type": "Precompiled", "precompiled_charsmap": "\#(base64)"}"#
    }

    /// A 256-unit trie (root at 0) whose unit for byte "a" is `unit`, with `strings` after it.
    private func blob(unitForA unit: UInt32, strings: [UInt8] = []) -> [UInt8] {
        var units = [UInt32](repeating: 0, count: 256)
        units[0x61] = unit
        var bytes: [UInt8] = withUnsafeBytes(of: UInt32(units.count * 4).littleEndian, Array.init)
        for u in units { bytes += withUnsafeBytes(of: u.littleEndian, Array.init) }
        return bytes + strings
    }

    func testValidMinimalFileLoadsAndEncodes() throws {
        let url = try makeTemporaryDirectory(self).appendingPathComponent("tokenizer.json")
        try unigramJSON().write(to: url, atomically: true, encoding: .utf8)
        let tok = try loadTokenizer(tokenizerJSON: url)
        XCTAssertEqual(
            tok.encode("ab a", pair: nil, maxLength: nil, truncation: .longestFirst, addSpecialTokens: false).ids,
            [2, 4, 2])
        XCTAssertEqual(tok.padTokenId, 1)
        let unigram = try XCTUnwrap(tok as? UnigramTokenizer).unigram
        XCTAssertEqual(unigram.segment("▁ab").tokens, ["▁a", "b"])
        XCTAssertEqual(unigram.segment("▁cca").tokens, ["▁cc", "a"], "unknown stretch fused, keeps its text")
        XCTAssertEqual(unigram.segment("▁cca").ids, [0, 3])
        // "c" is not in the vocabulary: one fused unknown token.
        XCTAssertEqual(
            tok.encode("acc", pair: nil, maxLength: nil, truncation: .longestFirst, addSpecialTokens: false).ids,
            [2, 0])
    }

    func testScoresThatAreNotNumbers() throws {
        try expectError(unigramJSON(model: #""type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ["a", "high"]]"#)) {
            XCTAssertEqual($0, "model.vocab[1][1]")
            XCTAssertEqual($1, "expected a number, found string \"high\"")
        }
        try expectError(unigramJSON(model: #""type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ["a"]]"#)) {
            XCTAssertEqual($0, "model.vocab[1]")
            XCTAssertEqual($1, "expected [piece, score], found 1 elements")
        }
        try expectError(unigramJSON(model: #""type": "Unigram", "unk_id": 0, "vocab": [[7, 0.0]]"#)) { field, _ in
            XCTAssertEqual(field, "model.vocab[0][0]")
        }
    }

    func testMissingOrOutOfRangeUnknownId() throws {
        try expectError(unigramJSON(model: #""type": "Unigram", "vocab": \#(Self.vocabulary)"#)) {
            XCTAssertEqual($0, "model.unk_id")
            XCTAssertEqual($1, "expected the id of the unknown piece, found missing")
        }
        try expectError(unigramJSON(model: #""type": "Unigram", "unk_id": null, "vocab": \#(Self.vocabulary)"#)) {
            XCTAssertEqual($0, "model.unk_id")
            XCTAssertEqual($1, "expected the id of the unknown piece, found null")
        }
        try expectError(unigramJSON(model: #""type": "Unigram", "unk_id": 5, "vocab": \#(Self.vocabulary)"#)) {
            XCTAssertEqual($0, "model.unk_id")
            XCTAssertEqual($1, "id 5 is outside the vocabulary (5 pieces)")
        }
        try expectError(unigramJSON(model: #""type": "Unigram", "unk_id": -1, "vocab": \#(Self.vocabulary)"#)) {
            XCTAssertEqual($0, "model.unk_id")
            XCTAssertTrue($1.hasPrefix("expected a non-negative integer id"), $1)
        }
        try expectError(unigramJSON(model: #""type": "Unigram", "unk_id": 0, "vocab": []"#)) {
            XCTAssertEqual($0, "model.vocab")
            XCTAssertEqual($1, "vocabulary is empty")
        }
    }

    func testBrokenCharsmaps() throws {
        let field = "normalizer.normalizers[0].precompiled_charsmap"
        func inSequence(_ base64: String) -> String {
            #"{"type": "Sequence", "normalizers": [\#(charsmapNormalizer(base64))]}"#
        }
        try expectError(unigramJSON(normalizer: inSequence("@@not base64@@"))) {
            XCTAssertEqual($0, field)
            XCTAssertEqual($1, "not valid base64")
        }
        // A real charsmap cut short: the header announces more trie than the blob holds.
        let real = try realCharsmap()
        try expectError(unigramJSON(normalizer: inSequence(String(real.prefix(400))))) {
            XCTAssertEqual($0, field)
            XCTAssertTrue($1.hasPrefix("charsmap header gives a trie of"), $1)
        }
        try expectError(unigramJSON(normalizer: inSequence("AAAAAg=="))) {
            XCTAssertEqual($1, "charsmap trie of 33554432 bytes is larger than the 16777216 bytes accepted")
        }
        try expectError(unigramJSON(normalizer: inSequence("AAE="))) {
            XCTAssertEqual($1, "charsmap is 2 bytes, shorter than its 4-byte header")
        }
        // "a" -> a child position far outside the 256-unit trie.
        let farOffset = UInt32(0x61) | (UInt32(5000) << 10)
        try expectError(unigramJSON(normalizer: inSequence(Data(blob(unitForA: farOffset)).base64EncodedString()))) {
            XCTAssertEqual($0, field)
            XCTAssertTrue($1.hasPrefix("charsmap trie offset"), $1)
        }
        // "a" is a leaf whose replacement offset lies past the (empty) string table.
        let leaf = UInt32(0x61) | (1 << 8)
        try expectError(unigramJSON(normalizer: inSequence(Data(blob(unitForA: leaf)).base64EncodedString()))) {
            XCTAssertEqual($1, "charsmap replacement offset 353 is outside the 0-byte string table")
        }
        // The same leaf with a string table: "a" -> "b" (value 353 needs 354 bytes; put "b\0" there).
        var table = [UInt8](repeating: 0, count: 353)
        table += [0x62, 0]
        let url = try makeTemporaryDirectory(self).appendingPathComponent("tokenizer.json")
        try unigramJSON(normalizer: charsmapNormalizer(Data(blob(unitForA: leaf, strings: table)).base64EncodedString()))
            .write(to: url, atomically: true, encoding: .utf8)
        let tok = try loadTokenizer(tokenizerJSON: url)
        XCTAssertEqual(
            tok.encode("a", pair: nil, maxLength: nil, truncation: .longestFirst, addSpecialTokens: false).ids,
            [0, 4], "a -> ▁b: ▁ alone is unknown, then b")
    }

    func testSentencePieceModelAloneSaysHowToGetATokenizerJSON() throws {
        let dir = try makeTemporaryDirectory(self)
        let model = dir.appendingPathComponent("spiece.model")
        try Data([0x0A, 0x00]).write(to: model)
        XCTAssertThrowsError(try loadTokenizer(directory: dir)) { error in
            guard case let .unsupported(path, _, found)? = error as? TokenizerError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, model.path)
            XCTAssertTrue(found.contains("save_pretrained"), found)
        }
    }

    func testRegexesThatCouldBacktrackExponentiallyAreRefused() throws {
        for safe in [" {2,}", "\\A +| +\\z", "\\A▁", "[ \\t]+", "(ab)+", "(?:x|y)z"] {
            XCTAssertNil(backtrackingHazard(safe), safe)
        }
        for risky in ["(a+)+", "(a|aa)*", "((ab)*c)+", "(x{2,})*"] {
            XCTAssertNotNil(backtrackingHazard(risky), risky)
        }
        let url = try makeTemporaryDirectory(self).appendingPathComponent("tokenizer.json")
        try unigramJSON(normalizer: #"{"type": "Replace", "pattern": {"Regex": "(a+)+$"}, "content": ""}"#)
            .write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try loadTokenizer(tokenizerJSON: url)) { error in
            guard case let .unsupported(_, field, found)? = error as? TokenizerError else { return XCTFail("\(error)") }
            XCTAssertEqual(field, "normalizer.pattern.Regex")
            XCTAssertTrue(found.hasPrefix("(a+)+$ (a repeated group"), found)
        }
    }

    func testUnsupportedComponentsAreNamed() throws {
        let url = try makeTemporaryDirectory(self).appendingPathComponent("tokenizer.json")
        try unigramJSON(normalizer: #"{"type": "Sequence", "normalizers": [{"type": "Lowercase"}, {"type": "Mystery"}]}"#)
            .write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try loadTokenizer(tokenizerJSON: url)) { error in
            XCTAssertEqual(
                error as? TokenizerError,
                .unsupported(path: url.path, field: "normalizer.normalizers[1].type", found: "Mystery"))
        }
    }

    /// Random byte flips in a real charsmap: every result loads or throws a TokenizerError, and what
    /// loads normalizes text without crashing.
    func testCorruptedCharsmapsNeverCrash() throws {
        let real = try XCTUnwrap(Data(base64Encoded: try realCharsmap()))
        var generator = XorShift64(seed: 20)
        for _ in 0..<16 {
            var bytes = [UInt8](real)
            for _ in 0..<4 {
                let i = Int(generator.next() % UInt64(bytes.count))
                bytes[i] = UInt8(truncatingIfNeeded: generator.next())
            }
            if generator.next() % 4 == 0 { bytes.removeLast(Int(generator.next() % 5000)) }
            do {
                let charsmap = try PrecompiledCharsmap(blob: bytes, path: "fuzz", field: "charsmap")
                _ = charsmap.normalize("Ｈｅｌｌｏ ① ﬁ\t\u{7}é 한국어 🍕")
            } catch let error as TokenizerError {
                guard case .malformedFile(path: "fuzz", field: "charsmap", _) = error else {
                    return XCTFail("unexpected \(error)")
                }
            }
        }
    }

    private func realCharsmap() throws -> String {
        let json =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: try Fixtures.resource("unigram-albert/tokenizer.json"))) as? [String: Any]
        let steps = (json?["normalizer"] as? [String: Any])?["normalizers"] as? [[String: Any]]
        return try XCTUnwrap(steps?.first { $0["type"] as? String == "Precompiled" }?["precompiled_charsmap"] as? String)
    }
}

/// xorshift64*: a small deterministic generator for the corruption test.
struct XorShift64 {
    var state: UInt64
    init(seed: UInt64) { state = seed | 1 }
    mutating func next() -> UInt64 {
        state ^= state >> 12; state ^= state << 25; state ^= state >> 27
        return state &* 2_685_821_657_736_338_717
    }
}
