import Foundation
import XCTest
@testable import FreeLBTokenizers

/// Parity with the Rust tokenizers library on the byte-level BPE fixture (fixtures README §6).
/// Ids and decoded strings are discrete, so every comparison is exact.
final class ByteLevelBPETokenizerTests: XCTestCase {
    static let cases = Result { try Fixtures.decode(BPECases.self, "bpe_tokenizer_cases.json") }
    /// The fixture's reference is the Rust library, which encodes an empty pair (case 23).
    static func rustLike(_ t: ByteLevelBPETokenizer) -> ByteLevelBPETokenizer {
        var t = t
        t.emptyPairHandling = .encodeEmptySegment
        return t
    }
    static let fromJSON = Result {
        rustLike(try ByteLevelBPETokenizer(tokenizerJSON: try Fixtures.resource("bpe-tokenizer-json/tokenizer.json")))
    }
    static let fromFiles = Result {
        let dir = try Fixtures.resource("bpe-vocab-merges")
        return rustLike(
            try ByteLevelBPETokenizer(
                vocabFile: dir.appendingPathComponent("vocab.json"),
                mergesFile: dir.appendingPathComponent("merges.txt")))
    }

    func testSinglesAndPairsMatchIdsTypeIdsMasksTokensAndDecodedStrings() throws {
        let fixture = try Self.cases.get()
        let tok = try Self.fromJSON.get()
        XCTAssertEqual(tok.vocabularySize, 500)
        XCTAssertEqual(tok.padTokenId, 1)
        let encoded = fixture.cases.filter { $0.kind != "roundtrip" }
        XCTAssertEqual(encoded.count, 31)
        for c in encoded {
            let e = tok.encode(c.text, pair: c.text_pair, maxLength: fixture.max_length, truncation: .longestFirst)
            XCTAssertEqual(e.ids, c.input_ids, "case \(c.index) \(c.text.debugDescription) ids")
            XCTAssertEqual(e.typeIds, try XCTUnwrap(c.type_ids), "case \(c.index) type ids")
            XCTAssertEqual(e.attentionMask, try XCTUnwrap(c.attention_mask), "case \(c.index) mask")
            // Tokens are the Rust Encoding strings, including " <mask>" for the lstrip match.
            XCTAssertEqual(e.tokens, c.tokens, "case \(c.index) tokens")
            XCTAssertEqual(tok.decode(e.ids, skipSpecialTokens: true), c.decoded, "case \(c.index) decoded")
            XCTAssertEqual(
                tok.decode(e.ids, skipSpecialTokens: false), c.decoded_with_special_tokens,
                "case \(c.index) decoded with specials")
            XCTAssertEqual(
                tok.encode(c.text, pair: c.text_pair, maxLength: nil).ids, c.untruncated_input_ids,
                "case \(c.index) untruncated")
        }
    }

    func testRoundTripsEncodeWithoutSpecialsAndDecodeToTheExactText() throws {
        let fixture = try Self.cases.get()
        let tok = try Self.fromJSON.get()
        let trips = fixture.cases.filter { $0.kind == "roundtrip" }
        XCTAssertEqual(trips.count, 9)
        for c in trips {
            let e = tok.encode(c.text, pair: nil, maxLength: nil, truncation: .doNotTruncate, addSpecialTokens: false)
            XCTAssertEqual(e.ids, c.input_ids, "case \(c.index) ids")
            XCTAssertEqual(e.tokens, c.tokens, "case \(c.index) tokens")
            XCTAssertEqual(tok.decode(e.ids, skipSpecialTokens: true), c.text, "case \(c.index) round trip")
            XCTAssertEqual(c.decoded, c.text)
        }
    }

    /// Case 23: the default (transformers wrapper) drops an empty pair; the Rust library encodes it.
    func testEmptyPairDefaultMatchesTransformersWrapper() throws {
        let fixture = try Self.cases.get()
        var tok = try Self.fromJSON.get()
        tok.emptyPairHandling = .treatAsAbsent
        let c = fixture.cases[23]
        XCTAssertEqual(c.text_pair, "")
        XCTAssertEqual(tok.encode(c.text, pair: "", maxLength: 24).ids, try XCTUnwrap(c.transformers_wrapper_input_ids))
    }

