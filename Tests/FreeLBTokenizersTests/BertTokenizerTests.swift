import Foundation
import XCTest
@testable import FreeLBTokenizers

/// Parity with the HF fast tokenizer of all-MiniLM-L6-v2 (fixtures README §4). Token ids are
/// discrete, so every comparison is exact.
final class BertTokenizerTests: XCTestCase {
    static let cases = Result { try Fixtures.decode(MiniLMCases.self, "minilm_tokenizer_cases.json") }
    static let fromVocabTxt = Result { try BertTokenizer(directory: try Fixtures.resource("minilm")) }
    static let fromJSON = Result {
        try BertTokenizer(tokenizerJSON: try Fixtures.resource("minilm-tokenizer-json/tokenizer.json"))
    }

    func testAll40CasesMatchFastTokenizerIdsTypeIdsMaskAndTokensAtMaxLength32() throws {
        let fixture = try Self.cases.get()
        let tok = try Self.fromVocabTxt.get()
        XCTAssertEqual(fixture.cases.count, 40)
        for c in fixture.cases {
            let e = tok.encode(c.text, pair: c.text_pair, maxLength: fixture.max_length, truncation: .longestFirst)
            XCTAssertEqual(e.ids, c.input_ids, "case \(c.index) \(c.text.debugDescription) ids")
            XCTAssertEqual(e.typeIds, c.token_type_ids, "case \(c.index) type ids")
            XCTAssertEqual(e.attentionMask, c.attention_mask, "case \(c.index) attention mask")
            XCTAssertEqual(e.tokens, c.tokens, "case \(c.index) tokens")
        }
    }

    func testUntruncatedEncodingsMatchFastTokenizer() throws {
        let fixture = try Self.cases.get()
        let tok = try Self.fromVocabTxt.get()
        for c in fixture.cases {
            let e = tok.encode(c.text, pair: c.text_pair, maxLength: nil)
            XCTAssertEqual(e.ids, c.untruncated_input_ids, "case \(c.index) untruncated ids")
            XCTAssertEqual(e.tokens, c.untruncated_tokens, "case \(c.index) untruncated tokens")
        }
    }

    func testTokenizerJSONAndVocabTxtLoadersGiveIdenticalEncodings() throws {
        let fixture = try Self.cases.get()
        let a = try Self.fromVocabTxt.get()
        let b = try Self.fromJSON.get()
        XCTAssertEqual(a.vocabularySize, 30522)
        XCTAssertEqual(b.vocabularySize, 30522)
        XCTAssertEqual(a.padTokenId, 0)
        XCTAssertEqual(b.padTokenId, 0)
        for c in fixture.cases {
            for maxLength in [nil, fixture.max_length] {
                XCTAssertEqual(
                    a.encode(c.text, pair: c.text_pair, maxLength: maxLength),
                    b.encode(c.text, pair: c.text_pair, maxLength: maxLength), "case \(c.index)")
            }
        }
        // The generic entry point picks tokenizer.json, or vocab.txt when that is all there is.
        let viaJSON = try loadTokenizer(directory: try Fixtures.resource("minilm-tokenizer-json"))
        let viaTxt = try loadTokenizer(directory: try Fixtures.resource("minilm"))
        XCTAssertTrue(viaJSON is BertTokenizer)
        XCTAssertTrue(viaTxt is BertTokenizer)
        let c = fixture.cases[30]
        XCTAssertEqual(viaJSON.encode(c.text, pair: c.text_pair, maxLength: 32).ids, c.input_ids)
        XCTAssertEqual(viaTxt.encode(c.text, pair: c.text_pair, maxLength: 32).ids, c.input_ids)
    }

    /// Case 32: transformers drops an empty text_pair; the Rust backend gives [CLS] A [SEP] [SEP].
    func testEmptyPairIsAbsentByDefaultAndBackendBehaviourIsAnOption() throws {
        let fixture = try Self.cases.get()
        var tok = try Self.fromVocabTxt.get()
        let c = fixture.cases[32]
        XCTAssertEqual(c.text_pair, "")
        XCTAssertEqual(tok.encode(c.text, pair: "", maxLength: 32).ids, c.input_ids)
        tok.emptyPairHandling = .encodeEmptySegment
        let backend = tok.encode(c.text, pair: "", maxLength: 32)
        XCTAssertEqual(backend.ids, try XCTUnwrap(c.backend_input_ids))
        XCTAssertEqual(backend.typeIds.last, 1, "the second [SEP] belongs to segment B")
    }

    /// README §4 examples for budget 29 (max_length 32 minus 3 special tokens).
    func testLongestFirstSegmentLengthsFollowTheRustAlgorithm() {
        let s = TruncationStrategy.longestFirst
        for (input, expected) in [
            ((23, 29), (14, 15)), ((24, 23), (15, 14)), ((36, 4), (25, 4)), ((3, 36), (3, 26)),
            ((10, 10), (10, 10)), ((40, 40), (14, 15))
        ] {
            let out = s.truncatedLengths(first: input.0, second: input.1, budget: 29)
            XCTAssertEqual(out.first, expected.0, "\(input)")
            XCTAssertEqual(out.second, expected.1, "\(input)")
        }
        XCTAssertEqual(s.truncatedLengths(first: 40, second: nil, budget: 30).first, 30)
    }

