import Foundation
import XCTest
@testable import FreeLBTokenizers

/// Issue 15: huge ids are rejected before anything is allocated, and CRLF vocabulary files load.
final class VocabularyBoundsTests: XCTestCase {
    private func write(_ text: String, _ name: String, in dir: URL) throws -> URL {
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    private func assertMalformed(_ url: URL, field: String, reason: String, line: UInt = #line) {
        XCTAssertThrowsError(try loadTokenizer(tokenizerJSON: url), line: line) { error in
            XCTAssertEqual(
                error as? TokenizerError, .malformedFile(path: url.path, field: field, reason: reason),
                "\(error)", line: line)
        }
    }

    func testBillionIdInAnyVocabularyIsAnErrorNotAnAllocation() throws {
        let dir = try makeTemporaryDirectory(self)
        let wordPiece = try write(
            #"""
            {"model": {"type": "WordPiece", "unk_token": "[UNK]",
                       "vocab": {"[PAD]": 0, "[UNK]": 1, "hello": 1000000000}}}
            """#, "wp.json", in: dir)
        assertMalformed(
            wordPiece, field: "model.vocab.hello",
            reason: "id 1000000000 is out of range for a vocabulary of 3 tokens")
        let bpe = try write(
            #"""
            {"model": {"type": "BPE", "vocab": {"<pad>": 0, "a": 1, "b": 1000000000}, "merges": []},
             "pre_tokenizer": {"type": "ByteLevel"}}
            """#, "bpe.json", in: dir)
        assertMalformed(bpe, field: "model.vocab.b", reason: "id 1000000000 is out of range for a vocabulary of 3 tokens")
        let added = try write(
            #"""
            {"model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ["<pad>", 0.0]]},
             "added_tokens": [{"id": 1000000000, "content": "<mask>", "special": true}]}
            """#, "unigram.json", in: dir)
        assertMalformed(
            added, field: "added_tokens[0].id",
            reason: "id 1000000000 is out of range for a vocabulary of 2 tokens and 1 added tokens")
        let vocabJSON = try write(#"{"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 2147483647}"#, "vocab.json", in: dir)
        _ = try write("#version: 0.2\n", "merges.txt", in: dir)
        XCTAssertThrowsError(try loadTokenizer(directory: dir)) { error in
            XCTAssertEqual(
                error as? TokenizerError,
                .malformedFile(
                    path: vocabJSON.path, field: "<mask>",
                    reason: "id 2147483647 is out of range for a vocabulary of 5 tokens"))
        }
        let template = try write(
            #"""
            {"model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ["<pad>", 0.0]]},
             "post_processor": {"type": "RobertaProcessing", "cls": ["<s>", 7], "sep": ["</s>", 1]}}
            """#, "template.json", in: dir)
        assertMalformed(
            template, field: "post_processor",
            reason: "special token '<s>' has id 7, outside the vocabulary (2 tokens)")
        // A few gaps after the last id are still accepted.
        let gaps = try write(
            #"{"model": {"type": "WordPiece", "vocab": {"[PAD]": 0, "[UNK]": 1, "x": 40}}}"#, "gaps.json", in: dir)
        XCTAssertEqual(try loadTokenizer(tokenizerJSON: gaps).vocabularySize, 41)
    }

    func testCRLFVocabTxtAndMergesTxtLoadLikeLF() throws {
        let lines = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s"]
        let lf = try makeTemporaryDirectory(self)
        let crlf = try makeTemporaryDirectory(self)
        _ = try write(lines.joined(separator: "\n") + "\n", "vocab.txt", in: lf)
        _ = try write(lines.joined(separator: "\r\n") + "\r\n", "vocab.txt", in: crlf)
        let a = try loadTokenizer(directory: lf)
        let b = try loadTokenizer(directory: crlf)
        XCTAssertEqual(b.vocabularySize, lines.count)
        XCTAssertEqual(b.encode("hello worlds unknown").ids, [2, 5, 6, 7, 1, 3])
        XCTAssertEqual(a.encode("hello worlds unknown"), b.encode("hello worlds unknown"))

        let bpe = try makeTemporaryDirectory(self)
        _ = try write(
            #"{"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4, "a": 5, "b": 6, "ab": 7}"#,
            "vocab.json", in: bpe)
        _ = try write("#version: 0.2\r\na b\r\n", "merges.txt", in: bpe)
        XCTAssertEqual(try loadTokenizer(directory: bpe).encode("ab").ids, [0, 7, 2])
    }
}
