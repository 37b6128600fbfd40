import Foundation

/// When Metaspace puts its replacement character in front of a piece of text.
public enum PrependScheme: String, Sendable {
    /// Every stretch of text between added tokens.
    case always
    /// Only text that starts the input.
    case first
    case never
}

/// A tokenizer.json `pre_tokenizer` of the SentencePiece family: `Metaspace`, `WhitespaceSplit`, `Sequence`.
public indirect enum WordSplitter: Sendable {
    /// Spaces become `replacement` (▁), which is prepended per `prependScheme`; with `split`, a new word
    /// starts at every replacement character.
    case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme, split: Bool)
    /// Splits on whitespace, which is dropped.
    case whitespaceSplit
    case sequence([WordSplitter])

    /// A piece of normalized text (UTF-8) and whether it starts the whole input (for `PrependScheme.first`).
    struct Piece {
        var bytes: [UInt8]
        var startsInput: Bool

        init(bytes: [UInt8], startsInput: Bool) {
            self.bytes = bytes
            self.startsInput = startsInput
        }
        init(text: String, startsInput: Bool) { self.init(bytes: Array(text.utf8), startsInput: startsInput) }
        var text: String { String(decoding: bytes, as: UTF8.self) }
    }

    /// The words of `pieces`, in order; empty words are dropped.
    func split(_ pieces: [Piece]) -> [Piece] {
        switch self {
        case .sequence(let steps):
            return steps.reduce(pieces) { $1.split($0) }
        case .whitespaceSplit:
            return pieces.flatMap { piece -> [Piece] in
                var words: [Piece] = []
                var current: [UInt8] = []
                var atStart = true  // no whitespace before the current word
                func finishWord() {
                    guard !current.isEmpty else { return }
                    words.append(Piece(bytes: current, startsInput: piece.startsInput && words.isEmpty && atStart))
                    current.removeAll()
                }
                for c in piece.text.unicodeScalars {
                    if CharClass.isWhitespace(c) {
                        finishWord()
                        atStart = false
                    } else {
                        appendUTF8(c, to: &current)
                    }
                }
                finishWord()
                return words
            }
        case let .metaspace(replacement, scheme, split):
            var marker: [UInt8] = []
            appendUTF8(replacement, to: &marker)
            return pieces.flatMap { piece -> [Piece] in
                var bytes: [UInt8] = []
                bytes.reserveCapacity(piece.bytes.count + marker.count)
                let prepend = scheme == .always || (scheme == .first && piece.startsInput)
                if prepend, let first = piece.bytes.first, first != 0x20, !piece.bytes.starts(with: marker) {
                    bytes.append(contentsOf: marker)
                }
                for b in piece.bytes { if b == 0x20 { bytes.append(contentsOf: marker) } else { bytes.append(b) } }
                guard !bytes.isEmpty else { return [] }
                guard split else { return [Piece(bytes: bytes, startsInput: piece.startsInput)] }
                // MergedWithNext: every replacement character starts a new word. (Its lead byte never
                // occurs inside another UTF-8 sequence, so a byte match is a character match.)
                var words: [Piece] = []
                var wordStart = 0
                var i = 1
                while i < bytes.count {
                    if bytes[i] == marker[0], bytes[i...].starts(with: marker) {
                        words.append(Piece(bytes: Array(bytes[wordStart..<i]), startsInput: piece.startsInput && words.isEmpty))
                        wordStart = i
                        i += marker.count
                    } else {
                        i += 1
                    }
                }
                words.append(Piece(bytes: Array(bytes[wordStart...]), startsInput: piece.startsInput && words.isEmpty))
                return words
            }
        }
    }

    static let sequenceKey = "pretokenizers"

    static func parseStep(_ object: [String: Any], type: String, reader r: JSONReader, field: String) throws -> Self? {
        switch type {
        case "WhitespaceSplit": return .whitespaceSplit
        case "Metaspace":
            let (replacement, scheme) = try parseMetaspaceOptions(object, reader: r, field: field)
            return .metaspace(
                replacement: replacement, prependScheme: scheme,
                split: try r.bool(object["split"], field + ".split", default: true))
        default: return nil
        }
    }
}

/// `replacement` (one scalar) and `prepend_scheme` (or the older `add_prefix_space`) of a Metaspace object.
func parseMetaspaceOptions(
    _ object: [String: Any], reader r: JSONReader,
    field: String
) throws -> (Unicode.Scalar, PrependScheme) {
    let replacement = try r.character(object["replacement"], field + ".replacement")
    var scheme = PrependScheme.always
    if let name = try r.optionalString(object["prepend_scheme"], field + ".prepend_scheme") {
        guard let parsed = PrependScheme(rawValue: name) else {
            throw TokenizerError.unsupported(path: r.path, field: field + ".prepend_scheme", found: name)
        }
        scheme = parsed
    } else if !(try r.bool(object["add_prefix_space"], field + ".add_prefix_space", default: true)) {
        scheme = .never
    }
    return (replacement, scheme)
}

