/// A token matched in the raw text before normalisation (HF `AddedToken`).
public struct AddedToken: Sendable, Equatable {
    public var content: String
    public var id: Int32
    public var special: Bool
    /// Absorb the whitespace just before the match (back to the previous match), e.g. RoBERTa `<mask>`.
    public var lstrip: Bool
    /// Absorb the whitespace just after the match.
    public var rstrip: Bool
    /// Match only when not glued to a word character on either side.
    public var singleWord: Bool

    public init(
        content: String, id: Int32, special: Bool = true, lstrip: Bool = false, rstrip: Bool = false,
        singleWord: Bool = false
    ) {
        self.content = content
        self.id = id
        self.special = special
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.singleWord = singleWord
    }
}

/// A piece of the raw text: either plain text for the model, or a matched added token.
enum RawSegment {
    case text(Substring)
    /// `matched` includes any whitespace absorbed by lstrip/rstrip (the Rust Encoding's token string).
    case added(AddedToken, matched: Substring)
}

/// Finds added tokens in raw text: leftmost-longest, case-sensitive, non-overlapping (Rust AddedVocabulary).
struct AddedTokenMatcher: Sendable {
    /// The tokens that can match (non-empty content).
    let tokens: [AddedToken]
    /// Every added token, as given.
    let allTokens: [AddedToken]
    private let contents: [[UInt8]]
    /// firstByte -> indices into `tokens`.
    private let byFirstByte: [[Int]]

    init(_ tokens: [AddedToken]) {
        self.allTokens = tokens
        let usable = tokens.filter { !$0.content.isEmpty }
        self.tokens = usable
        self.contents = usable.map { Array($0.content.utf8) }
        var table = Array(repeating: [Int](), count: 256)
        for (i, c) in contents.enumerated() { table[Int(c[0])].append(i) }
        self.byFirstByte = table
    }

    func token(forId id: Int32) -> AddedToken? { tokens.first { $0.id == id } }

    /// The model vocabulary size, or more when an added token's id lies past it.
    func vocabularySize(modelSize: Int) -> Int {
        max(modelSize, (allTokens.map { Int($0.id) }.max() ?? -1) + 1)
    }

    /// The id of an added token spelled `content`, or nil.
    func id(of content: String) -> Int32? { allTokens.first { $0.content == content }?.id }

    /// An added token's content, else the model token with that id, else nil.
    func content(ofId id: Int32, modelTokens: [String]) -> String? {
        if let t = token(forId: id) { return t.content }
        guard id >= 0, Int(id) < modelTokens.count else { return nil }
        return modelTokens[Int(id)]
    }

    /// The token strings of `ids` for a decoder: special added tokens dropped when asked, unknown ids skipped.
    func decodingTokens(_ ids: [Int32], skipSpecialTokens: Bool, idToToken: (Int32) -> String?) -> [String] {
        var out: [String] = []
        out.reserveCapacity(ids.count)
        for id in ids {
            if skipSpecialTokens, let t = token(forId: id), t.special { continue }
            if let text = idToToken(id) { out.append(text) }
        }
        return out
    }

    func split(_ text: String) -> [RawSegment] {
        if tokens.isEmpty { return text.isEmpty ? [] : [.text(text[...])] }
        var text = text
        text.makeContiguousUTF8()
        let utf8 = text.utf8
        let bytes = Array(utf8)
        var segments: [RawSegment] = []
        var segmentStart = 0  // byte offset where the current plain-text segment starts
        var i = 0
        func index(_ offset: Int) -> String.Index { utf8.index(utf8.startIndex, offsetBy: offset) }
        while i < bytes.count {
            let candidates = byFirstByte[Int(bytes[i])]
            var best = -1
            var bestLength = 0
            for k in candidates {
                let c = contents[k]
                if c.count > bestLength, i + c.count <= bytes.count, bytes[i..<(i + c.count)].elementsEqual(c) {
                    if tokens[k].singleWord && !isWordBoundary(text, before: index(i), after: index(i + c.count)) {
                        continue
                    }
                    best = k
                    bestLength = c.count
                }
            }
            if best < 0 { i += 1; continue }
            var start = i
            var stop = i + bestLength
            let token = tokens[best]
            if token.lstrip {
                var j = start
                for c in text[index(segmentStart)..<index(start)].unicodeScalars.reversed() {
                    guard CharClass.isWhitespace(c) else { break }
                    j -= c.utf8.count
                }
                start = j
            }
            if token.rstrip {
                for c in text[index(stop)...].unicodeScalars {
                    guard CharClass.isWhitespace(c) else { break }
                    stop += c.utf8.count
                }
            }
            if start > segmentStart { segments.append(.text(text[index(segmentStart)..<index(start)])) }
            segments.append(.added(token, matched: text[index(start)..<index(stop)]))
            segmentStart = stop
            i = stop
        }
        if segmentStart < bytes.count { segments.append(.text(text[index(segmentStart)...])) }
        return segments
    }

    private func isWordBoundary(_ text: String, before: String.Index, after: String.Index) -> Bool {
        func isWordChar(_ c: Unicode.Scalar) -> Bool { CharClass.isLetter(c) || CharClass.isNumber(c) || c == "_" }
        if before > text.startIndex, let c = text.unicodeScalars[..<before].last, isWordChar(c) { return false }
        if after < text.endIndex, let c = text.unicodeScalars[after...].first, isWordChar(c) { return false }
        return true
    }
}
