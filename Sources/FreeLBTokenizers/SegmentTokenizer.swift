// The pipeline every tokenizer of this module shares: added tokens are matched on the raw text first, the
// model tokenizes the text between them (its own normalizer, pre-tokenizer and model), and the segments
// go through the shared truncation / template path (assembleEncoding).
import Foundation

/// A tokenizer with a token vocabulary (BertTokenizer, ByteLevelBPETokenizer, UnigramTokenizer).
public protocol VocabularyTokenizer: Tokenizer {
    /// Tokens matched on the raw text before the model runs (special tokens and user additions).
    var addedTokens: [AddedToken] { get }
    /// The special-token template around one text or a pair.
    var postProcessor: TemplatePostProcessor { get }
    /// An added token's id, else the model's; nil when unknown.
    func tokenToId(_ token: String) -> Int32?
    /// An added token's content, else the model's token; nil when unknown.
    func idToToken(_ id: Int32) -> String?
    /// Token strings of one text, without special tokens or truncation.
    func tokenize(_ text: String) -> [String]
}

/// A tokenizer whose model tokenizes the text between added tokens.
protocol SegmentTokenizer: VocabularyTokenizer, TemplateOptions {
    var specials: TokenizerSpecials { get }
    /// The model's id → token table (added tokens may extend it).
    var modelTokens: [String] { get }
    /// The model's own id of a token (not an added token).
    func modelId(of token: String) -> Int32?
    /// Ids and token strings of one text, without special tokens or truncation.
    func encodeSegment(_ text: String) -> Segment
}

extension SegmentTokenizer {
    public var addedTokens: [AddedToken] { specials.addedTokens }
    public var postProcessor: TemplatePostProcessor { specials.postProcessor }
    public var padToken: String { specials.padToken }
    public var padTokenId: Int32 { specials.padTokenId }
    var matcher: AddedTokenMatcher { specials.matcher }

    public var vocabularySize: Int { matcher.vocabularySize(modelSize: modelTokens.count) }

    public func tokenToId(_ token: String) -> Int32? { matcher.id(of: token) ?? modelId(of: token) }

    public func idToToken(_ id: Int32) -> String? { matcher.content(ofId: id, modelTokens: modelTokens) }

    public func tokenize(_ text: String) -> [String] { encodeSegment(text).tokens }

    public func encode(
        _ text: String, pair: String?, maxLength: Int?, truncation: TruncationStrategy,
        addSpecialTokens: Bool
    ) -> Encoding {
        assembleEncoding(
            encodeSegment(text), pair.map(encodeSegment), pairWasEmpty: pair?.isEmpty ?? false,
            options: self, maxLength: maxLength, truncation: truncation, addSpecialTokens: addSpecialTokens)
    }

    /// Splits `text` at added tokens (each gives its id and the text it matched) and lets `tokenizeText`
    /// append the ids and tokens of every stretch of plain text in between (`startsInput`: the stretch
    /// begins the text).
    func segment(_ text: String, tokenizeText: (_ stretch: Substring, _ startsInput: Bool, inout Segment) -> Void) -> Segment {
        var seg = Segment()
        for (index, raw) in matcher.split(text).enumerated() {
            switch raw {
            case let .added(token, matched):
                seg.ids.append(token.id)
                seg.tokens.append(String(matched))
            case let .text(sub):
                tokenizeText(sub, index == 0, &seg)
            }
        }
        return seg
    }
}

/// What every tokenizer here keeps besides its model: the added tokens and their matcher, the template and
/// the pad token.
struct TokenizerSpecials: Sendable {
    let addedTokens: [AddedToken]
    let matcher: AddedTokenMatcher
    let postProcessor: TemplatePostProcessor
    let padToken: String
    let padTokenId: Int32

    /// The pad token's id is the added token's, else the model's (`modelId`); neither is an error naming `path`.
    init(
        addedTokens: [AddedToken], postProcessor: TemplatePostProcessor, padToken: String,
        modelId: (String) -> Int32?, path: String
    ) throws {
        guard let id = addedTokens.first(where: { $0.content == padToken })?.id ?? modelId(padToken) else {
            throw TokenizerError.missingToken(path: path, token: padToken, context: "pad_token")
        }
        self.addedTokens = addedTokens
        self.matcher = AddedTokenMatcher(addedTokens)
        self.postProcessor = postProcessor
        self.padToken = padToken
        self.padTokenId = id
    }
}

/// A model's special token spellings, read from tokenizer_config.json / special_tokens_map.json.
protocol SpecialTokenSpellings {
    /// JSON key ("unk_token", …) → the field it sets.
    static var jsonKeys: [(String, WritableKeyPath<Self, String>)] { get }
}

extension SpecialTokenSpellings {
    /// Sets each field from its key, given as a string or as `{"content": ...}`; an absent or null key keeps
    /// the field's value.
    mutating func update(from json: [String: Any], reader r: JSONReader) throws {
        for (key, field) in Self.jsonKeys {
            guard let v = json[key], !(v is NSNull) else { continue }
            if let dict = v as? [String: Any] {
                self[keyPath: field] = try r.string(dict["content"], "\(key).content")
            } else {
                self[keyPath: field] = try r.string(v, key)
            }
        }
    }
}
