import Foundation

/// SentencePiece's `precompiled_charsmap` (the `Precompiled` normalizer of tokenizer.json): a
/// little-endian blob `[trie byte count: u32][double-array trie: u32 units][replacement strings]`.
/// The trie maps UTF-8 source sequences to offsets of NUL-terminated replacements. The blob is
/// untrusted: every read is bounds-checked and the whole trie is walked once at load time, so a
/// lookup can never leave the arrays.
public struct PrecompiledCharsmap: Sendable {
    static let maximumTrieBytes = 16 << 20
    private let units: [UInt32]
    private let replacements: [UInt8]
    /// The rule for each ASCII byte on its own (nil: kept), for the ASCII fast path.
    private var asciiRules: [ArraySlice<UInt8>?] = []

    /// `path`/`field` name the file and JSON field in errors.
    public init(base64: String, path: String, field: String) throws {
        guard let blob = Data(base64Encoded: base64) else {
            throw TokenizerError.malformedFile(path: path, field: field, reason: "not valid base64")
        }
        try self.init(blob: [UInt8](blob), path: path, field: field)
    }

    public init(blob: [UInt8], path: String, field: String) throws {
        func fail(_ reason: String) -> TokenizerError { .malformedFile(path: path, field: field, reason: reason) }
        guard blob.count >= 4 else { throw fail("charsmap is \(blob.count) bytes, shorter than its 4-byte header") }
        let trieBytes = Int(blob[0]) | Int(blob[1]) << 8 | Int(blob[2]) << 16 | Int(blob[3]) << 24
        // Real charsmaps hold ~200 KB of trie; the limit bounds the load-time walk (255 probes per node).
        guard trieBytes <= Self.maximumTrieBytes else {
            throw fail("charsmap trie of \(trieBytes) bytes is larger than the \(Self.maximumTrieBytes) bytes accepted")
        }
        guard trieBytes % 4 == 0, trieBytes >= 4, trieBytes <= blob.count - 4 else {
            throw fail(
                "charsmap header gives a trie of \(trieBytes) bytes, but the blob holds \(blob.count - 4) after the header")
        }
        var units = [UInt32](repeating: 0, count: trieBytes / 4)
        for i in units.indices {
            let b = 4 + 4 * i
            units[i] = UInt32(blob[b]) | UInt32(blob[b + 1]) << 8 | UInt32(blob[b + 2]) << 16 | UInt32(blob[b + 3]) << 24
        }
        self.units = units
        self.replacements = Array(blob[(4 + trieBytes)...])
        if let problem = validate() { throw fail(problem) }
        asciiRules = (0..<128).map { shortestPrefixReplacement(CollectionOfOne(UInt8($0))) }
    }

    // Double-array unit layout (darts-clone, as SentencePiece writes it).
    @inline(__always) private static func hasLeaf(_ unit: UInt32) -> Bool { (unit >> 8) & 1 == 1 }
    @inline(__always) private static func value(_ unit: UInt32) -> Int { Int(unit & 0x7FFF_FFFF) }
    @inline(__always) private static func label(_ unit: UInt32) -> UInt32 { unit & 0x8000_00FF }
    @inline(__always) private static func offset(_ unit: UInt32) -> Int {
        Int((unit >> 10) << ((unit & (1 << 9)) >> 6))
    }

    /// The replacement bytes at `offset`: up to the next NUL or the end of the blob; nil when out of range.
    private func replacement(at offset: Int) -> ArraySlice<UInt8>? {
        guard offset >= 0, offset < replacements.count else { return nil }
        let end = replacements[offset...].firstIndex(of: 0) ?? replacements.count
        return replacements[offset..<end]
    }

    /// The replacement for the shortest rule whose source is a prefix of `key` (SentencePiece's
    /// `common_prefix_search`, first result, as the HF `Precompiled` normalizer uses it), or nil.
    func shortestPrefixReplacement<C: Collection>(_ key: C) -> ArraySlice<UInt8>? where C.Element == UInt8 {
        guard let root = units.first else { return nil }
        var position = Self.offset(root)
        for byte in key {
            if byte == 0 { return nil }
            position ^= Int(byte)
            guard position < units.count else { return nil }
            let unit = units[position]
            guard Self.label(unit) == UInt32(byte) else { return nil }
            position ^= Self.offset(unit)
            if Self.hasLeaf(unit) {
                guard position < units.count else { return nil }
                return replacement(at: Self.value(units[position]))
            }
        }
        return nil
    }

    /// Walks every node once; returns what is wrong, or nil. Each reachable leaf must point at a
    /// valid UTF-8 replacement inside the blob, and every child position must lie inside the trie.
    private func validate() -> String? {
        guard let root = units.first else { return "charsmap trie is empty" }
        var visited = [Bool](repeating: false, count: units.count)
        var stack: [Int] = [Self.offset(root)]
        while let base = stack.popLast() {
            for byte in 1...255 {
                let child = base ^ byte
                guard child < units.count else {
                    // Positions past the end can never hold a child; only a real label mismatch is fine.
                    continue
                }
                let unit = units[child]
                guard Self.label(unit) == UInt32(byte), !visited[child] else { continue }
                visited[child] = true
                let next = child ^ Self.offset(unit)
                guard next < units.count else {
                    return "charsmap trie offset \(next) at unit \(child) is outside the trie (\(units.count) units)"
                }
                if Self.hasLeaf(unit) {
                    let target = Self.value(units[next])
                    guard let text = replacement(at: target) else {
                        return "charsmap replacement offset \(target) is outside the \(replacements.count)-byte string table"
                    }
                    guard strictUTF8(text) != nil else {
                        return "charsmap replacement at offset \(target) is not valid UTF-8"
                    }
                }
                stack.append(next)
            }
        }
        return nil
    }

    /// HF `Precompiled`: per extended grapheme cluster, a cluster shorter than 6 UTF-8 bytes is
    /// replaced whole when a rule matches its start; otherwise each scalar is looked up on its own.
    public func normalize(_ text: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            // Every ASCII byte is its own grapheme cluster, except CR LF.
            let bytes = Array(text.utf8)
            var i = 0
            while i < bytes.count {
                if bytes[i] == 0x0D, i + 1 < bytes.count, bytes[i + 1] == 0x0A,
                    let rule = shortestPrefixReplacement(bytes[i...(i + 1)])
                {
                    out.append(contentsOf: rule)
                    i += 2
                    continue
                }
                if let rule = asciiRules[Int(bytes[i])] { out.append(contentsOf: rule) } else { out.append(bytes[i]) }
                i += 1
            }
            return String(decoding: out, as: UTF8.self)
        }
        var scalarBytes: [UInt8] = []
        for grapheme in text {
            let bytes = grapheme.utf8
            if bytes.count < 6, let rule = shortestPrefixReplacement(bytes) {
                out.append(contentsOf: rule)
                continue
            }
            for scalar in grapheme.unicodeScalars {
                scalarBytes.removeAll(keepingCapacity: true)
                appendUTF8(scalar, to: &scalarBytes)
                out.append(contentsOf: shortestPrefixReplacement(scalarBytes) ?? scalarBytes[...])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