/// A tokenizer.json `decoder` of the SentencePiece family: `Metaspace`, `Replace`, `ByteFallback`,
/// `Fuse`, `Strip`, `Sequence`. Each step maps the list of token strings to a new list.
public indirect enum TokenDecoder: Sendable {
    /// The replacement character becomes a space, dropped at the start of the first token.
    case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme)
    case replace(TextPattern, content: String)
    /// Runs of `<0xXX>` tokens become the UTF-8 text they spell (one U+FFFD per byte when invalid).
    case byteFallback
    /// All tokens into one.
    case fuse
    /// Removes up to `start` leading and `stop` trailing `content` characters from each token.
    case strip(content: Unicode.Scalar, start: Int, stop: Int)
    case sequence([TokenDecoder])

    func decodeChain(_ tokens: [String]) -> [String] {
        switch self {
        case .sequence(let steps):
            return steps.reduce(tokens) { $1.decodeChain($0) }
        case let .metaspace(replacement, scheme):
            return tokens.enumerated().map { i, token in
                var out = String.UnicodeScalarView()
                for c in token.unicodeScalars {
                    if c != replacement { out.append(c) } else if i != 0 || scheme == .never { out.append(" ") }
                }
                return String(out)
            }
        case let .replace(pattern, content):
            return tokens.map { pattern.replaceAll(in: $0, with: content) }
        case .fuse:
            return tokens.isEmpty ? [] : [tokens.joined()]
        case let .strip(content, start, stop):
            return tokens.map { token in
                let chars = Array(token.unicodeScalars)
                var startCut = 0
                while startCut < min(start, chars.count), chars[startCut] == content { startCut += 1 }
                var stopCut = 0
                while stopCut < min(stop, chars.count), chars[chars.count - 1 - stopCut] == content { stopCut += 1 }
                // Rust takes (byte length - cuts) characters, so a trailing cut only shows on ASCII tokens.
                let keep = max(0, token.utf8.count - startCut - stopCut)
                var out = String.UnicodeScalarView()
                out.append(contentsOf: chars.dropFirst(startCut).prefix(keep))
                return String(out)
            }
        case .byteFallback:
            var out: [String] = []
            var pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                if let text = strictUTF8(pending) {
                    out.append(text)
                } else {
                    out.append(contentsOf: repeatElement("\u{FFFD}", count: pending.count))
                }
                pending.removeAll()
            }
            for token in tokens {
                if let byte = byteFallbackValue(token) {
                    pending.append(byte)
                } else {
                    flush()
                    out.append(token)
                }
            }
            flush()
            return out
        }
    }

    static let sequenceKey = "decoders"

    static func parseStep(_ object: [String: Any], type: String, reader r: JSONReader, field: String) throws -> Self? {
        switch type {
        case "Metaspace":
            let (replacement, scheme) = try parseMetaspaceOptions(object, reader: r, field: field)
            return .metaspace(replacement: replacement, prependScheme: scheme)
        case "Replace":
            let (pattern, content) = try TextPattern.parseReplacement(object, reader: r, field: field)
            return .replace(pattern, content: content)
        case "ByteFallback": return .byteFallback
        case "Fuse": return .fuse
        case "Strip":
            return .strip(
                content: try r.character(object["content"], field + ".content"),
                start: try r.optionalInt(object["start"], field + ".start") ?? 0,
                stop: try r.optionalInt(object["stop"], field + ".stop") ?? 0)
        default: return nil
        }
    }
}

/// `bytes` as text when they are valid UTF-8 (a byte-order mark is kept, unlike Foundation's decoding), else nil.
func strictUTF8<C: Collection>(_ bytes: C) -> String? where C.Element == UInt8 {
    let text = String(decoding: bytes, as: UTF8.self)
    return text.utf8.elementsEqual(bytes) ? text : nil
}

/// The byte of a `<0xXX>` token (two upper- or lower-case hex digits), or nil.
func byteFallbackValue(_ token: String) -> UInt8? {
    let u = Array(token.utf8)
    guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
    return UInt8(String(decoding: u[3...4], as: UTF8.self), radix: 16)
}

/// `<0xXX>` with upper-case hex, the spelling of SentencePiece byte pieces.
func byteFallbackToken(_ byte: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return "<0x\(digits[Int(byte >> 4)])\(digits[Int(byte & 15)])>"
}
