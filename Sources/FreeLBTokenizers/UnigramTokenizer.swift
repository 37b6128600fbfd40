import Foundation

/// The SentencePiece pipeline of ALBERT, XLM-RoBERTa, T5 and DeBERTa-v3 tokenizer.json files:
/// added tokens on raw text -> normalizer chain (e.g. Precompiled nmt_nfkc) -> Metaspace / WhitespaceSplit
/// -> Unigram -> template (`[CLS] A [SEP] B [SEP]`, `<s> A </s></s> B </s>`) -> decoder chain.
/// Matches the HF tokenizers library (see Tests/FreeLBTokenizersTests/Resources/unigram_tokenizer_cases.json).
public struct UnigramTokenizer: SegmentTokenizer {
    public let normalizer: TextNormalizer?
    public let wordSplitter: WordSplitter?
    public let unigram: Unigram
    public let decoder: TokenDecoder?
    let specials: TokenizerSpecials
    /// Default `.treatAsAbsent` (transformers / run_glue).
    public var emptyPairHandling: EmptyPairHandling = .treatAsAbsent

    public init(
        unigram: Unigram, normalizer: TextNormalizer?, wordSplitter: WordSplitter?, decoder: TokenDecoder?,
        addedTokens: [AddedToken], postProcessor: TemplatePostProcessor, padToken: String = "<pad>",
        path: String = "<memory>"
    ) throws {
        self.unigram = unigram
        self.normalizer = normalizer
        self.wordSplitter = wordSplitter
        self.decoder = decoder
        specials = try TokenizerSpecials(
            addedTokens: addedTokens, postProcessor: postProcessor, padToken: padToken,
            modelId: { unigram.id(of: $0) }, path: path)
    }

    var modelTokens: [String] { unigram.pieces }

    func modelId(of token: String) -> Int32? { unigram.id(of: token) }

    /// An unknown stretch keeps its text (as HF's Encoding.tokens does); its id is the unknown id.
    func encodeSegment(_ text: String) -> Segment {
        var lattice = Unigram.Lattice()
        return segment(text) { sub, startsInput, seg in
            let normalized = normalizer?.normalize(String(sub)) ?? String(sub)
            let whole = [WordSplitter.Piece(text: normalized, startsInput: startsInput)]
            for word in wordSplitter?.split(whole) ?? whole {
                unigram.tokenize(word: word.bytes, ids: &seg.ids, tokens: &seg.tokens, lattice: &lattice)
            }
        }
    }

    /// Ids -> token strings (special added tokens dropped if asked, unknown ids skipped) -> decoder chain,
    /// joined; without a decoder the tokens are joined with spaces (as in HF).
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        let tokens = matcher.decodingTokens(ids, skipSpecialTokens: skipSpecialTokens, idToToken: idToToken)
        guard let decoder else { return tokens.joined(separator: " ") }
        return decoder.decodeChain(tokens).joined()
    }
}

extension UnigramTokenizer {
    /// From tokenizer.json with a Unigram model. Every component is checked while loading; a malformed
    /// one gives a `TokenizerError` naming the file and the field.
    public init(tokenizerJSON url: URL) throws {
        let (root, r, model) = try readModelSection(url, expecting: "Unigram")
        var vocabulary: [(String, Double)] = []
        let entries = try r.array(model["vocab"], "model.vocab")
        vocabulary.reserveCapacity(entries.count)
        for (i, entry) in entries.enumerated() {
            let field = "model.vocab[\(i)]"
            let pair = try r.pair(entry, field, "[piece, score]")
            vocabulary.append((try r.string(pair[0], field + "[0]"), try r.score(pair[1], field + "[1]")))
        }
        guard let unkId = try r.optionalInt(model["unk_id"], "model.unk_id") else {
            throw TokenizerError.malformedFile(
                path: url.path, field: "model.unk_id",
                reason: "expected the id of the unknown piece, found \(model["unk_id"] == nil ? "missing" : "null")")
        }
        let unigram = try Unigram(
            vocabulary: vocabulary, unkId: unkId,
            byteFallback: try r.bool(model["byte_fallback"], "model.byte_fallback", default: false),
            path: url.path)
        let normalizer = try root["normalizer"].flatMap { $0 is NSNull ? nil : $0 }
            .map { try TextNormalizer.parse($0, reader: r, field: "normalizer") }
        let splitter = try root["pre_tokenizer"].flatMap { $0 is NSNull ? nil : $0 }
            .map { try WordSplitter.parse($0, reader: r, field: "pre_tokenizer") }
        let decoder = try root["decoder"].flatMap { $0 is NSNull ? nil : $0 }
            .map { try TokenDecoder.parse($0, reader: r, field: "decoder") }
        let (added, post) = try parseAddedTokensAndTemplate(root, reader: r, modelSize: unigram.pieces.count) {
            unigram.id(of: $0)
        }
        // `padding.pad_token`, else "<pad>", else (sentencepiece files without one) the unknown piece.
        var pad = try parsePadToken(root, reader: r, added: added, fallback: "")
        if pad.isEmpty {
            let hasPad = added.contains { $0.content == "<pad>" } || unigram.id(of: "<pad>") != nil
            pad = hasPad ? "<pad>" : unigram.pieces[Int(unigram.unkId)]
        }
        try self.init(
            unigram: unigram, normalizer: normalizer, wordSplitter: splitter, decoder: decoder,
            addedTokens: added, postProcessor: post, padToken: pad, path: url.path)
    }
}

extension JSONReader {
    /// A finite number (a Unigram piece score).
    func score(_ value: Any?, _ field: String) throws -> Double {
        if let n = value as? NSNumber, !(value is String) {
            let d = n.doubleValue
            if d.isFinite { return d }
        }
        throw mismatch(field, "a number", value)
    }
}