    func testOnlyFirstAndOnlySecondCutTheNamedSegmentOrNothing() throws {
        let tok = try Self.fromVocabTxt.get()
        let long = "one two three four five six seven eight nine ten"
        let short = "a b"
        let first = tok.encode(long, pair: short, maxLength: 8, truncation: .onlyFirst)
        XCTAssertEqual(first.tokens, ["[CLS]", "one", "two", "three", "[SEP]", "a", "b", "[SEP]"])
        XCTAssertEqual(first.typeIds, [0, 0, 0, 0, 0, 1, 1, 1])
        let second = tok.encode(short, pair: long, maxLength: 8, truncation: .onlySecond)
        XCTAssertEqual(second.tokens, ["[CLS]", "a", "b", "[SEP]", "one", "two", "three", "[SEP]"])
        // The named segment is too short to absorb the cut: left untruncated (transformers behaviour).
        XCTAssertEqual(tok.encode(short, pair: long, maxLength: 8, truncation: .onlyFirst).count, 15)
        XCTAssertEqual(tok.encode(long, maxLength: 5, truncation: .doNotTruncate).count, 12)
    }

    func testWithoutSpecialTokensSegmentsKeepTheirTypeIds() throws {
        let tok = try Self.fromVocabTxt.get()
        let e = tok.encode("Hello", pair: "world", maxLength: nil, truncation: .longestFirst, addSpecialTokens: false)
        XCTAssertEqual(e.tokens, ["hello", "world"])
        XCTAssertEqual(e.typeIds, [0, 1])
    }

    func testDecodeJoinsWordPiecesAndSkipsSpecialTokens() throws {
        let fixture = try Self.cases.get()
        let tok = try Self.fromVocabTxt.get()
        let c10 = fixture.cases[10]
        XCTAssertEqual(
            tok.decode(c10.untruncated_input_ids, skipSpecialTokens: true),
            "pneumonoultramicroscopicsilicovolcanoconiosis and antidisestablishmentarianism")
        XCTAssertEqual(tok.decode(fixture.cases[0].input_ids, skipSpecialTokens: true), "hello, world!")
        XCTAssertEqual(tok.decode(fixture.cases[0].input_ids, skipSpecialTokens: false), "[CLS] hello, world! [SEP]")
    }

    func testPaddingRightPadsWithPadIdTypeZeroMaskZero() throws {
        let tok = try Self.fromVocabTxt.get()
        let batch = tok.encodeBatch(["Hello, world!", "x"], maxLength: 32)
        XCTAssertEqual(batch.map(\.count), [6, 6])
        XCTAssertEqual(batch[1].ids, [101, 1060, 102, 0, 0, 0])
        XCTAssertEqual(batch[1].attentionMask, [1, 1, 1, 0, 0, 0])
        XCTAssertEqual(batch[1].typeIds, [0, 0, 0, 0, 0, 0])
        XCTAssertEqual(batch[1].tokens.last, "[PAD]")
        XCTAssertEqual(tok.encodeBatch(["x"], padding: .fixed(8))[0].count, 8)
    }

    func testNormalizerAndPreTokenizerStagesWorkAlone() throws {
        let n = BertNormalizer()
        XCTAssertEqual(n.normalize("Héllo\u{0}\tWORLD 中文 İ"), "hello world  中  文  i")
        XCTAssertEqual(BertPreTokenizer().preTokenize("a,b  c!"), ["a", ",", "b", "c", "!"])
        let wp = try Self.fromVocabTxt.get().wordPiece
        XCTAssertEqual(wp.tokenize("unaffable"), ["una", "##ffa", "##ble"])
        XCTAssertEqual(wp.tokenize(String(repeating: "a", count: 101)), ["[UNK]"])
    }

    /// Opt-in (FREELB_BENCH=1): the 67,349 SST-2 training sentences must tokenize in under 10 s on one
    /// core in release (`swift test -c release`).
    func testSST2TrainTokenizationSpeedOptIn() throws {
        guard ProcessInfo.processInfo.environment["FREELB_BENCH"] == "1" else {
            throw XCTSkip("set FREELB_BENCH=1 to run the SST-2 tokenization benchmark")
        }
        let env = ProcessInfo.processInfo.environment["FREELB_DATA"]
        let data =
            env.map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/data")
        let tsv = data.appendingPathComponent("glue/SST-2/train.tsv")
        guard FileManager.default.fileExists(atPath: tsv.path) else {
            throw XCTSkip("SST-2 not found at \(tsv.path) (set FREELB_DATA)")
        }
        let tok = try Self.fromVocabTxt.get()
        let result = try benchmarkSST2(tokenizer: tok, trainTSV: tsv)
        print(String(format: "SST-2 train: %d sentences, %d tokens, %.3f s", result.sentences, result.tokens, result.seconds))
        XCTAssertEqual(result.sentences, 67349)
        XCTAssertLessThan(result.seconds, 10, "budget from the task: < 10 s on one core in release")
    }
}
