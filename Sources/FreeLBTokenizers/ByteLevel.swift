/// GPT-2's reversible byte <-> printable-character map (`bytes_to_unicode`): printable Latin-1 bytes map
/// to themselves, the other 68 bytes to U+0100...U+0143 in byte order (space -> Ġ, \n -> Ċ, \t -> ĉ).
public enum ByteLevelAlphabet {
    public static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var n: UInt32 = 0
        for b in 0..<256 {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            if printable {
                table[b] = Unicode.Scalar(UInt32(b))!
            } else {
                table[b] = Unicode.Scalar(256 + n)!
                n += 1
            }
        }
        return table
    }()

    public static let scalarToByte: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for (b, s) in byteToScalar.enumerated() { map[s.value] = UInt8(b) }
        return map
    }()

    /// The byte-level spelling of raw UTF-8 bytes.
    public static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var view = String.UnicodeScalarView()
        for b in bytes { view.append(byteToScalar[Int(b)]) }
        return String(view)
    }

    /// Rust ByteLevel decoder on token strings: a token whose characters are all in the alphabet
    /// becomes those bytes, any other token contributes its own UTF-8; the bytes are decoded as UTF-8
    /// with one U+FFFD per maximal invalid subsequence (`from_utf8_lossy`).
    public static func decode(_ tokens: [String]) -> String {
        var bytes: [UInt8] = []
        for token in tokens {
            let mark = bytes.count
            var ok = true
            for c in token.unicodeScalars {
                guard let b = scalarToByte[c.value] else { ok = false; break }
                bytes.append(b)
            }
            if !ok {
                bytes.removeSubrange(mark...)
                bytes.append(contentsOf: token.utf8)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The ByteLevel pre-tokenizer: the GPT-2 split pattern
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`, implemented by hand
/// (first alternative that matches wins, as in a backtracking regex), then bytes -> alphabet.
public struct ByteLevelPreTokenizer: Sendable, Equatable {
    public var addPrefixSpace: Bool
    public var useRegex: Bool

    public init(addPrefixSpace: Bool = false, useRegex: Bool = true) {
        self.addPrefixSpace = addPrefixSpace
        self.useRegex = useRegex
    }

    /// Pre-tokens of `text` in their raw (not byte-mapped) form.
    public func split(_ text: String) -> [String] {
        let scalars = prepared(text[...])
        return ranges(scalars).map { r in
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars[r])
            return String(view)
        }
    }

    func prepared(_ text: Substring) -> [Unicode.Scalar] {
        var scalars = Array(text.unicodeScalars)
        if addPrefixSpace && scalars.first != " " { scalars.insert(" ", at: 0) }
        return scalars
    }

    private enum Kind { case space, letter, number, other }

    @inline(__always) private static func kind(_ c: Unicode.Scalar) -> Kind {
        if CharClass.isWhitespace(c) { return .space }
        if CharClass.isLetter(c) { return .letter }
        if CharClass.isNumber(c) { return .number }
        return .other
    }

    /// Pre-token ranges into `s` (they tile `s`).
    func ranges(_ s: [Unicode.Scalar]) -> [Range<Int>] {
        guard useRegex else { return s.isEmpty ? [] : [0..<s.count] }
        let n = s.count
        var kinds = [Kind](); kinds.reserveCapacity(n)
        for c in s { kinds.append(Self.kind(c)) }
        var out: [Range<Int>] = []
        var i = 0
        func run(_ from: Int, _ k: Kind) -> Int {
            var j = from
            while j < n && kinds[j] == k { j += 1 }
            return j
        }
        while i < n {
            let c = s[i]
            // 's 't 're 've 'm 'll 'd (lowercase only, as in the pattern)
            if c == "'" && i + 1 < n {
                let d = s[i + 1]
                if d == "s" || d == "t" || d == "m" || d == "d" { out.append(i..<(i + 2)); i += 2; continue }
                if i + 2 < n {
                    let e = s[i + 2]
                    if (d == "r" && e == "e") || (d == "v" && e == "e") || (d == "l" && e == "l") {
                        out.append(i..<(i + 3)); i += 3; continue
                    }
                }
            }
            // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional U+0020, then a run of one class.
            var start = i
            if c == " " && i + 1 < n && kinds[i + 1] != .space { start = i + 1 }
            let k = kinds[start]
            if k != .space {
                let end = run(start, k)
                out.append(i..<end); i = end; continue
            }
            // `\s+(?!\S)` then `\s+`: a whitespace run, leaving its last char when a non-space follows.
            let end = run(i, .space)
            if end == n || end - i == 1 {
                out.append(i..<end); i = end
            } else {
                out.append(i..<(end - 1)); i = end - 1
            }
        }
        return out
    }
}
