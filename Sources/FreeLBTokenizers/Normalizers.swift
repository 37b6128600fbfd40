import Foundation

/// A tokenizer.json `normalizer` (HF tokenizers semantics), applied to each stretch of raw text
/// between added tokens: `Sequence`, `Precompiled`, `Replace`, `NFC`/`NFD`/`NFKC`/`NFKD`,
/// `Lowercase`, `StripAccents`, `Strip` and `Prepend`.
public indirect enum TextNormalizer: Sendable {
    case sequence([TextNormalizer])
    case precompiled(PrecompiledCharsmap)
    case replace(TextPattern, content: String)
    case nfc, nfd, nfkc, nfkd
    /// Per-scalar full lowercase mapping (Rust `char::to_lowercase`, no context rules such as final sigma).
    case lowercase
    /// Drops every scalar of General_Category Mark (Mn, Mc, Me); pair it with NFD/NFKD.
    case stripAccents
    /// Removes leading and/or trailing whitespace.
    case strip(left: Bool, right: Bool)
    /// Puts `text` in front of a non-empty string.
    case prepend(String)

    public func normalize(_ text: String) -> String {
        // ASCII text is left unchanged by every Unicode normalization form and has no marks to strip.
        let isASCII = text.utf8.allSatisfy { $0 < 0x80 }
        switch self {
        case .sequence(let steps): return steps.reduce(text) { $1.normalize($0) }
        case .precompiled(let charsmap): return charsmap.normalize(text)
        case let .replace(pattern, content): return pattern.replaceAll(in: text, with: content)
        case .nfc: return isASCII ? text : normalizedAsUnicode9(text) { $0.precomposedStringWithCanonicalMapping }
        case .nfd: return isASCII ? text : normalizedAsUnicode9(text) { $0.decomposedStringWithCanonicalMapping }
        case .nfkc: return isASCII ? text : normalizedAsUnicode9(text) { $0.precomposedStringWithCompatibilityMapping }
        case .nfkd: return isASCII ? text : normalizedAsUnicode9(text) { $0.decomposedStringWithCompatibilityMapping }
        case .lowercase:
            if isASCII { return text.lowercased() }
            var out = String.UnicodeScalarView()
            for c in text.unicodeScalars { appendLowercased(c, to: &out) }
            return String(out)
        case .stripAccents:
            if isASCII { return text }
            var out = String.UnicodeScalarView()
            out.append(contentsOf: text.unicodeScalars.lazy.filter { !isCombiningMark($0) })
            return String(out)
        case let .strip(left, right):
            var scalars = Substring(text).unicodeScalars
            if left { while let c = scalars.first, CharClass.isWhitespace(c) { scalars.removeFirst() } }
            if right { while let c = scalars.last, CharClass.isWhitespace(c) { scalars.removeLast() } }
            return String(scalars)
        case .prepend(let prefix):
            return text.isEmpty ? text : prefix + text
        }
    }

    /// Normalizers in tokenizer.json (PipelineComponent).
    static let sequenceKey = "normalizers"

    static func parseStep(_ object: [String: Any], type: String, reader r: JSONReader, field: String) throws -> Self? {
        switch type {
        case "Precompiled":
            let key = field + ".precompiled_charsmap"
            return .precompiled(
                try PrecompiledCharsmap(
                    base64: try r.string(object["precompiled_charsmap"], key),
                    path: r.path, field: key))
        case "Replace":
            let (pattern, content) = try TextPattern.parseReplacement(object, reader: r, field: field)
            return .replace(pattern, content: content)
        case "NFC": return .nfc
        case "NFD": return .nfd
        case "NFKC": return .nfkc
        case "NFKD": return .nfkd
        case "Lowercase": return .lowercase
        case "StripAccents": return .stripAccents
        case "Strip":
            return .strip(
                left: try r.bool(object["strip_left"], field + ".strip_left", default: true),
                right: try r.bool(object["strip_right"], field + ".strip_right", default: true))
        case "Prepend":
            return .prepend(try r.string(object["prepend"], field + ".prepend"))
        default: return nil
        }
    }
}

/// A `Replace`/`Split` pattern: `{"String": literal}` or `{"Regex": pattern}`.
public enum TextPattern: Sendable {
    case literal(String)
    case regex(CompiledRegex)

    /// The `pattern` and `content` of a `Replace` normalizer or decoder.
    static func parseReplacement(
        _ object: [String: Any], reader r: JSONReader,
        field: String
    ) throws -> (TextPattern, String) {
        (
            try parse(object["pattern"], reader: r, field: field + ".pattern"),
            try r.string(object["content"], field + ".content")
        )
    }

