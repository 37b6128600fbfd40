/// A byte trie over UTF-8 token spellings, for greedy longest-prefix matching without building Strings.
struct ByteTrie: Sendable {
    /// (node << 8 | byte) -> child node.
    private var children: [Int: Int32] = [:]
    /// Token id ending at each node, or -1.
    private var terminal: [Int32] = [-1]

    static let root: Int32 = 0

    mutating func insert<S: Sequence>(_ bytes: S, id: Int32) where S.Element == UInt8 {
        var node = ByteTrie.root
        for b in bytes {
            let key = Int(node) << 8 | Int(b)
            if let next = children[key] {
                node = next
            } else {
                let next = Int32(terminal.count)
                terminal.append(-1)
                children[key] = next
                node = next
            }
        }
        terminal[Int(node)] = id
    }

    @inline(__always) func child(_ node: Int32, _ byte: UInt8) -> Int32? {
        children[Int(node) << 8 | Int(byte)]
    }

    /// The node reached by `bytes` from the root, or nil.
    func walk<S: Sequence>(_ bytes: S) -> Int32? where S.Element == UInt8 {
        var node = ByteTrie.root
        for b in bytes {
            guard let next = child(node, b) else { return nil }
            node = next
        }
        return node
    }

    /// The token spelled exactly by `bytes`, or nil.
    func exact<S: Sequence>(_ bytes: S) -> Int32? where S.Element == UInt8 {
        guard let node = walk(bytes) else { return nil }
        let t = terminal[Int(node)]
        return t >= 0 ? t : nil
    }

    /// Calls `body(id, end)` for every token that is a prefix of `bytes[from...]`, shortest first.
    @inline(__always) func forEachPrefixMatch(
        _ bytes: UnsafeBufferPointer<UInt8>, from: Int,
        _ body: (Int32, Int) -> Void
    ) {
        var node = ByteTrie.root
        var i = from
        while i < bytes.count, let next = child(node, bytes[i]) {
            node = next
            i += 1
            let t = terminal[Int(node)]
            if t >= 0 { body(t, i) }
        }
    }

    /// Longest token in `bytes[from...]` starting at `node`: (id, end index), or nil.
    @inline(__always) func longestMatch(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, node start: Int32) -> (Int32, Int)? {
        var node = start
        var best: (Int32, Int)? = nil
        var i = from
        while i < bytes.count, let next = child(node, bytes[i]) {
            node = next
            i += 1
            let t = terminal[Int(node)]
            if t >= 0 { best = (t, i) }
        }
        return best
    }
}

/// The WordPiece model: greedy longest match from the left, `##` on continuation pieces, and
/// [UNK] for the whole word when a piece cannot be matched or the word has more than
/// `maxInputCharsPerWord` characters.
public struct WordPiece: Sendable {
    public let vocab: [String: Int32]
    public let idToToken: [String]
    public let unkToken: String
    public let unkId: Int32
    public let continuingSubwordPrefix: String
    public let maxInputCharsPerWord: Int
    private var trie = ByteTrie()
    private let continuationNode: Int32?

    /// `tokens[i]` has id `i` (vocab.txt order). When a spelling repeats, the last id wins (as in HF).
    /// Throws `missingToken` when `unkToken` is not in `tokens`; `path` names the file for errors.
    public init(
        tokens: [String], unkToken: String = "[UNK]", continuingSubwordPrefix: String = "##",
        maxInputCharsPerWord: Int = 100, path: String = "<memory>"
    ) throws {
        try self.init(
            entries: tokens.enumerated().map { ($1, Int32($0)) }, unkToken: unkToken,
            continuingSubwordPrefix: continuingSubwordPrefix,
            maxInputCharsPerWord: maxInputCharsPerWord, path: path)
    }

    /// (token, id) pairs in any order. Matching uses exact UTF-8 spellings (never canonical equivalence).
    public init(
        entries: [(String, Int32)], unkToken: String = "[UNK]", continuingSubwordPrefix: String = "##",
        maxInputCharsPerWord: Int = 100, path: String = "<memory>"
    ) throws {
        let vocab = Dictionary(entries, uniquingKeysWith: { $1 })
        guard let unk = vocab[unkToken] else {
            throw TokenizerError.missingToken(path: path, token: unkToken, context: "WordPiece unk_token")
        }
        self.vocab = vocab
        self.unkToken = unkToken
        self.unkId = unk
        self.continuingSubwordPrefix = continuingSubwordPrefix
        self.maxInputCharsPerWord = maxInputCharsPerWord
        let (names, trie) = ByteTrie.tokenTable(entries)
        self.idToToken = names
        self.trie = trie
        self.continuationNode = trie.walk(continuingSubwordPrefix.utf8)
    }

    /// Ids of one pre-tokenized word given as scalars.
    func tokenize(word: ArraySlice<Unicode.Scalar>, ids: inout [Int32], bytes: inout [UInt8]) {
        if word.count > maxInputCharsPerWord { ids.append(unkId); return }
        bytes.removeAll(keepingCapacity: true)
        for c in word { appendUTF8(c, to: &bytes) }
        let mark = ids.count
        let ok: Bool = bytes.withUnsafeBufferPointer { buf in
            var start = 0
            while start < buf.count {
                let node: Int32
                if start == 0 {
                    node = ByteTrie.root
                } else {
                    guard let cont = continuationNode else { return false }
                    node = cont
                }
                guard let (id, end) = trie.longestMatch(buf, from: start, node: node) else { return false }
                ids.append(id)
                start = end
            }
            return true
        }
        if !ok {
            ids.removeSubrange(mark...)
            ids.append(unkId)
        }
    }

    /// Word (as a String) to its pieces.
    public func tokenize(_ word: String) -> [String] {
        var ids: [Int32] = []
        var bytes: [UInt8] = []
        tokenize(word: Array(word.unicodeScalars)[...], ids: &ids, bytes: &bytes)
        return ids.map { idToToken[Int($0)] }
    }
}

@inline(__always) func appendUTF8(_ c: Unicode.Scalar, to bytes: inout [UInt8]) {
    let v = c.value
    if v < 0x80 {
        bytes.append(UInt8(v))
    } else if v < 0x800 {
        bytes.append(UInt8(0xC0 | (v >> 6)))
        bytes.append(UInt8(0x80 | (v & 0x3F)))
    } else if v < 0x10000 {
        bytes.append(UInt8(0xE0 | (v >> 12)))
        bytes.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
        bytes.append(UInt8(0x80 | (v & 0x3F)))
    } else {
        bytes.append(UInt8(0xF0 | (v >> 18)))
        bytes.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
        bytes.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
        bytes.append(UInt8(0x80 | (v & 0x3F)))
    }
}

extension ByteTrie {
    /// The id → token array and the byte trie of a vocabulary given as (token, id) pairs.
    static func tokenTable(_ entries: [(String, Int32)]) -> (idToToken: [String], trie: ByteTrie) {
        let size = (entries.map { Int($0.1) }.max() ?? -1) + 1
        var names = Array(repeating: "", count: size)
        var trie = ByteTrie()
        for (token, id) in entries {
            names[Int(id)] = token
            trie.insert(token.utf8, id: id)
        }
        return (names, trie)
    }
}
