import Foundation
import XCTest
@testable import FreeLBTokenizers

/// Golden cases of tools/goldens/unigram/make_unigram_goldens.py (see its README): two SentencePiece
/// Unigram models (nmt_nfkc; the second with byte_fallback) converted by transformers' AlbertConverter and
/// run by the tokenizers library from the saved tokenizer.json; the first model saved as transformers 5
/// runs it (WhitespaceSplit + Metaspace), run by transformers' AlbertTokenizer; an XLM-R conversion
/// (`<s> A </s></s> B </s>`); and sentencepiece's generic pipeline with byte fallback (regex Replace steps,
/// ByteFallback/Fuse/Strip decoders).
struct UnigramCases: Decodable {
    struct Case: Decodable {
        let text: String
        let text_pair: String?
        let max_length: Int?
        let truncation: String?
        let input_ids: [Int32]
        let token_type_ids: [Int32]
        let attention_mask: [Int32]
        let untruncated_tokens: [String]
        let untruncated_ids: [Int32]
        let ids_without_special_tokens: [Int32]
        let decoded: String
        let decoded_with_special_tokens: String
    }
    struct PaddedBatch: Decodable {
        let texts: [String]
        let input_ids: [[Int32]]
        let attention_mask: [[Int32]]
    }
    struct Model: Decodable {
        let folder: String
        let reference: String
        let empty_pair: String
        let vocab_size: Int
        let cases: [Case]
        let padded_batch: PaddedBatch
    }
    let models: [Model]

    static func load() throws -> UnigramCases {
        try Fixtures.decode(UnigramCases.self, "unigram_tokenizer_cases.json")
    }
}

final class UnigramTokenizerTests: XCTestCase {
    private func tokenizer(_ folder: String) throws -> UnigramTokenizer {
        let loaded = try loadTokenizer(directory: try Fixtures.resource(folder))
        return try XCTUnwrap(loaded as? UnigramTokenizer, "\(folder) did not load as a Unigram tokenizer")
    }

    func testGoldenCasesMatchTransformers() throws {
        let golden = try UnigramCases.load()
        XCTAssertEqual(
            golden.models.map(\.folder),
            [
                "unigram-albert", "unigram-albert-byte-fallback", "unigram-albert-transformers", "unigram-xlmr",
                "unigram-spm-byte-fallback"
            ])
        var checked = 0
        for model in golden.models {
            var tok = try tokenizer(model.folder)
            tok.emptyPairHandling = try XCTUnwrap(EmptyPairHandling(rawValue: model.empty_pair))
            XCTAssertEqual(tok.vocabularySize, model.vocab_size)
            XCTAssertGreaterThanOrEqual(model.cases.count, 60)
            for (i, c) in model.cases.enumerated() {
                let label =
                    "\(model.folder) case \(i) \(c.text.debugDescription.prefix(50)) / \(String(describing: c.text_pair).prefix(30))"
                let strategy = try XCTUnwrap(TruncationStrategy(rawValue: c.truncation ?? "longest_first"), label)
                let e = tok.encode(
                    c.text, pair: c.text_pair, maxLength: c.max_length, truncation: strategy,
                    addSpecialTokens: true)
                XCTAssertEqual(e.ids, c.input_ids, label)
                XCTAssertEqual(e.typeIds, c.token_type_ids, label)
                XCTAssertEqual(e.attentionMask, c.attention_mask, label)
                XCTAssertEqual(
                    tok.encode(
                        c.text, pair: nil, maxLength: nil, truncation: .longestFirst,
                        addSpecialTokens: false
                    ).ids, c.ids_without_special_tokens, label)
                // The Rust backend's untruncated encoding keeps an empty pair segment.
                var backend = tok
                backend.emptyPairHandling = .encodeEmptySegment
                let full = backend.encode(
                    c.text, pair: c.text_pair, maxLength: nil, truncation: .longestFirst,
                    addSpecialTokens: true)
                XCTAssertEqual(full.ids, c.untruncated_ids, label)
                XCTAssertEqual(full.tokens, c.untruncated_tokens, label)
                XCTAssertEqual(tok.decode(c.input_ids, skipSpecialTokens: true), c.decoded, label)
                XCTAssertEqual(tok.decode(c.input_ids, skipSpecialTokens: false), c.decoded_with_special_tokens, label)
                checked += 1
            }
            let batch = tok.encodeBatch(model.padded_batch.texts)
            XCTAssertEqual(batch.map(\.ids), model.padded_batch.input_ids, model.folder)
            XCTAssertEqual(batch.map(\.attentionMask), model.padded_batch.attention_mask, model.folder)
        }
        XCTAssertGreaterThanOrEqual(checked, 5 * 60)
    }