    static func parse(_ value: Any?, reader r: JSONReader, field: String) throws -> TextPattern {
        let object = try r.object(value, field)
        if let literal = object["String"] { return .literal(try r.string(literal, field + ".String")) }
        let source = try r.string(object["Regex"], field + ".Regex")
        if let problem = backtrackingHazard(source) {
            throw TokenizerError.unsupported(path: r.path, field: field + ".Regex", found: "\(source.prefix(60)) (\(problem))")
        }
        do {
            return .regex(CompiledRegex(try NSRegularExpression(pattern: source)))
        } catch {
            throw TokenizerError.malformedFile(
                path: r.path, field: field + ".Regex",
                reason: "invalid regular expression '\(source.prefix(60))'")
        }
    }

    /// Replaces every non-overlapping match, leftmost first; `content` is inserted literally.
    func replaceAll(in text: String, with content: String) -> String {
        switch self {
        case .literal(let literal):
            return replacingLiteral(literal, in: text, with: content)
        case .regex(let compiled):
            let ns = text as NSString
            return compiled.regex.stringByReplacingMatches(
                in: text, range: NSRange(location: 0, length: ns.length),
                withTemplate: NSRegularExpression.escapedTemplate(for: content))
        }
    }
}

extension JSONReader {
    /// A pipeline component `{"type": ...}`: the object and its type.
    func component(_ value: Any?, _ field: String) throws -> (object: [String: Any], type: String) {
        let object = try self.object(value, field)
        return (object, try string(object["type"], field + ".type"))
    }

    /// The parsed elements of a `Sequence` component's `key` array; `parse` gets each element and its field.
    func steps<T>(
        _ object: [String: Any], _ key: String, _ field: String,
        _ parse: (Any?, String) throws -> T
    ) throws -> [T] {
        try array(object[key], "\(field).\(key)").enumerated().map { i, step in
            try parse(step, "\(field).\(key)[\(i)]")
        }
    }

    /// A string of exactly one Unicode scalar (a Metaspace replacement, a Strip character).
    func character(_ value: Any?, _ field: String) throws -> Unicode.Scalar {
        let text = try string(value, field)
        guard text.unicodeScalars.count == 1, let scalar = text.unicodeScalars.first else {
            throw TokenizerError.malformedFile(
                path: path, field: field,
                reason: "expected one character, found \"\(text.prefix(20))\"")
        }
        return scalar
    }
}

/// Why `pattern` could make a backtracking matcher (ICU, unlike Rust's linear-time `regex`) take
/// exponential time, or nil: a repeated group that itself holds a repetition or an alternation, as in
/// `(a+)+` or `(a|a)*`. Tokenizer files are untrusted, and the patterns that HF writes (" {2,}",
/// "\\A +| +\\z", ...) never nest repetitions.
func backtrackingHazard(_ pattern: String) -> String? {
    let chars = Array(pattern.unicodeScalars)
    guard chars.count <= 1000 else { return "longer than 1000 characters" }
    var groups: [Bool] = []  // per open group: holds a repetition or an alternation
    var i = 0
    func isQuantifier(_ k: Int) -> Bool { k < chars.count && "*+?{".unicodeScalars.contains(chars[k]) }
    func markRisky() { if !groups.isEmpty { groups[groups.count - 1] = true } }
    while i < chars.count {
        switch chars[i] {
        case "\\": i += 1
        case "[":  // a character class is one atom
            i += 1
            if i < chars.count && chars[i] == "^" { i += 1 }
            if i < chars.count && chars[i] == "]" { i += 1 }
            while i < chars.count && chars[i] != "]" { if chars[i] == "\\" { i += 1 }; i += 1 }
        case "(": groups.append(false)
        case ")":
            let inner = groups.popLast() ?? false
            if inner && isQuantifier(i + 1) { return "a repeated group holds a repetition or an alternation" }
            if inner || isQuantifier(i + 1) { markRisky() }
        case "|": markRisky()
        case "*", "+", "{": markRisky()
        default: break
        }
        i += 1
    }
    return nil
}

/// An `NSRegularExpression` shared between threads (matching is thread-safe).
public final class CompiledRegex: @unchecked Sendable {
    let regex: NSRegularExpression
    init(_ regex: NSRegularExpression) { self.regex = regex }
}

