/// Token ids and their strings for one segment (no special tokens yet).
struct Segment {
    var ids: [Int32] = []
    var tokens: [String] = []

    mutating func truncate(to n: Int) {
        if ids.count > n { ids.removeLast(ids.count - n); tokens.removeLast(tokens.count - n) }
    }
}

/// What an empty `pair` ("") means. The transformers Python wrapper tests `if text_pair` and so drops it
/// (tools/goldens/FIXTURES.md §4, case 32); the Rust tokenizers library encodes an empty second segment, e.g.
/// `<s> A </s></s></s>` (README §6, case 23).
public enum EmptyPairHandling: String, Sendable, Codable {
    /// transformers / run_glue behaviour: `pair == ""` gives the single-sentence encoding. The default.
    case treatAsAbsent = "treat_as_absent"
    /// tokenizers-library behaviour: an empty B segment still gets its special tokens.
    case encodeEmptySegment = "encode_empty_segment"
}

/// A post-processing template (HF TemplateProcessing; BertProcessing and RobertaProcessing are instances).
public struct TemplatePostProcessor: Sendable, Equatable {
    public enum Piece: Sendable, Equatable {
        case special(token: String, id: Int32, typeId: Int32)
        /// `first` is sequence A, otherwise B.
        case sequence(first: Bool, typeId: Int32)
    }

    public var single: [Piece]
    public var pair: [Piece]

    public init(single: [Piece], pair: [Piece]) {
        self.single = single
        self.pair = pair
    }

    /// `[CLS] A [SEP]` / `[CLS] A [SEP] B [SEP]`: type 0 up to and including the first [SEP], 1 after.
    public static func bert(cls: (String, Int32), sep: (String, Int32)) -> TemplatePostProcessor {
        let single = singleTemplate(cls: cls, sep: sep)
        let sepB = Piece.special(token: sep.0, id: sep.1, typeId: 1)
        return TemplatePostProcessor(single: single, pair: single + [.sequence(first: false, typeId: 1), sepB])
    }

    /// `<s> A </s>` / `<s> A </s></s> B </s>`, all type ids 0.
    public static func roberta(cls: (String, Int32), sep: (String, Int32)) -> TemplatePostProcessor {
        let single = singleTemplate(cls: cls, sep: sep)
        let sepA = Piece.special(token: sep.0, id: sep.1, typeId: 0)
        return TemplatePostProcessor(single: single, pair: single + [sepA, .sequence(first: false, typeId: 0), sepA])
    }

    /// `cls A sep`, type ids 0: the single-text template of both.
    private static func singleTemplate(cls: (String, Int32), sep: (String, Int32)) -> [Piece] {
        [
            .special(token: cls.0, id: cls.1, typeId: 0), .sequence(first: true, typeId: 0),
            .special(token: sep.0, id: sep.1, typeId: 0)
        ]
    }

    /// Number of special tokens added for a single text or a pair.
    public func addedTokens(pair isPair: Bool) -> Int {
        (isPair ? pair : single).reduce(0) { n, p in if case .special = p { return n + 1 } else { return n } }
    }

    /// Applies the template. Without special tokens the sequences keep their template type ids.
    func apply(_ a: Segment, _ b: Segment?, addSpecialTokens: Bool) -> Encoding {
        var ids: [Int32] = []
        var typeIds: [Int32] = []
        var tokens: [String] = []
        let total = a.ids.count + (b?.ids.count ?? 0) + 4
        ids.reserveCapacity(total); typeIds.reserveCapacity(total); tokens.reserveCapacity(total)
        for piece in (b == nil ? single : pair) {
            switch piece {
            case let .special(token, id, typeId):
                guard addSpecialTokens else { continue }
                ids.append(id); typeIds.append(typeId); tokens.append(token)
            case let .sequence(first, typeId):
                guard let seg = first ? a : b else { continue }
                ids.append(contentsOf: seg.ids)
                tokens.append(contentsOf: seg.tokens)
                typeIds.append(contentsOf: repeatElement(typeId, count: seg.ids.count))
            }
        }
        return Encoding(
            ids: ids, typeIds: typeIds, attentionMask: Array(repeating: 1, count: ids.count),
            tokens: tokens)
    }
}

extension TruncationStrategy {
    /// Segment lengths after truncation, with `budget` = max_length minus the special tokens.
    /// Mirrors Rust `tokenizers::utils::truncation::truncate_encodings` (tools/goldens/FIXTURES.md §4):
    /// longest_first keeps the shorter segment whole when the longer one can absorb the cut, otherwise
    /// gives budget/2 and budget/2 + budget%2, the extra token to the longer segment (the second on a tie).
    /// only_first / only_second cut the named segment; when it is too short to absorb the whole cut
    /// (Rust raises an error, transformers logs one) nothing is truncated.
    public func truncatedLengths(first: Int, second: Int?, budget: Int) -> (first: Int, second: Int?) {
        let budget = Swift.max(0, budget)
        let total = first + (second ?? 0)
        guard total > budget, self != .doNotTruncate else { return (first, second) }
        let toRemove = total - budget
        guard let second else {
            switch self {
            case .longestFirst, .onlyFirst: return (budget, nil)
            case .onlySecond, .doNotTruncate: return (first, nil)
            }
        }
        switch self {
        case .longestFirst:
            let swap = first > second
            var n1 = swap ? second : first
            var n2 = n1 > budget ? n1 : Swift.max(n1, budget - n1)
            if n1 + n2 > budget {
                n1 = budget / 2
                n2 = n1 + budget % 2
            }
            let (a, b) = swap ? (n2, n1) : (n1, n2)
            return (Swift.min(first, a), Swift.min(second, b))
        case .onlyFirst:
            return first > toRemove ? (first - toRemove, second) : (first, second)
        case .onlySecond:
            return second > toRemove ? (first, second - toRemove) : (first, second)
        case .doNotTruncate:
            return (first, second)
        }
    }
}

/// What the shared encode path needs from a tokenizer.
protocol TemplateOptions {
    var postProcessor: TemplatePostProcessor { get }
    var emptyPairHandling: EmptyPairHandling { get }
}

extension BertTokenizer: TemplateOptions {}
extension ByteLevelBPETokenizer: TemplateOptions {}
extension UnigramTokenizer: TemplateOptions {}

/// The shared encode path: truncation, empty-pair rule, template.
func assembleEncoding(
    _ a: Segment, _ b: Segment?, pairWasEmpty: Bool, options: some TemplateOptions,
    maxLength: Int?, truncation: TruncationStrategy, addSpecialTokens: Bool
) -> Encoding {
    let postProcessor = options.postProcessor
    var a = a
    var b = b
    if pairWasEmpty && options.emptyPairHandling == .treatAsAbsent { b = nil }
    if let maxLength {
        let specials = addSpecialTokens ? postProcessor.addedTokens(pair: b != nil) : 0
        let lengths = truncation.truncatedLengths(
            first: a.ids.count, second: b?.ids.count,
            budget: maxLength - specials)
        a.truncate(to: lengths.first)
        if let n = lengths.second { b?.truncate(to: n) }
    }
    return postProcessor.apply(a, b, addSpecialTokens: addSpecialTokens)
}
