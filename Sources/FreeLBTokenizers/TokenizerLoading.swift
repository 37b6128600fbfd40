import Foundation

/// Loads whatever tokenizer the folder describes, in this order of preference:
/// tokenizer.json (WordPiece -> `BertTokenizer`, BPE -> `ByteLevelBPETokenizer`, Unigram ->
/// `UnigramTokenizer`), then vocab.txt
/// (+ tokenizer_config.json / special_tokens_map.json), then vocab.json + merges.txt.
public func loadTokenizer(directory: URL) throws -> any Tokenizer {
    let fm = FileManager.default
    let json = directory.appendingPathComponent("tokenizer.json")
    if fm.fileExists(atPath: json.path) { return try loadTokenizer(tokenizerJSON: json) }
    if fm.fileExists(atPath: directory.appendingPathComponent("vocab.txt").path) {
        return try BertTokenizer(directory: directory)
    }
    let vocab = directory.appendingPathComponent("vocab.json")
    let merges = directory.appendingPathComponent("merges.txt")
    if fm.fileExists(atPath: vocab.path) && fm.fileExists(atPath: merges.path) {
        var specials = RobertaSpecialTokens()
        var addPrefixSpace = false
        for name in ["special_tokens_map.json", "tokenizer_config.json"] {
            let url = directory.appendingPathComponent(name)
            guard fm.fileExists(atPath: url.path) else { continue }
            let object = try readJSONObject(url)
            let r = JSONReader(path: url.path)
            try specials.update(from: object, reader: r)
            addPrefixSpace = try r.bool(object["add_prefix_space"], "add_prefix_space", default: addPrefixSpace)
        }
        return try ByteLevelBPETokenizer(
            vocabFile: vocab, mergesFile: merges, specialTokens: specials,
            addPrefixSpace: addPrefixSpace)
    }
    // A SentencePiece model alone (e.g. spiece.model) is not read; say how to get a tokenizer.json.
    for name in ["spiece.model", "sentencepiece.bpe.model", "tokenizer.model"]
    where fm.fileExists(atPath: directory.appendingPathComponent(name).path) {
        throw TokenizerError.unsupported(
            path: directory.appendingPathComponent(name).path, field: "<file>",
            found: "a SentencePiece model without tokenizer.json (write one with transformers: "
                + "AutoTokenizer.from_pretrained(folder).save_pretrained(folder))")
    }
    throw TokenizerError.noTokenizerFiles(directory: directory.path)
}

/// Loads an HF tokenizers-format tokenizer.json (WordPiece, byte-level BPE or SentencePiece Unigram pipelines).
public func loadTokenizer(tokenizerJSON url: URL) throws -> any Tokenizer {
    let root = try readJSONObject(url)
    let r = JSONReader(path: url.path)
    let model = try r.object(root["model"], "model")
    let type =
        try r.optionalString(model["type"], "model.type")
        ?? (model["merges"] != nil
            ? "BPE"
            : model["vocab"] is [String: Any]
                ? "WordPiece"
                : model["vocab"] is [Any] ? "Unigram" : "<missing>")
    switch type {
    case "WordPiece": return try BertTokenizer(tokenizerJSON: url)
    case "BPE": return try ByteLevelBPETokenizer(tokenizerJSON: url)
    case "Unigram": return try UnigramTokenizer(tokenizerJSON: url)
    default: throw TokenizerError.unsupported(path: url.path, field: "model.type", found: type)
    }
}

/// tokenizer.json's top level, a reader for it, and its `model` object, whose `type` (when given) must be `type`.
func readModelSection(_ url: URL, expecting type: String) throws -> (
    root: [String: Any], reader: JSONReader,
    model: [String: Any]
) {
    let root = try readJSONObject(url)
    let r = JSONReader(path: url.path)
    let model = try r.object(root["model"], "model")
    if let found = try r.optionalString(model["type"], "model.type"), found != type {
        throw TokenizerError.unsupported(path: url.path, field: "model.type", found: found)
    }
    return (root, r, model)
}

