import Foundation

/// BERT's WordPiece pipeline: added tokens on raw text -> BertNormalizer -> BertPreTokenizer ->
/// WordPiece -> template `[CLS] A [SEP] (B [SEP])`. Matches the HF fast tokenizer (tools/goldens/FIXTURES.md §4).
public struct BertTokenizer: SegmentTokenizer {
    public let normalizer: BertNormalizer
    public let preTokenizer: BertPreTokenizer
    public let wordPiece: WordPiece
    /// Default `.treatAsAbsent` (transformers wrapper, fixtures case 32).
    public var emptyPairHandling: EmptyPairHandling = .treatAsAbsent
    /// WordPiece decoder `cleanup`: " ." -> ".", " n't" -> "n't", etc. (Rust decoders::wordpiece::cleanup).
    public var decoderCleanup: Bool
    let specials: TokenizerSpecials

    public init(
        wordPiece: WordPiece, normalizer: BertNormalizer = BertNormalizer(),
        preTokenizer: BertPreTokenizer = BertPreTokenizer(), addedTokens: [AddedToken],
        postProcessor: TemplatePostProcessor, padToken: String = "[PAD]", decoderCleanup: Bool = true,
        path: String = "<memory>"
    ) throws {
        self.wordPiece = wordPiece
        self.normalizer = normalizer
        self.preTokenizer = preTokenizer
        self.decoderCleanup = decoderCleanup
        specials = try TokenizerSpecials(
            addedTokens: addedTokens, postProcessor: postProcessor, padToken: padToken,
            modelId: { wordPiece.vocab[$0] }, path: path)
    }

    /// From a vocab.txt (id = line number - 1) with explicit options; the special tokens must be in it.
    public init(
        vocabFile: URL, lowercase: Bool = true, stripAccents: Bool? = nil, tokenizeChineseChars: Bool = true,
        specialTokens: BertSpecialTokens = BertSpecialTokens()
    ) throws {
        let path = vocabFile.path
        let wordPiece = try WordPiece(tokens: try readVocabTxt(vocabFile), unkToken: specialTokens.unk, path: path)
        func id(_ token: String, _ role: String) throws -> Int32 {
            guard let id = wordPiece.vocab[token] else {
                throw TokenizerError.missingToken(path: path, token: token, context: role)
            }
            return id
        }
        var added: [AddedToken] = []
        for (token, role) in [
            (specialTokens.pad, "pad_token"), (specialTokens.unk, "unk_token"),
            (specialTokens.cls, "cls_token"), (specialTokens.sep, "sep_token"),
            (specialTokens.mask, "mask_token")
        ] {
            added.append(AddedToken(content: token, id: try id(token, role)))
        }
        let cls = try id(specialTokens.cls, "cls_token"), sep = try id(specialTokens.sep, "sep_token")
        try self.init(
            wordPiece: wordPiece,
            normalizer: BertNormalizer(
                handleChineseChars: tokenizeChineseChars, stripAccents: stripAccents,
                lowercase: lowercase),
            addedTokens: added,
            postProcessor: .bert(cls: (specialTokens.cls, cls), sep: (specialTokens.sep, sep)),
            padToken: specialTokens.pad, path: path)
    }

    /// From a folder with vocab.txt and optionally tokenizer_config.json / special_tokens_map.json
    /// (`do_lower_case`, `strip_accents`, `tokenize_chinese_chars`, `*_token`).
    public init(directory: URL) throws {
        let vocab = directory.appendingPathComponent("vocab.txt")
        var lowercase = true
        var stripAccents: Bool? = nil
        var chinese = true
        var specials = BertSpecialTokens()
        for name in ["special_tokens_map.json", "tokenizer_config.json"] {
            let url = directory.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            let json = try readJSONObject(url)
            let r = JSONReader(path: url.path)
            lowercase = try r.bool(json["do_lower_case"], "do_lower_case", default: lowercase)
            if json["strip_accents"] != nil && !(json["strip_accents"] is NSNull) {
                stripAccents = try r.bool(json["strip_accents"], "strip_accents", default: true)
            }
            chinese = try r.bool(json["tokenize_chinese_chars"], "tokenize_chinese_chars", default: chinese)
            try specials.update(from: json, reader: r)
        }
        try self.init(
            vocabFile: vocab, lowercase: lowercase, stripAccents: stripAccents,
            tokenizeChineseChars: chinese, specialTokens: specials)
    }

    var modelTokens: [String] { wordPiece.idToToken }

    func modelId(of token: String) -> Int32? { wordPiece.vocab[token] }

    func encodeSegment(_ text: String) -> Segment {
        var buffer: [UInt8] = []
        return segment(text) { sub, _, seg in
            let scalars = normalizer.normalizeScalars(sub)
            let mark = seg.ids.count
            for r in preTokenizer.split(scalars) {
                wordPiece.tokenize(word: scalars[r], ids: &seg.ids, bytes: &buffer)
            }
            for id in seg.ids[mark...] { seg.tokens.append(wordPiece.idToToken[Int(id)]) }
        }
    }

    /// Rust WordPiece decoder: a `##` piece is glued to the previous one, any other token gets a leading
    /// space (not the first); then `cleanup` per token. Unknown ids are skipped.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        var out = ""
        let prefix = wordPiece.continuingSubwordPrefix
        let tokens = matcher.decodingTokens(ids, skipSpecialTokens: skipSpecialTokens, idToToken: idToToken)
        for (i, var token) in tokens.enumerated() {
            if i > 0 {
                // Byte-wise: "##" followed by a combining mark is not a Character prefix of the token.
                if token.utf8.starts(with: prefix.utf8) {
                    token = String(decoding: token.utf8.dropFirst(prefix.utf8.count), as: UTF8.self)
                } else {
                    token = " " + token
                }
            }
            out += decoderCleanup ? wordPieceCleanup(token) : token
        }
        return out
    }
}

/// BERT's special token spellings.
public struct BertSpecialTokens: Sendable, Equatable {
    public var unk = "[UNK]", sep = "[SEP]", pad = "[PAD]", cls = "[CLS]", mask = "[MASK]"
    public init() {}
}

extension BertSpecialTokens: SpecialTokenSpellings {
    static let jsonKeys: [(String, WritableKeyPath<Self, String>)] =
        [("unk_token", \.unk), ("sep_token", \.sep), ("pad_token", \.pad), ("cls_token", \.cls), ("mask_token", \.mask)]
}

/// vocab.txt lines (LF or CRLF); a final newline does not add a token.
func readVocabTxt(_ url: URL) throws -> [String] {
    let text = try readTextFile(url)
    var lines = textLines(text).map(String.init)
    if lines.last == "" { lines.removeLast() }
    if lines.isEmpty {
        throw TokenizerError.malformedFile(path: url.path, field: "<file>", reason: "vocabulary is empty")
    }
    return lines
}

/// The lines of `text`, split at LF with a trailing CR removed. (Splitting the String at "\n" would
/// miss CRLF: Swift treats "\r\n" as one Character.)
func textLines(_ text: String) -> [Substring] {
    text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { line in
        Substring(line.last == "\r" ? line.dropLast() : line)
    }
}

/// Rust `decoders::wordpiece::cleanup` (byte-exact replacements, as Rust's `str::replace`).
func wordPieceCleanup(_ s: String) -> String {
    guard s.utf8.contains(0x20) else { return s }
    let rules = [
        (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
        (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")
    ]
    return rules.reduce(s) { replacingLiteral($1.0, in: $0, with: $1.1) }
}