    func testAlbertPipelineIsParsedAsConverted() throws {
        let tok = try tokenizer("unigram-albert")
        XCTAssertEqual(tok.padTokenId, 0)
        XCTAssertEqual(tok.unigram.unkId, 1)
        XCTAssertFalse(tok.unigram.byteFallback)
        XCTAssertTrue(try tokenizer("unigram-albert-byte-fallback").unigram.byteFallback)
        guard case .sequence(let steps)? = tok.normalizer else { return XCTFail("expected a normalizer sequence") }
        XCTAssertEqual(steps.count, 7)
        guard case .metaspace(let replacement, let scheme, let split)? = tok.wordSplitter else {
            return XCTFail("expected Metaspace")
        }
        XCTAssertEqual(replacement, "▁")
        XCTAssertEqual(scheme, .always)
        XCTAssertTrue(split)
        XCTAssertEqual(tok.postProcessor.addedTokens(pair: true), 3)
    }

    func testWordSplitterAndDecoderSteps() {
        let meta = WordSplitter.metaspace(replacement: "▁", prependScheme: .always, split: true)
        let words = meta.split([.init(text: "a  b ", startsInput: true)]).map(\.text)
        XCTAssertEqual(words, ["▁a", "▁", "▁b", "▁"])
        let first = WordSplitter.metaspace(replacement: "▁", prependScheme: .first, split: false)
        XCTAssertEqual(first.split([.init(text: "x y", startsInput: false)]).map(\.text), ["x▁y"])
        XCTAssertEqual(first.split([.init(text: "x y", startsInput: true)]).map(\.text), ["▁x▁y"])
        XCTAssertEqual(
            WordSplitter.whitespaceSplit.split([.init(text: " a\tb  c ", startsInput: true)]).map(\.text),
            ["a", "b", "c"])
        // With prepend_scheme "first", only a word at offset 0 of the input gets the prefix.
        let firstAfterSplit = WordSplitter.sequence([.whitespaceSplit, first])
        XCTAssertEqual(firstAfterSplit.split([.init(text: "x y", startsInput: true)]).map(\.text), ["▁x", "y"])
        XCTAssertEqual(firstAfterSplit.split([.init(text: " x y", startsInput: true)]).map(\.text), ["x", "y"])
        let decoder = TokenDecoder.sequence([
            .replace(.literal("▁"), content: " "), .byteFallback, .fuse,
            .strip(content: " ", start: 1, stop: 0)
        ])
        XCTAssertEqual(decoder.decodeChain(["▁h", "i", "<0xE2>", "<0x82>", "<0xAC>", "▁x", "<0xFF>"]).joined(), "hi€ x\u{FFFD}")
        XCTAssertEqual(TextNormalizer.strip(left: true, right: false).normalize("  a b  "), "a b  ")
        XCTAssertEqual(TextNormalizer.prepend("▁").normalize("ab"), "▁ab")
        XCTAssertEqual(TextNormalizer.prepend("▁").normalize(""), "")
        XCTAssertEqual(TextNormalizer.nfkc.normalize("ﬁ①"), "fi1")
        XCTAssertEqual(replacingLiteral("é", in: "e\u{301} é", with: "E"), "e\u{301} E")
    }
}