extension BertTokenizer {
    /// From tokenizer.json with a WordPiece model, BertNormalizer (or none) and BertPreTokenizer.
    public init(tokenizerJSON url: URL) throws {
        let (root, r, model) = try readModelSection(url, expecting: "WordPiece")
        let entries = try vocabEntries(try r.object(model["vocab"], "model.vocab"), reader: r, field: "model.vocab")
        let wordPiece = try WordPiece(
            entries: entries, unkToken: try r.optionalString(model["unk_token"], "model.unk_token") ?? "[UNK]",
            continuingSubwordPrefix: try r.optionalString(
                model["continuing_subword_prefix"],
                "model.continuing_subword_prefix") ?? "##",
            maxInputCharsPerWord: try r.optionalInt(
                model["max_input_chars_per_word"],
                "model.max_input_chars_per_word") ?? 100,
            path: url.path)

        var normalizer = BertNormalizer(cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: false)
        if let n = try r.optionalObject(root["normalizer"], "normalizer") {
            try r.requireType(n, "normalizer", "BertNormalizer")
            let lowercase = try r.bool(n["lowercase"], "normalizer.lowercase", default: true)
            let strip: Bool? =
                (n["strip_accents"] == nil || n["strip_accents"] is NSNull)
                ? nil : try r.bool(n["strip_accents"], "normalizer.strip_accents", default: lowercase)
            normalizer = BertNormalizer(
                cleanText: try r.bool(n["clean_text"], "normalizer.clean_text", default: true),
                handleChineseChars: try r.bool(n["handle_chinese_chars"], "normalizer.handle_chinese_chars", default: true),
                stripAccents: strip, lowercase: lowercase)
        }
        if let p = try r.optionalObject(root["pre_tokenizer"], "pre_tokenizer") {
            try r.requireType(p, "pre_tokenizer", "BertPreTokenizer")
        }
        let (added, post) = try parseAddedTokensAndTemplate(root, reader: r, modelSize: wordPiece.idToToken.count) {
            wordPiece.vocab[$0]
        }
        var cleanup = true
        if let d = try r.optionalObject(root["decoder"], "decoder") {
            try r.requireType(d, "decoder", "WordPiece")
            cleanup = try r.bool(d["cleanup"], "decoder.cleanup", default: true)
        }
        let pad = try parsePadToken(root, reader: r, added: added, fallback: "[PAD]")
        try self.init(
            wordPiece: wordPiece, normalizer: normalizer, addedTokens: added, postProcessor: post,
            padToken: pad, decoderCleanup: cleanup, path: url.path)
    }
}

extension ByteLevelBPETokenizer {
    /// From tokenizer.json with a BPE model, no normalizer and a ByteLevel pre-tokenizer.
    public init(tokenizerJSON url: URL) throws {
        let (root, r, model) = try readModelSection(url, expecting: "BPE")
        let entries = try vocabEntries(try r.object(model["vocab"], "model.vocab"), reader: r, field: "model.vocab")
        var merges: [(String, String)] = []
        for (i, m) in try r.array(model["merges"], "model.merges").enumerated() {
            let field = "model.merges[\(i)]"
            if let s = m as? String {
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    throw TokenizerError.malformedFile(
                        path: url.path, field: field,
                        reason: "expected 'left right', found '\(s.prefix(60))'")
                }
                merges.append((String(parts[0]), String(parts[1])))
            } else {
                let pair = try r.pair(m, field, "[left, right]")
                merges.append((try r.string(pair[0], field + "[0]"), try r.string(pair[1], field + "[1]")))
            }
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let v = try r.optionalString(model[key], "model.\(key)"), !v.isEmpty {
                throw TokenizerError.unsupported(path: url.path, field: "model.\(key)", found: v)
            }
        }
        if model["dropout"] != nil && !(model["dropout"] is NSNull) {
            throw TokenizerError.unsupported(path: url.path, field: "model.dropout", found: "\(model["dropout"]!)")
        }
        if try r.bool(model["byte_fallback"], "model.byte_fallback", default: false) {
            throw TokenizerError.unsupported(path: url.path, field: "model.byte_fallback", found: "true")
        }
        let bpe = try BPE(
            entries: entries, merges: merges,
            unkToken: try r.optionalString(model["unk_token"], "model.unk_token"),
            ignoreMerges: try r.bool(model["ignore_merges"], "model.ignore_merges", default: false),
            path: url.path)
        if let n = try r.optionalObject(root["normalizer"], "normalizer") {
            throw TokenizerError.unsupported(
                path: url.path, field: "normalizer.type",
                found: (n["type"] as? String) ?? "<missing>")
        }
        let p = try r.object(root["pre_tokenizer"], "pre_tokenizer")
        try r.requireType(p, "pre_tokenizer", "ByteLevel")
        let pre = ByteLevelPreTokenizer(
            addPrefixSpace: try r.bool(p["add_prefix_space"], "pre_tokenizer.add_prefix_space", default: true),
            useRegex: try r.bool(p["use_regex"], "pre_tokenizer.use_regex", default: true))
        if let d = try r.optionalObject(root["decoder"], "decoder") {
            try r.requireType(d, "decoder", "ByteLevel")
        }
        let (added, post) = try parseAddedTokensAndTemplate(root, reader: r, modelSize: bpe.idToToken.count) { bpe.vocab[$0] }
        let pad = try parsePadToken(root, reader: r, added: added, fallback: "<pad>")
        try self.init(
            bpe: bpe, preTokenizer: pre, addedTokens: added, postProcessor: post, padToken: pad,
            path: url.path)
    }
}

