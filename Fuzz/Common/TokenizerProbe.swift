// Encodes and decodes a fixed set of awkward texts with a loaded tokenizer and checks what the
// models rely on: parallel arrays of equal length and every id inside the vocabulary.
import Foundation
import FreeLBTokenizers

/// Texts that reach the normalizer, pre-tokenizer, model, added-token matcher and post-processor.
let probeTexts: [(String, String?)] = [
    ("Hello, world! It's a test.", nil),
    ("the quick brown fox", "jumps over the lazy dog"),
    ("  Naïve café ÀÉÎ résumé  ", "東京 北京 한국어 ☃ 🤗 👍🏽"),
    ("[CLS] [SEP] [PAD] [MASK] [UNK] <s> </s> <pad> <mask> <unk>", "[SEP]"),
    ("", ""),
    ("\u{0}\u{1}\t\n\r \u{200B}\u{FEFF}\u{0301}", nil),
    (String(repeating: "supercalifragilistic", count: 12), String(repeating: "a ", count: 300)),
    ("ab##cd ## ##x ▁hello Ġworld âĢ", "don't won't 123.45 $%^&*()"),
]

func probe(_ tokenizer: any Tokenizer, extraText: String? = nil) {
    let vocabularySize = tokenizer.vocabularySize
    require(vocabularySize >= 0, "negative vocabulary size \(vocabularySize)")
    var texts = probeTexts
    if let extraText { texts.append((extraText, nil)) }
    for (text, pair) in texts {
        for maxLength in [nil, 8, 64] as [Int?] {
            let encoding = tokenizer.encode(text, pair: pair, maxLength: maxLength, truncation: .longestFirst,
                                            addSpecialTokens: maxLength != 8)
            let n = encoding.ids.count
            require(encoding.typeIds.count == n && encoding.attentionMask.count == n && encoding.tokens.count == n,
                    "encoding arrays differ in length")
            for id in encoding.ids {
                require(id >= 0 && Int(id) < vocabularySize, "id \(id) outside the vocabulary [0, \(vocabularySize))")
            }
            _ = tokenizer.decode(encoding.ids, skipSpecialTokens: true)
            _ = tokenizer.decode(encoding.ids, skipSpecialTokens: false)
            let padded = encoding.padded(to: n + 3, padId: tokenizer.padTokenId, padToken: tokenizer.padToken)
            require(padded.ids.count == n + 3, "padding did not reach the requested length")
        }
    }
    // Decoding arbitrary ids (including out-of-range ones) must not crash either.
    _ = tokenizer.decode([0, 1, 2, -1, Int32.max, Int32(truncatingIfNeeded: vocabularySize)], skipSpecialTokens: false)
}