/// Byte-exact literal replacement (no Unicode equivalence, unlike Foundation's default search).
func replacingLiteral(_ literal: String, in text: String, with content: String) -> String {
    let needle = Array(literal.utf8)
    guard !needle.isEmpty else { return text }
    let bytes = Array(text.utf8)
    guard bytes.count >= needle.count else { return text }
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count)
    var i = 0
    var changed = false
    while i < bytes.count {
        if bytes[i] == needle[0], i + needle.count <= bytes.count, bytes[i..<(i + needle.count)].elementsEqual(needle) {
            out.append(contentsOf: content.utf8)
            i += needle.count
            changed = true
        } else {
            out.append(bytes[i])
            i += 1
        }
    }
    return changed ? String(decoding: out, as: UTF8.self) : text
}

// HF tokenizers normalizes with Unicode 9.0 data (crate unicode-normalization-alignments): characters
// assigned later have no decomposition, combining class 0 and no category there. The helpers below give
// the same results with the newer data of Foundation and the Swift standard library.

/// Whether `c` was assigned in Unicode 9.0 or earlier.
@inline(__always) func isInUnicode9(_ c: Unicode.Scalar) -> Bool {
    guard let age = c.properties.age else { return false }
    return age.major < 9 || (age.major == 9 && age.minor == 0)
}

/// `normalize` applied to the stretches between characters newer than Unicode 9.0, which are kept as
/// they are. (Such a character is a starter that neither decomposes nor composes, so the stretches
/// around it are independent.)
func normalizedAsUnicode9(_ text: String, _ normalize: (String) -> String) -> String {
    guard text.unicodeScalars.contains(where: { $0.value >= 0x300 && !isInUnicode9($0) }) else { return normalize(text) }
    var out = ""
    var run = String.UnicodeScalarView()
    for c in text.unicodeScalars {
        if c.value >= 0x300 && !isInUnicode9(c) {
            out += normalize(String(run))
            run = String.UnicodeScalarView()
            out.unicodeScalars.append(c)
        } else {
            run.append(c)
        }
    }
    return out + normalize(String(run))
}

/// General_Category Mark (Mn, Mc, Me) in Unicode 9.0: what HF `StripAccents` removes.
@inline(__always) func isCombiningMark(_ c: Unicode.Scalar) -> Bool {
    if c.value < 0x300 { return false }
    switch c.value {
    case 0x1CF2, 0x1CF3: return true  // Vedic ardhavisarga signs: Mc in 9.0, Lo since 10.0
    case 0x111C9: return false  // Sharada sandhi mark: Po in 9.0, Mn since 11.0
    default: break
    }
    switch c.properties.generalCategory {
    case .nonspacingMark, .spacingMark, .enclosingMark: return isInUnicode9(c)
    default: return false
    }
}

/// Appends the full lowercase mapping of one scalar (Rust `char::to_lowercase`).
@inline(__always) func appendLowercased<Output: RangeReplaceableCollection>(
    _ c: Unicode.Scalar, to out: inout Output
) where Output.Element == Unicode.Scalar {
    if c.value < 0x80 {
        out.append(c.value >= 0x41 && c.value <= 0x5A ? Unicode.Scalar(UInt8(c.value + 32)) : c)
    } else if c.properties.changesWhenLowercased {
        out.append(contentsOf: c.properties.lowercaseMapping.unicodeScalars)
    } else {
        out.append(c)
    }
}

/// A tokenizer.json pipeline component (normalizer, pre-tokenizer, decoder): one object, or a `Sequence`.
protocol PipelineComponent {
    /// The array key of a `Sequence` component ("normalizers", "pretokenizers", "decoders").
    static var sequenceKey: String { get }
    static func sequence(_ steps: [Self]) -> Self
    /// A component of `type` other than `Sequence`; nil for a type this library does not support.
    static func parseStep(_ object: [String: Any], type: String, reader r: JSONReader, field: String) throws -> Self?
}

extension PipelineComponent {
    /// Parses one component object; `field` is its JSON path for errors.
    static func parse(_ value: Any?, reader r: JSONReader, field: String) throws -> Self {
        let (object, type) = try r.component(value, field)
        if type == "Sequence" {
            return sequence(try r.steps(object, sequenceKey, field) { try parse($0, reader: r, field: $1) })
        }
        guard let step = try parseStep(object, type: type, reader: r, field: field) else {
            throw TokenizerError.unsupported(path: r.path, field: field + ".type", found: type)
        }
        return step
    }
}

extension TextNormalizer: PipelineComponent {}
extension WordSplitter: PipelineComponent {}
extension TokenDecoder: PipelineComponent {}
