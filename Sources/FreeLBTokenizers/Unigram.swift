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
    public init(vocabulary: [(String, Double)], unkId: Int, byteFallback: Bool = false,
                path: String = "<memory>") throws {
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

    /// Segments one word (UTF-8) and appends its ids and token strings.
    func tokenize(word: [UInt8], ids: inout [Int32], tokens: inout [String]) {
        guard !word.isEmpty else { return }
        word.withUnsafeBufferPointer { bytes in
            let n = bytes.count
            // Best path ending at each byte offset: total score, start of its last piece, that piece's id.
            var bestScore = [Double](repeating: 0, count: n + 1)
            var pieceStart = [Int](repeating: -1, count: n + 1)
            var pieceId = [Int32](repeating: 0, count: n + 1)
            func offer(_ start: Int, _ end: Int, _ id: Int32, _ score: Double) {
                if pieceStart[end] < 0 || score > bestScore[end] {
                    bestScore[end] = score
                    pieceStart[end] = start
                    pieceId[end] = id
                }
            }
            var start = 0
            while start < n {
                let scoreHere = bestScore[start]
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
            var path: [(start: Int, end: Int, unknown: Bool)] = []
            var end = n
            while end > 0 {
                let s = pieceStart[end]
                path.append((s, end, pieceId[end] == unkId))
                end = s
            }
            path.reverse()
            var i = 0
            while i < path.count {
                if !path[i].unknown {
                    ids.append(pieceId[path[i].end])
                    tokens.append(String(decoding: bytes[path[i].start..<path[i].end], as: UTF8.self))
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
