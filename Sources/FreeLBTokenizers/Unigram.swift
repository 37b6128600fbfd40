/// The SentencePiece Unigram model as HF tokenizers runs it: Viterbi segmentation of each word into
/// vocabulary pieces maximising the sum of the stored log-probability scores. A character that no
/// piece covers costs `min(score) - 10` and becomes the unknown piece; adjacent unknown characters are
/// fused into one unknown token. With `byteFallback`, an unknown stretch is spelled instead as its
/// UTF-8 bytes, `<0xXX>` pieces, when the vocabulary has all of them.
public struct Unigram: Sendable {
    /// `pieces[id]` and `scores[id]`.
    public let pieces: [String]
    public let scores: [Double]
    public let unkId: Int32
    public let byteFallback: Bool
    private let trie: ByteTrie
    private let unknownScore: Double
    /// Id of `<0xXX>` for each byte, or -1.
    private let byteIds: [Int32]

    static let unknownPenalty = 10.0

    /// `vocabulary[id] = (piece, score)`. Throws when `unkId` is outside the vocabulary; `path` names the file.
    public init(
        vocabulary: [(String, Double)], unkId: Int, byteFallback: Bool = false,
        path: String = "<memory>"
    ) throws {
        guard !vocabulary.isEmpty else {
            throw TokenizerError.malformedFile(path: path, field: "model.vocab", reason: "vocabulary is empty")
        }
        guard unkId >= 0, unkId < vocabulary.count else {
            throw TokenizerError.malformedFile(
                path: path, field: "model.unk_id",
                reason: "id \(unkId) is outside the vocabulary (\(vocabulary.count) pieces)")
        }
        let (names, trie) = ByteTrie.tokenTable(vocabulary.enumerated().map { ($1.0, Int32($0)) })
        self.pieces = names
        self.scores = vocabulary.map(\.1)
        self.trie = trie
        self.unkId = Int32(unkId)
        self.byteFallback = byteFallback
        self.unknownScore = (scores.min() ?? 0) - Self.unknownPenalty
        self.byteIds = (0...255).map { trie.exact(byteFallbackToken(UInt8($0)).utf8) ?? -1 }
    }

    /// The id of `piece` (the last id when a spelling repeats, as in HF), or nil.
    public func id(of piece: String) -> Int32? { trie.exact(piece.utf8) }

    /// Work arrays of the Viterbi search, reused from word to word: for each byte offset, the best path
    /// ending there (total score, start of its last piece, that piece's id).
    struct Lattice {
        var bestScore: [Double] = []
        var pieceStart: [Int] = []
        var pieceId: [Int32] = []
        var path: [(start: Int, end: Int, unknown: Bool)] = []

        mutating func reset(_ count: Int) {
            bestScore.removeAll(keepingCapacity: true)
            bestScore.append(contentsOf: repeatElement(0, count: count))
            pieceStart.removeAll(keepingCapacity: true)
            pieceStart.append(contentsOf: repeatElement(-1, count: count))
            pieceId.removeAll(keepingCapacity: true)
            pieceId.append(contentsOf: repeatElement(0, count: count))
            path.removeAll(keepingCapacity: true)
        }
    }

    /// The pieces of one already normalized and pre-tokenized word (e.g. "▁hello").
    public func segment(_ word: String) -> (ids: [Int32], tokens: [String]) {
        var ids: [Int32] = []
        var tokens: [String] = []
        var lattice = Lattice()
        tokenize(word: Array(word.utf8), ids: &ids, tokens: &tokens, lattice: &lattice)
        return (ids, tokens)
    }

    /// Segments one word (UTF-8) and appends its ids and token strings.
    func tokenize(word: [UInt8], ids: inout [Int32], tokens: inout [String], lattice: inout Lattice) {
        guard !word.isEmpty else { return }
        lattice.reset(word.count + 1)
        word.withUnsafeBufferPointer { bytes in
            let n = bytes.count
            func offer(_ start: Int, _ end: Int, _ id: Int32, _ score: Double) {
                if lattice.pieceStart[end] < 0 || score > lattice.bestScore[end] {
                    lattice.bestScore[end] = score
                    lattice.pieceStart[end] = start
                    lattice.pieceId[end] = id
                }
            }
            var start = 0
            while start < n {
                let scoreHere = lattice.bestScore[start]
                let charEnd = min(n, start + utf8SequenceLength(bytes[start]))
                var coversCharacter = false
                trie.forEachPrefixMatch(bytes, from: start) { id, end in
                    offer(start, end, id, scores[Int(id)] + scoreHere)
                    if end == charEnd { coversCharacter = true }
                }
                if !coversCharacter { offer(start, charEnd, unkId, unknownScore + scoreHere) }
                start = charEnd
            }
            // Walk back, then emit left to right, fusing runs of unknown pieces.
            var end = n
            while end > 0 {
                let s = lattice.pieceStart[end]
                lattice.path.append((s, end, lattice.pieceId[end] == unkId))
                end = s
            }
            lattice.path.reverse()
            let path = lattice.path
            var i = 0
            while i < path.count {
                if !path[i].unknown {
                    // A matched piece is spelled exactly as in the vocabulary.
                    let id = lattice.pieceId[path[i].end]
                    ids.append(id)
                    tokens.append(pieces[Int(id)])
                    i += 1
                    continue
                }
                var j = i
                while j + 1 < path.count && path[j + 1].unknown { j += 1 }
                emitUnknown(UnsafeBufferPointer(rebasing: bytes[path[i].start..<path[j].end]), ids: &ids, tokens: &tokens)
                i = j + 1
            }
        }
    }

    /// An unknown stretch: its own id if the fused spelling is a piece, else bytes, else the unknown id.
    private func emitUnknown(_ bytes: UnsafeBufferPointer<UInt8>, ids: inout [Int32], tokens: inout [String]) {
        let text = String(decoding: bytes, as: UTF8.self)
        if let id = trie.exact(bytes) {
            ids.append(id)
            tokens.append(text)
        } else if byteFallback, bytes.allSatisfy({ byteIds[Int($0)] >= 0 }) {
            for byte in bytes {
                ids.append(byteIds[Int(byte)])
                tokens.append(byteFallbackToken(byte))
            }
        } else {
            ids.append(unkId)
            tokens.append(text)
        }
    }
}

/// Length of the UTF-8 sequence that `lead` starts (1 for a stray continuation byte).
@inline(__always) func utf8SequenceLength(_ lead: UInt8) -> Int {
    if lead < 0xC0 { return 1 }
    if lead < 0xE0 { return 2 }
    if lead < 0xF0 { return 3 }
    return 4
}
