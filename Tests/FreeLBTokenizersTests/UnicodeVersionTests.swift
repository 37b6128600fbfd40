import Foundation
import XCTest
@testable import FreeLBTokenizers

/// HF tokenizers normalizes with old Unicode data: Unicode 9.0 for NFC/NFD/NFKC/NFKD and StripAccents,
/// Unicode 8.0 categories (and no unassigned code points) in the BERT normalizer and pre-tokenizer.
/// Expected values were read from tokenizers 0.23.3 (see tools/goldens/unigram/README.md).
final class UnicodeVersionTests: XCTestCase {
    func testNormalizationFormsLeaveCharactersNewerThanUnicode9Alone() {
        XCTAssertEqual(TextNormalizer.nfkd.normalize("\u{A7F2}\u{32FF}ﬁ"), "\u{A7F2}\u{32FF}fi")  // 14.0, 12.1
        XCTAssertEqual(TextNormalizer.nfkc.normalize("\u{A7F2}ｘ"), "\u{A7F2}x")
        // U+0898 (14.0) has combining class 0 in Unicode 9.0: no reordering across it.
        XCTAssertEqual(TextNormalizer.nfd.normalize("a\u{898}\u{316}").unicodeScalars.map(\.value), [0x61, 0x898, 0x316])
        XCTAssertEqual(TextNormalizer.nfd.normalize("a\u{301}\u{316}").unicodeScalars.map(\.value), [0x61, 0x316, 0x301])
    }

    func testStripAccentsUsesUnicode9Marks() {
        XCTAssertEqual(TextNormalizer.stripAccents.normalize("e\u{301}\u{7FD}"), "e\u{7FD}")  // U+07FD: 11.0
        XCTAssertEqual(TextNormalizer.stripAccents.normalize("\u{1CF2}\u{111C9}"), "\u{111C9}")
    }

    func testBertNormalizerAndPreTokenizerUseUnicode8Categories() {
        let bert = BertNormalizer()
        var unassigned = String.UnicodeScalarView()
        unassigned.append(contentsOf: [0x61, 0x378, 0x62, 0xFDD0].compactMap(Unicode.Scalar.init))
        XCTAssertEqual(bert.normalize(String(unassigned)), String(unassigned), "unassigned code points are kept")
        XCTAssertEqual(bert.normalize("a\u{8E2}b\u{200B}"), "a\u{8E2}b", "Cf of Unicode 8.0 only")
        XCTAssertEqual(bert.normalize("a\u{8D4}\u{1734}b"), "a\u{8D4}b", "Mn of Unicode 8.0 only")
        XCTAssertEqual(BertPreTokenizer().preTokenize("a\u{166D}b\u{2E43}c"), ["a", "\u{166D}", "b\u{2E43}c"])
    }

    func testWordPieceDecoderGluesContinuationsBeforeCombiningMarks() throws {
        let tok = try BertTokenizer(
            wordPiece: WordPiece(tokens: ["[PAD]", "[UNK]", "e", "##\u{9C0}", "a ."]),
            addedTokens: [], postProcessor: .bert(cls: ("[PAD]", 0), sep: ("[PAD]", 0)))
        XCTAssertEqual(tok.decode([2, 3], skipSpecialTokens: true), "e\u{9C0}")
        XCTAssertEqual(wordPieceCleanup("x .\u{301} y ."), "x.\u{301} y.")
    }
}
