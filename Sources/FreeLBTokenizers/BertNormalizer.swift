import Foundation

/// Unicode character classes used by the BERT and GPT-2 pipelines (Rust `char` semantics).
enum CharClass {
    /// Rust `char::is_whitespace`: the Unicode White_Space property.
    @inline(__always) static func isWhitespace(_ c: Unicode.Scalar) -> Bool {
        if c.value < 0x80 { return c.value == 0x20 || (c.value >= 0x09 && c.value <= 0x0D) }
        return c.properties.isWhitespace
    }

    // The Rust BERT pipeline takes categories from the unicode_categories crate, which holds Unicode 8.0
    // data and no unassigned (Cn) code points. The BERT helpers below reproduce that with the newer data
    // of the Swift standard library (age and the few category changes since 8.0).

    /// Whether `c` was assigned in Unicode 8.0 or earlier.
    @inline(__always) static func isInUnicode8(_ c: Unicode.Scalar) -> Bool {
        guard let age = c.properties.age else { return false }
        return age.major <= 8
    }

    /// Cc except tab, LF and CR, Cf and Co (as of Unicode 8.0): what BertNormalizer's clean step drops.
    /// Unassigned code points are kept.
    @inline(__always) static func isControl(_ c: Unicode.Scalar) -> Bool {
        if c.value < 0x80 {
            if c.value == 0x09 || c.value == 0x0A || c.value == 0x0D { return false }
            return c.value < 0x20 || c.value == 0x7F
        }
        switch c.properties.generalCategory {
        case .control, .privateUse, .surrogate: return true
        case .format: return isInUnicode8(c)
        default: return false
        }
    }

    /// BERT punctuation: ASCII 33–47, 58–64, 91–96, 123–126, or Unicode category P* (as of Unicode 8.0).
    @inline(__always) static func isBertPunctuation(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        if v < 0x80 {
            return (v >= 33 && v <= 47) || (v >= 58 && v <= 64) || (v >= 91 && v <= 96) || (v >= 123 && v <= 126)
        }
        // Canadian syllabics chi sign (So since 12.0) and Sharada sandhi mark (Mn since 11.0) were Po in 8.0.
        if v == 0x166D || v == 0x111C9 { return true }
        switch c.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
            .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return isInUnicode8(c)
        default: return false
        }
    }

    /// Category Mn as of Unicode 8.0: what BertNormalizer's accent stripping drops.
    @inline(__always) static func isBertNonspacingMark(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x1734, 0x1171E: return true  // Mn in 8.0, Mc since
        case 0x1885, 0x1886, 0xA9BD, 0x111C9: return false  // Lo, Lo, Mc, Po in 8.0; Mn since
        default: return c.properties.generalCategory == .nonspacingMark && isInUnicode8(c)
        }
    }

    /// The CJK ideograph blocks that BertNormalizer surrounds with spaces (not kana, not hangul).
    @inline(__always) static func isCJKIdeograph(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        return (v >= 0x4E00 && v <= 0x9FFF) || (v >= 0x3400 && v <= 0x4DBF) || (v >= 0xF900 && v <= 0xFAFF)
            || (v >= 0x20000 && v <= 0x2A6DF) || (v >= 0x2A700 && v <= 0x2B73F) || (v >= 0x2B740 && v <= 0x2B81F)
            || (v >= 0x2B920 && v <= 0x2CEAF) || (v >= 0x2F800 && v <= 0x2FA1F)
    }

    @inline(__always) static func isLetter(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        if v < 0x80 { return (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A) }
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    @inline(__always) static func isNumber(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        if v < 0x80 { return v >= 0x30 && v <= 0x39 }
        switch c.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }
}

/// The Rust `BertNormalizer`, steps in this order: clean text, space out CJK ideographs,
/// strip accents (NFD, then drop category Mn), lowercase (full Unicode mapping). No NFKC.
public struct BertNormalizer: Sendable, Equatable {
    public var cleanText: Bool
    public var handleChineseChars: Bool
    public var stripAccents: Bool
    public var lowercase: Bool

    /// `stripAccents: nil` follows `lowercase`, as in HF.
    public init(
        cleanText: Bool = true, handleChineseChars: Bool = true, stripAccents: Bool? = nil,
        lowercase: Bool = true
    ) {
        self.cleanText = cleanText
        self.handleChineseChars = handleChineseChars
        self.stripAccents = stripAccents ?? lowercase
        self.lowercase = lowercase
    }

    public func normalize(_ text: String) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: normalizeScalars(text[...]))
        return String(view)
    }

    /// Normalised text as scalars (the hot path; no per-character String allocation for ASCII).
    func normalizeScalars(_ text: Substring) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.utf8.count + 8)
        var allASCII = true
        for c in text.unicodeScalars {
            if cleanText {
                if c.value == 0 || c.value == 0xFFFD || CharClass.isControl(c) { continue }
                if CharClass.isWhitespace(c) { out.append(" "); continue }
            }
            if c.value >= 0x80 { allASCII = false }
            if handleChineseChars && CharClass.isCJKIdeograph(c) {
                out.append(" "); out.append(c); out.append(" ")
            } else {
                out.append(c)
            }
        }
        if allASCII {
            if lowercase {
                for i in out.indices where out[i].value >= 0x41 && out[i].value <= 0x5A {
                    out[i] = Unicode.Scalar(out[i].value + 32)!
                }
            }
            return out
        }
        if stripAccents {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: out)
            let nfd = TextNormalizer.nfd.normalize(String(view))
            out.removeAll(keepingCapacity: true)
            for c in nfd.unicodeScalars where !CharClass.isBertNonspacingMark(c) { out.append(c) }
        }
        if lowercase {
            var lowered: [Unicode.Scalar] = []
            lowered.reserveCapacity(out.count)
            for c in out { appendLowercased(c, to: &lowered) }
            out = lowered
        }
        return out
    }
}

/// The Rust `BertPreTokenizer`: split on whitespace (dropped) and isolate every punctuation character.
public struct BertPreTokenizer: Sendable, Equatable {
    public init() {}

    public func preTokenize(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        return split(scalars).map { range in
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars[range])
            return String(view)
        }
    }

    /// Word ranges into `scalars`, in order.
    func split(_ scalars: [Unicode.Scalar]) -> [Range<Int>] {
        var words: [Range<Int>] = []
        var start = -1
        for (i, c) in scalars.enumerated() {
            if CharClass.isWhitespace(c) {
                if start >= 0 { words.append(start..<i); start = -1 }
            } else if CharClass.isBertPunctuation(c) {
                if start >= 0 { words.append(start..<i); start = -1 }
                words.append(i..<(i + 1))
            } else if start < 0 {
                start = i
            }
        }
        if start >= 0 { words.append(start..<scalars.count) }
        return words
    }
}