/// `added_tokens` (checked against the model's `modelSize` ids) and the `post_processor` template, whose
/// tokens are an added token's id, else the model's (`modelId`).
func parseAddedTokensAndTemplate(
    _ root: [String: Any], reader r: JSONReader, modelSize: Int,
    modelId: @escaping (String) -> Int32?
) throws -> ([AddedToken], TemplatePostProcessor) {
    let added = try parseAddedTokens(root, reader: r)
    try checkAddedTokenIds(added, modelVocabularySize: modelSize, reader: r)
    let lookup: (String) -> Int32? = { t in added.first { $0.content == t }?.id ?? modelId(t) }
    let post = try parsePostProcessor(
        root, reader: r,
        vocabularySize: AddedTokenMatcher(added)
            .vocabularySize(modelSize: modelSize), lookup: lookup)
    return (added, post)
}

func parseAddedTokens(_ root: [String: Any], reader r: JSONReader) throws -> [AddedToken] {
    guard let list = root["added_tokens"], !(list is NSNull) else { return [] }
    return try r.array(list, "added_tokens").enumerated().map { i, item in
        let f = "added_tokens[\(i)]"
        let o = try r.object(item, f)
        if try r.bool(o["normalized"], f + ".normalized", default: false),
            !(try r.bool(o["special"], f + ".special", default: false))
        {
            // Non-special normalized added tokens would be matched on normalized text; not implemented.
            throw TokenizerError.unsupported(path: r.path, field: f + ".normalized", found: "true")
        }
        return AddedToken(
            content: try r.string(o["content"], f + ".content"), id: Int32(try r.id(o["id"], f + ".id")),
            special: try r.bool(o["special"], f + ".special", default: false),
            lstrip: try r.bool(o["lstrip"], f + ".lstrip", default: false),
            rstrip: try r.bool(o["rstrip"], f + ".rstrip", default: false),
            singleWord: try r.bool(o["single_word"], f + ".single_word", default: false))
    }
}

/// Ids may leave a few gaps after the last one, never more: a larger id is an error, not a huge allocation.
let vocabularyIdSlack = 1024

/// Added token ids must lie within the model vocabulary plus the added tokens (and `vocabularyIdSlack`).
func checkAddedTokenIds(_ added: [AddedToken], modelVocabularySize: Int, reader r: JSONReader) throws {
    let limit = modelVocabularySize + added.count + vocabularyIdSlack
    for (i, token) in added.enumerated() where Int(token.id) >= limit {
        throw TokenizerError.malformedFile(
            path: r.path, field: "added_tokens[\(i)].id",
            reason:
                "id \(token.id) is out of range for a vocabulary of \(modelVocabularySize) tokens and \(added.count) added tokens"
        )
    }
}

/// The post-processor; every special token id it adds must lie inside `vocabularySize`.
func parsePostProcessor(
    _ root: [String: Any], reader r: JSONReader, vocabularySize: Int,
    lookup: (String) -> Int32?
) throws -> TemplatePostProcessor {
    let template = try parseTemplate(root, reader: r, lookup: lookup)
    for case let .special(token, id, _) in template.single + template.pair where Int(id) >= vocabularySize {
        throw TokenizerError.malformedFile(
            path: r.path, field: "post_processor",
            reason: "special token '\(token.prefix(40))' has id \(id), outside the vocabulary (\(vocabularySize) tokens)")
    }
    return template
}

/// TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel (no special tokens) or null.
private func parseTemplate(
    _ root: [String: Any], reader r: JSONReader,
    lookup: (String) -> Int32?
) throws -> TemplatePostProcessor {
    let none = TemplatePostProcessor(
        single: [.sequence(first: true, typeId: 0)],
        pair: [.sequence(first: true, typeId: 0), .sequence(first: false, typeId: 1)])
    guard let p = try r.optionalObject(root["post_processor"], "post_processor") else { return none }
    let type = try r.string(p["type"], "post_processor.type")
    func tokenAndId(_ key: String) throws -> (String, Int32) {
        let a = try r.array(p[key], "post_processor.\(key)")
        guard a.count == 2 else {
            throw TokenizerError.malformedFile(path: r.path, field: "post_processor.\(key)", reason: "expected [token, id]")
        }
        return (try r.string(a[0], "post_processor.\(key)[0]"), Int32(try r.id(a[1], "post_processor.\(key)[1]")))
    }
    switch type {
    case "BertProcessing": return .bert(cls: try tokenAndId("cls"), sep: try tokenAndId("sep"))
    case "RobertaProcessing": return .roberta(cls: try tokenAndId("cls"), sep: try tokenAndId("sep"))
    case "ByteLevel": return none
    case "TemplateProcessing":
        var specials: [String: [(String, Int32)]] = [:]
        let st = try r.object(p["special_tokens"] ?? [String: Any](), "post_processor.special_tokens")
        for (name, value) in st {
            let f = "post_processor.special_tokens.\(name)"
            let o = try r.object(value, f)
            let ids = try r.array(o["ids"], f + ".ids").enumerated().map { Int32(try r.id($1, f + ".ids[\($0)]")) }
            let toks = try r.array(o["tokens"], f + ".tokens").enumerated().map { try r.string($1, f + ".tokens[\($0)]") }
            guard ids.count == toks.count else {
                throw TokenizerError.malformedFile(path: r.path, field: f, reason: "ids and tokens differ in length")
            }
            specials[name] = Array(zip(toks, ids))
        }
        func pieces(_ key: String) throws -> [TemplatePostProcessor.Piece] {
            var out: [TemplatePostProcessor.Piece] = []
            for (i, item) in try r.array(p[key], "post_processor.\(key)").enumerated() {
                let f = "post_processor.\(key)[\(i)]"
                let o = try r.object(item, f)
                if let s = o["SpecialToken"] {
                    let so = try r.object(s, f + ".SpecialToken")
                    let name = try r.string(so["id"], f + ".SpecialToken.id")
                    let typeId = Int32(try r.id(so["type_id"], f + ".SpecialToken.type_id"))
                    let resolved: [(String, Int32)]
                    if let list = specials[name] {
                        resolved = list
                    } else if let id = lookup(name) {
                        resolved = [(name, id)]
                    } else {
                        throw TokenizerError.missingToken(path: r.path, token: name, context: f)
                    }
                    for (tok, id) in resolved { out.append(.special(token: tok, id: id, typeId: typeId)) }
                } else if let s = o["Sequence"] {
                    let so = try r.object(s, f + ".Sequence")
                    let name = try r.string(so["id"], f + ".Sequence.id")
                    guard name == "A" || name == "B" else {
                        throw TokenizerError.malformedFile(
                            path: r.path, field: f + ".Sequence.id",
                            reason: "expected \"A\" or \"B\", found \"\(name)\"")
                    }
                    out.append(.sequence(first: name == "A", typeId: Int32(try r.id(so["type_id"], f + ".Sequence.type_id"))))
                } else {
                    throw TokenizerError.malformedFile(path: r.path, field: f, reason: "expected SpecialToken or Sequence")
                }
            }
            return out
        }
        return TemplatePostProcessor(single: try pieces("single"), pair: try pieces("pair"))
    default:
        throw TokenizerError.unsupported(path: r.path, field: "post_processor.type", found: type)
    }
}

/// `padding.pad_token` when present, else `fallback`.
func parsePadToken(_ root: [String: Any], reader r: JSONReader, added: [AddedToken], fallback: String) throws -> String {
    if let padding = try r.optionalObject(root["padding"], "padding"),
        let t = try r.optionalString(padding["pad_token"], "padding.pad_token")
    {
        return t
    }
    return fallback
}
