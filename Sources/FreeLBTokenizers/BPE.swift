/// A byte-pair-encoding model over byte-level symbols: repeatedly merge the adjacent pair with the
/// lowest rank (leftmost on ties) until no pair has a rank. No dropout, no end-of-word suffix.
public struct BPE: Sendable {
    public let vocab: [String: Int32]
    public let idToToken: [String]
    /// (left id << 32 | right id) -> (rank, merged id).
    private let merges: [Int64: (rank: Int32, id: Int32)]
    /// Vocabulary id of each byte's alphabet symbol, or -1 when absent.
    private let byteIds: [Int32]
    public let unkId: Int32?
    /// HF `ignore_merges`: a pre-token that is itself in the vocabulary is taken whole.
    public let ignoreMerges: Bool
    private let trie: ByteTrie

    /// `entries`: (token, id); `merges`: (left, right) in rank order. `path` names the file for errors.
    public init(
        entries: [(String, Int32)], merges: [(String, String)], unkToken: String? = nil,
        ignoreMerges: Bool = false, path: String = "<memory>"
    ) throws {
        let vocab = Dictionary(entries, uniquingKeysWith: { $1 })
        self.vocab = vocab
        let (names, trie) = ByteTrie.tokenTable(entries)
        self.idToToken = names
        self.trie = trie
        func lookup(_ token: String) -> Int32? { trie.exact(token.utf8) }
        var table: [Int64: (rank: Int32, id: Int32)] = [:]
        for (rank, (left, right)) in merges.enumerated() {
            guard let l = lookup(left) else {
                throw TokenizerError.missingToken(path: path, token: left, context: "left side of merge #\(rank + 1)")
            }
            guard let r = lookup(right) else {
                throw TokenizerError.missingToken(path: path, token: right, context: "right side of merge #\(rank + 1)")
            }
            guard let m = lookup(left + right) else {
                throw TokenizerError.missingToken(path: path, token: left + right, context: "result of merge #\(rank + 1)")
            }
            let key = Int64(l) << 32 | Int64(r)
            if table[key] == nil { table[key] = (Int32(rank), m) }
        }
        self.merges = table
        self.byteIds = ByteLevelAlphabet.byteToScalar.map { s in lookup(String(s)) ?? -1 }
        if let unkToken {
            guard let u = lookup(unkToken) else {
                throw TokenizerError.missingToken(path: path, token: unkToken, context: "BPE unk_token")
            }
            self.unkId = u
        } else {
            self.unkId = nil
        }
        self.ignoreMerges = ignoreMerges
    }

    /// Ids of one pre-token given as raw UTF-8 bytes. `symbols` is scratch space.
    func tokenize(bytes: UnsafeBufferPointer<UInt8>, into ids: inout [Int32], symbols: inout [Int32]) {
        if ignoreMerges {
            var spelled: [UInt8] = []
            for b in bytes { appendUTF8(ByteLevelAlphabet.byteToScalar[Int(b)], to: &spelled) }
            let whole = trie.exact(spelled)
            if let whole { ids.append(whole); return }
        }
        symbols.removeAll(keepingCapacity: true)
        for b in bytes {
            let id = byteIds[Int(b)]
            if id >= 0 {
                symbols.append(id)
            } else if let unkId {
                symbols.append(unkId)
            }  // else dropped, as the Rust BPE does without an unk token
        }
        while symbols.count > 1 {
            var bestRank = Int32.max
            var bestPos = -1
            var bestId: Int32 = 0
            for p in 0..<(symbols.count - 1) {
                if let m = merges[Int64(symbols[p]) << 32 | Int64(symbols[p + 1])], m.rank < bestRank {
                    bestRank = m.rank; bestPos = p; bestId = m.id
                }
            }
            if bestPos < 0 { break }
            symbols[bestPos] = bestId
            symbols.remove(at: bestPos + 1)
        }
        ids.append(contentsOf: symbols)
    }

    /// Byte-level token strings of one raw pre-token (e.g. " world" -> ["Ġw", "or", "ld"]).
    public func tokenize(_ pretoken: String) -> [String] {
        var ids: [Int32] = []
        var symbols: [Int32] = []
        Array(pretoken.utf8).withUnsafeBufferPointer { tokenize(bytes: $0, into: &ids, symbols: &symbols) }
        return ids.map { idToToken[Int($0)] }
    }
}
