/// How a batch is padded (always on the right, with the tokenizer's pad token, type 0, mask 0).
public enum PaddingStrategy: Sendable, Equatable {
    case none
    /// To the longest encoding in the batch.
    case longest
    /// To exactly this length (longer encodings are left as they are; truncate with `maxLength`).
    case fixed(Int)
}

extension Encoding {
    /// Right-pads every encoding to the longest one, or to `length` when given. Never truncates.
    public static func padBatch(
        _ encodings: [Encoding], to length: Int? = nil, padId: Int32,
        padToken: String
    ) -> [Encoding] {
        let target = length ?? encodings.map(\.count).max() ?? 0
        return encodings.map { $0.padded(to: target, padId: padId, padToken: padToken) }
    }
}

extension Tokenizer {
    /// Encodes texts (or text pairs, `pairs.count == texts.count`) and pads them as asked.
    /// Returns `[B]` encodings of equal length unless `padding == .none`.
    public func encodeBatch(
        _ texts: [String], pairs: [String]? = nil, maxLength: Int? = nil,
        truncation: TruncationStrategy = .longestFirst,
        padding: PaddingStrategy = .longest
    ) -> [Encoding] {
        precondition(pairs == nil || pairs!.count == texts.count, "encodeBatch: texts and pairs differ in count")
        let encodings = texts.indices.map { i in
            encode(texts[i], pair: pairs?[i], maxLength: maxLength, truncation: truncation, addSpecialTokens: true)
        }
        switch padding {
        case .none: return encodings
        case .longest: return Encoding.padBatch(encodings, padId: padTokenId, padToken: padToken)
        case .fixed(let n): return Encoding.padBatch(encodings, to: n, padId: padTokenId, padToken: padToken)
        }
    }
}
