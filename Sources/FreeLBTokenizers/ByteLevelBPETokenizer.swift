import Foundation

/// RoBERTa/GPT-2 byte-level BPE pipeline: added tokens on raw text (no normalizer) -> ByteLevel
/// pre-tokenizer -> BPE -> template `<s> A </s>` / `<s> A </s></s> B </s>` (type ids 0) -> ByteLevel
/// decoder. Matches the Rust tokenizers library (tools/goldens/FIXTURES.md §6).
public struct ByteLevelBPETokenizer: SegmentTokenizer {
    public let preTokenizer: ByteLevelPreTokenizer
    public let bpe: BPE
    /// Default `.treatAsAbsent` (transformers/run_glue). The Rust library, the reference of the BPE
    /// fixtures, behaves as `.encodeEmptySegment` (case 23).
    public var emptyPairHandling: EmptyPairHandling = .treatAsAbsent
    let specials: TokenizerSpecials

    public init(
        bpe: BPE, preTokenizer: ByteLevelPreTokenizer = ByteLevelPreTokenizer(), addedTokens: [AddedToken],
        postProcessor: TemplatePostProcessor, padToken: String = "<pad>", path: String = "<memory>"
    ) throws {
        self.bpe = bpe
        self.preTokenizer = preTokenizer
        specials = try TokenizerSpecials(
            addedTokens: addedTokens, postProcessor: postProcessor, padToken: padToken,
            modelId: { bpe.vocab[$0] }, path: path)
    }

    /// From vocab.json + merges.txt (GPT-2 format, optional `#version` first line), with RoBERTa's
    /// special tokens (`<mask>` absorbs the whitespace before it). All five must be in vocab.json.
    public init(
        vocabFile: URL, mergesFile: URL, specialTokens: RobertaSpecialTokens = RobertaSpecialTokens(),
        addPrefixSpace: Bool = false
    ) throws {
        let entries = try readVocabJSON(vocabFile)
        let merges = try readMergesTxt(mergesFile)
        let bpe = try BPE(entries: entries, merges: merges, path: vocabFile.path + " + " + mergesFile.path)
        func id(_ token: String, _ role: String) throws -> Int32 {
            guard let id = bpe.vocab[token] else {
                throw TokenizerError.missingToken(path: vocabFile.path, token: token, context: role)
            }
            return id
        }
        let s = specialTokens
        var added: [AddedToken] = []
        for (token, role) in [
            (s.bos, "bos_token"), (s.pad, "pad_token"), (s.eos, "eos_token"),
            (s.unk, "unk_token"), (s.mask, "mask_token")
        ] {
            added.append(AddedToken(content: token, id: try id(token, role), lstrip: token == s.mask))
        }
        try self.init(
            bpe: bpe, preTokenizer: ByteLevelPreTokenizer(addPrefixSpace: addPrefixSpace),
            addedTokens: added,
            postProcessor: .roberta(
                cls: (s.bos, try id(s.bos, "bos_token")),
                sep: (s.eos, try id(s.eos, "eos_token"))),
            padToken: s.pad, path: vocabFile.path)
    }

    var modelTokens: [String] { bpe.idToToken }

    func modelId(of token: String) -> Int32? { bpe.vocab[token] }

    /// Byte-level token strings.
    func encodeSegment(_ text: String) -> Segment {
        var bytes: [UInt8] = []
        var symbols: [Int32] = []
        return segment(text) { sub, _, seg in
            let scalars = preTokenizer.prepared(sub)
            let mark = seg.ids.count
            for r in preTokenizer.ranges(scalars) {
                bytes.removeAll(keepingCapacity: true)
                for c in scalars[r] { appendUTF8(c, to: &bytes) }
                bytes.withUnsafeBufferPointer { bpe.tokenize(bytes: $0, into: &seg.ids, symbols: &symbols) }
            }
            for id in seg.ids[mark...] { seg.tokens.append(bpe.idToToken[Int(id)]) }
        }
    }

    /// Ids -> token strings (an added token gives its content), specials dropped if asked, then the
    /// ByteLevel decoder (UTF-8 with U+FFFD replacement). Unknown ids are skipped.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        let tokens = matcher.decodingTokens(ids, skipSpecialTokens: skipSpecialTokens, idToToken: idToToken)
        return ByteLevelAlphabet.decode(tokens)
    }
}

/// RoBERTa's special token spellings.
public struct RobertaSpecialTokens: Sendable, Equatable {
    public var bos = "<s>", pad = "<pad>", eos = "</s>", unk = "<unk>", mask = "<mask>"
    public init() {}
}

extension RobertaSpecialTokens: SpecialTokenSpellings {
    static let jsonKeys: [(String, WritableKeyPath<Self, String>)] =
        [("bos_token", \.bos), ("pad_token", \.pad), ("eos_token", \.eos), ("unk_token", \.unk), ("mask_token", \.mask)]
}

/// vocab.json: an object token -> id; ids must be distinct non-negative integers.
func readVocabJSON(_ url: URL) throws -> [(String, Int32)] {
    let json = try readJSONObject(url)
    return try vocabEntries(json, reader: JSONReader(path: url.path), field: "")
}

func vocabEntries(_ json: [String: Any], reader r: JSONReader, field: String) throws -> [(String, Int32)] {
    var entries: [(String, Int32)] = []
    entries.reserveCapacity(json.count)
    var seen = Set<Int32>()
    for (token, value) in json {
        let key = field.isEmpty ? token : "\(field).\(token)"
        let id = Int32(try r.id(value, key))
        guard seen.insert(id).inserted else {
            throw TokenizerError.malformedFile(path: r.path, field: key, reason: "id \(id) is used by two tokens")
        }
        entries.append((token, id))
    }
    if entries.isEmpty {
        throw TokenizerError.malformedFile(path: r.path, field: field.isEmpty ? "<file>" : field, reason: "vocabulary is empty")
    }
    // Checked before any id-indexed table is allocated.
    let limit = entries.count + vocabularyIdSlack
    if let (token, id) = entries.first(where: { Int($0.1) >= limit }) {
        throw TokenizerError.malformedFile(
            path: r.path, field: field.isEmpty ? token : "\(field).\(token)",
            reason: "id \(id) is out of range for a vocabulary of \(entries.count) tokens")
    }
    return entries.sorted { $0.1 < $1.1 }
}

/// merges.txt: one `left right` per line, an optional `#version` first line, blank lines ignored.
func readMergesTxt(_ url: URL) throws -> [(String, String)] {
    let text = try readTextFile(url)
    var merges: [(String, String)] = []
    for (n, line) in textLines(text).enumerated() {
        if line.isEmpty || (n == 0 && line.hasPrefix("#version")) { continue }
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw TokenizerError.malformedLine(
                path: url.path, line: n + 1,
                reason: "expected 'left right', found '\(line.prefix(60))'")
        }
        merges.append((String(parts[0]), String(parts[1])))
    }
    return merges
}
