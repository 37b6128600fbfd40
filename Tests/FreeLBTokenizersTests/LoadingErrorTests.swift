import Foundation
import XCTest
@testable import FreeLBTokenizers

/// Bad files give a typed `TokenizerError` naming the file and what is wrong, never a crash.
final class LoadingErrorTests: XCTestCase {
    private func write(_ text: String, _ name: String, in dir: URL) throws -> URL {
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    private func assertError(_ body: () throws -> Any, _ expected: TokenizerError, line: UInt = #line) {
        XCTAssertThrowsError(try body(), line: line) { error in
            XCTAssertEqual(error as? TokenizerError, expected, "\(error)", line: line)
        }
    }

    private static let validBPE = """
        {"model": {"type": "BPE", "vocab": {"<s>": 0, "<pad>": 1, "</s>": 2, "a": 3, "b": 4, "ab": 5},
                   "merges": [["a", "b"]]},
         "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false},
         "added_tokens": [{"id": 1, "content": "<pad>", "special": true}]}
        """

    func testMalformedTokenizerJSONNamesFileAndField() throws {
        let dir = try makeTemporaryDirectory(self)
        let bad = try write("{\"model\": ", "tokenizer.json", in: dir)
        XCTAssertThrowsError(try loadTokenizer(directory: dir)) { error in
            guard case let .malformedFile(path, field, reason)? = error as? TokenizerError else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(path, bad.path)
            XCTAssertEqual(field, "<file>")
            XCTAssertTrue(reason.hasPrefix("invalid JSON"), reason)
        }
        let p = try write("[1, 2]", "t1.json", in: dir)
        assertError(
            { try loadTokenizer(tokenizerJSON: p) },
            .malformedFile(path: p.path, field: "<file>", reason: "top level is not a JSON object"))
        let noModel = try write("{\"version\": \"1.0\"}", "t2.json", in: dir)
        assertError(
            { try loadTokenizer(tokenizerJSON: noModel) },
            .malformedFile(path: noModel.path, field: "model", reason: "expected an object, found missing"))
        let unigram = try write("{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", "t3.json", in: dir)
        assertError(
            { try loadTokenizer(tokenizerJSON: unigram) },
            .malformedFile(
                path: unigram.path, field: "model.unk_id",
                reason: "expected the id of the unknown piece, found missing"))
        let badId = try write(Self.validBPE.replacingOccurrences(of: "\"ab\": 5", with: "\"ab\": \"five\""), "t4.json", in: dir)
        assertError(
            { try loadTokenizer(tokenizerJSON: badId) },
            .malformedFile(
                path: badId.path, field: "model.vocab.ab",
                reason: "expected a non-negative integer id, found string \"five\""))
        let badMerge = try write(
            Self.validBPE.replacingOccurrences(of: "[[\"a\", \"b\"]]", with: "[[\"a\", \"c\"]]"),
            "t5.json", in: dir)
        assertError(
            { try loadTokenizer(tokenizerJSON: badMerge) },
            .missingToken(path: badMerge.path, token: "c", context: "right side of merge #1"))
        let shortMerge = try write(
            Self.validBPE.replacingOccurrences(of: "[[\"a\", \"b\"]]", with: "[[\"a\"]]"),
            "t6.json", in: dir)
        assertError(
            { try loadTokenizer(tokenizerJSON: shortMerge) },
            .malformedFile(
                path: shortMerge.path, field: "model.merges[0]",
                reason: "expected [left, right], found 1 elements"))
        // The valid variant loads (the alphabet is incomplete, so unknown bytes are dropped as in Rust).
        let ok = try write(Self.validBPE, "t7.json", in: dir)
        XCTAssertEqual(
            try loadTokenizer(tokenizerJSON: ok).encode(
                "ab", pair: nil, maxLength: nil,
                truncation: .longestFirst, addSpecialTokens: false
            ).ids, [5])
    }

    func testMalformedVocabFilesNameFileAndLine() throws {
        let dir = try makeTemporaryDirectory(self)
        let empty = try write("", "vocab.txt", in: dir)
        assertError(
            { try loadTokenizer(directory: dir) },
            .malformedFile(path: empty.path, field: "<file>", reason: "vocabulary is empty"))
        let noUnk = try write("[PAD]\n[CLS]\n[SEP]\nhello\n", "vocab.txt", in: dir)
        assertError(
            { try BertTokenizer(directory: dir) },
            .missingToken(path: noUnk.path, token: "[UNK]", context: "WordPiece unk_token"))
        let config = try write("{\"do_lower_case\": \"yes\"}", "tokenizer_config.json", in: dir)
        _ = try write("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", "vocab.txt", in: dir)
        assertError(
            { try BertTokenizer(directory: dir) },
            .malformedFile(
                path: config.path, field: "do_lower_case",
                reason: "expected a boolean, found string \"yes\""))

        let bpeDir = try makeTemporaryDirectory(self)
        _ = try write(
            "{\"<s>\": 0, \"<pad>\": 1, \"</s>\": 2, \"<unk>\": 3, \"<mask>\": 4, \"a\": 5, \"b\": 6, \"ab\": 7}",
            "vocab.json", in: bpeDir)
        let merges = try write("#version: 0.2\na b\nab\n", "merges.txt", in: bpeDir)
        assertError(
            { try loadTokenizer(directory: bpeDir) },
            .malformedLine(path: merges.path, line: 3, reason: "expected 'left right', found 'ab'"))
        let dupVocab = try write("{\"a\": 0, \"b\": 0}", "vocab.json", in: bpeDir)
        XCTAssertThrowsError(try loadTokenizer(directory: bpeDir)) { error in
            guard case let .malformedFile(path, _, reason)? = error as? TokenizerError else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(path, dupVocab.path)
            XCTAssertEqual(reason, "id 0 is used by two tokens")
        }
        let nothing = try makeTemporaryDirectory(self)
        assertError({ try loadTokenizer(directory: nothing) }, .noTokenizerFiles(directory: nothing.path))
        XCTAssertTrue(TokenizerError.malformedLine(path: "m.txt", line: 3, reason: "x").description == "m.txt:3: x")
    }
}