    /// max_length 25 (budget 21): Rust longest_first gives (64,68) -> (10,11), not the slow loop's (11,10).
    func testOddBudgetPairsUseTheRustLongestFirstSplit() throws {
        let fixture = try Self.cases.get()
        let tok = try Self.fromJSON.get()
        XCTAssertEqual(fixture.odd_budget_pairs.cases.count, 3)
        for (i, c) in fixture.odd_budget_pairs.cases.enumerated() {
            let e = tok.encode(c.text, pair: c.text_pair, maxLength: fixture.odd_budget_pairs.max_length)
            XCTAssertEqual(e.ids, c.input_ids, "odd budget case \(i)")
            let lengths = TruncationStrategy.longestFirst.truncatedLengths(
                first: c.untruncated_lengths_without_specials[0], second: c.untruncated_lengths_without_specials[1],
                budget: fixture.odd_budget_pairs.max_length - 4)
            XCTAssertEqual([lengths.first, lengths.second ?? -1], c.truncated_lengths_without_specials)
        }
    }

    func testPaddedBatchMatchesRightPaddingWithPadOne() throws {
        let fixture = try Self.cases.get()
        let tok = try Self.fromJSON.get()
        let batch = tok.encodeBatch(fixture.padded_batch.texts, maxLength: fixture.max_length, padding: .longest)
        XCTAssertEqual(batch.map(\.ids), fixture.padded_batch.input_ids)
        XCTAssertEqual(batch.map(\.attentionMask), fixture.padded_batch.attention_mask)
        XCTAssertTrue(batch.allSatisfy { $0.typeIds.allSatisfy { $0 == 0 } })
    }

    func testTokenizerJSONAndVocabMergesLoadersGiveIdenticalResults() throws {
        let fixture = try Self.cases.get()
        let a = try Self.fromJSON.get()
        let b = try Self.fromFiles.get()
        XCTAssertEqual(a.addedTokens, b.addedTokens)
        for c in fixture.cases {
            for maxLength in [nil, fixture.max_length] {
                let ea = a.encode(c.text, pair: c.text_pair, maxLength: maxLength)
                XCTAssertEqual(ea, b.encode(c.text, pair: c.text_pair, maxLength: maxLength), "case \(c.index)")
                XCTAssertEqual(a.decode(ea.ids, skipSpecialTokens: true), b.decode(ea.ids, skipSpecialTokens: true))
            }
        }
        let viaJSON = try loadTokenizer(directory: try Fixtures.resource("bpe-tokenizer-json"))
        let viaFiles = try loadTokenizer(directory: try Fixtures.resource("bpe-vocab-merges"))
        XCTAssertTrue(viaJSON is ByteLevelBPETokenizer)
        XCTAssertTrue(viaFiles is ByteLevelBPETokenizer)
        XCTAssertEqual(viaJSON.encode("hello <mask> world").ids, fixture.cases[11].input_ids)
        XCTAssertEqual(viaFiles.encode("hello <mask> world").ids, fixture.cases[11].input_ids)
    }

    func testPreTokenizerFollowsTheGPT2Pattern() {
        let pre = ByteLevelPreTokenizer()
        XCTAssertEqual(
            pre.split("I can't  go!!\t\tnow 42x"),
            ["I", " can", "'t", " ", " go", "!!", "\t", "\t", "now", " 42", "x"])
        XCTAssertEqual(pre.split("a   "), ["a", "   "])
        XCTAssertEqual(ByteLevelAlphabet.encode(Array(" \n\t".utf8)), "ĠĊĉ")
        // A lone continuation byte decodes to one U+FFFD.
        XCTAssertEqual(ByteLevelAlphabet.decode([ByteLevelAlphabet.encode([0x61, 0x80, 0x62])]), "a\u{FFFD}b")
    }
}
