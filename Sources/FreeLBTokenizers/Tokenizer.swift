// The public tokenizer API. Concrete pipelines (WordPiece/BERT, byte-level BPE/RoBERTa) conform to `Tokenizer`.

/// How a sequence (or pair) longer than `maxLength` is shortened. Special tokens count toward `maxLength`.
public enum TruncationStrategy: String, Sendable, Codable, CaseIterable {
    /// Rust `tokenizers` longest_first: balances the two segments (see tools/goldens/FIXTURES.md §4).
    case longestFirst = "longest_first"
    case onlyFirst = "only_first"
    case onlySecond = "only_second"
    case doNotTruncate = "do_not_truncate"
}

/// One encoded example. All arrays have the same length (no padding unless `Encoding.padded` was used).
public struct Encoding: Equatable, Sendable {
    public var ids: [Int32]
    public var typeIds: [Int32]
    public var attentionMask: [Int32]
    public var tokens: [String]

    public init(ids: [Int32], typeIds: [Int32], attentionMask: [Int32], tokens: [String]) {
        self.ids = ids
        self.typeIds = typeIds
        self.attentionMask = attentionMask
        self.tokens = tokens
    }

    public var count: Int { ids.count }

    /// Right-pads to `length` with `padId` (type 0, mask 0). Never truncates.
    public func padded(to length: Int, padId: Int32, padToken: String = "[PAD]") -> Encoding {
        guard length > ids.count else { return self }
        let extra = length - ids.count
        return Encoding(
            ids: ids + Array(repeating: padId, count: extra),
            typeIds: typeIds + Array(repeating: 0, count: extra),
            attentionMask: attentionMask + Array(repeating: 0, count: extra),
            tokens: tokens + Array(repeating: padToken, count: extra))
    }
}

public protocol Tokenizer: Sendable {
    /// Encodes a text or a text pair, adding the model's special tokens when `addSpecialTokens`.
    /// `maxLength` includes special tokens; nil means no truncation.
    func encode(
        _ text: String, pair: String?, maxLength: Int?, truncation: TruncationStrategy,
        addSpecialTokens: Bool
    ) -> Encoding
    /// Ids back to text.
    func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String
    var padTokenId: Int32 { get }
    var padToken: String { get }
    var vocabularySize: Int { get }
}

extension Tokenizer {
    public func encode(
        _ text: String, pair: String? = nil, maxLength: Int? = nil,
        truncation: TruncationStrategy = .longestFirst
    ) -> Encoding {
        encode(text, pair: pair, maxLength: maxLength, truncation: truncation, addSpecialTokens: true)
    }
}
