import Foundation

/// One parameter a model expects, in task-model naming (`bert.encoder.layer.0...`, `classifier.weight`).
/// The model layer names its own prefixes (`bert.`…): this module knows no model.
public struct ExpectedParameter: Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    public init(name: String, shape: [Int]) {
        self.name = name
        self.shape = shape
    }
}

/// Every reason a checkpoint does not fit a model, collected in one error.
public struct ParameterMismatchError: Error, Equatable, CustomStringConvertible, LocalizedError {
    public struct ShapeMismatch: Equatable, Sendable {
        public var name: String  // expected (task-model) name
        public var fileKey: String
        public var expected: [Int]
        public var found: [Int]
        public init(name: String, fileKey: String, expected: [Int], found: [Int]) {
            self.name = name
            self.fileKey = fileKey
            self.expected = expected
            self.found = found
        }
    }
    public var file: String
    /// Expected names with no key in the file (in either naming).
    public var missing: [String]
    /// File keys no expected parameter claimed and no ignore pattern matched.
    public var unexpected: [String]
    public var shapeMismatches: [ShapeMismatch]
    /// Expected names present in the file under both namings (e.g. `bert.x` and `x`).
    public var ambiguous: [String]

    public var description: String {
        var lines = ["\(file): checkpoint does not match the model's parameters:"]
        if !missing.isEmpty { lines.append("  missing (\(missing.count)): " + missing.joined(separator: ", ")) }
        if !unexpected.isEmpty { lines.append("  unexpected (\(unexpected.count)): " + unexpected.joined(separator: ", ")) }
        for m in shapeMismatches {
            lines.append("  shape mismatch: \(m.name) (file key \(m.fileKey)): expected \(m.expected), found \(m.found)")
        }
        if !ambiguous.isEmpty {
            lines.append("  present with and without the model prefix: " + ambiguous.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }
    public var errorDescription: String? { description }
}

/// The outcome of matching a file against expected parameters (no tensor data read yet).
public struct ParameterMatch: Equatable, Sendable {
    /// expected (task-model) name -> key in the file.
    public var fileKeys: [String: String]
    /// Expected names that were found under the bare-model naming (model prefix stripped).
    public var foundWithoutPrefix: [String]
    /// File keys skipped because an ignore pattern matched.
    public var ignored: [String]
}

extension SafetensorsFile {
    /// Keys that HF loaders skip: the `position_ids` buffer older checkpoints store.
    public static let defaultIgnoredKeys = ["embeddings.position_ids"]

    /// Matches `expected` against the file's keys without reading any data.
    ///
    /// `modelPrefixes` are the prefixes (`bert.`, supplied by the model layer) that a bare-model checkpoint
    /// omits: for an expected name `P.rest` with `P` among them, the file may use `P.rest` (task model)
    /// or `rest` (bare model); other names (heads like `classifier.weight`) must match exactly, and with
    /// no prefixes every name must. `ignore` patterns apply to unclaimed file keys, compared with and
    /// without a model prefix; a trailing `*` matches any suffix (`pooler.*`). Throws
    /// `ParameterMismatchError` listing every missing key, unexpected key, shape mismatch and ambiguity at once.
    public func matchParameters(
        _ expected: [ExpectedParameter], modelPrefixes: [String] = [],
        ignore: [String] = SafetensorsFile.defaultIgnoredKeys
    ) throws -> ParameterMatch {
        var fileKeys: [String: String] = [:]
        var withoutPrefix: [String] = []
        var missing: [String] = []
        var ambiguous: [String] = []
        var shapeMismatches: [ParameterMismatchError.ShapeMismatch] = []
        var claimed = Set<String>()

        for e in expected {
            var candidates = [e.name]
            if let p = modelPrefixes.first(where: { e.name.hasPrefix($0) }) {
                candidates.append(String(e.name.dropFirst(p.count)))
            }
            let present = candidates.filter { contains($0) }
            guard let key = present.first else {
                missing.append(e.name)
                continue
            }
            if present.count > 1 { ambiguous.append(e.name) }
            claimed.formUnion(present)
            fileKeys[e.name] = key
            if key != e.name { withoutPrefix.append(e.name) }
            if let found = try? info(key).shape, found != e.shape {
                shapeMismatches.append(.init(name: e.name, fileKey: key, expected: e.shape, found: found))
            }
        }
        var unexpected: [String] = []
        var ignored: [String] = []
        for key in names where !claimed.contains(key) {
            if Self.matchesIgnore(key, ignore, modelPrefixes: modelPrefixes) {
                ignored.append(key)
            } else {
                unexpected.append(key)
            }
        }
        if !missing.isEmpty || !unexpected.isEmpty || !shapeMismatches.isEmpty || !ambiguous.isEmpty {
            throw ParameterMismatchError(
                file: url.path, missing: missing, unexpected: unexpected,
                shapeMismatches: shapeMismatches, ambiguous: ambiguous)
        }
        return ParameterMatch(fileKeys: fileKeys, foundWithoutPrefix: withoutPrefix, ignored: ignored)
    }

    /// Strict load: `matchParameters`, then every expected tensor as Float32, keyed by expected name.
    public func loadParameters(
        _ expected: [ExpectedParameter], modelPrefixes: [String] = [],
        ignore: [String] = SafetensorsFile.defaultIgnoredKeys
    ) throws -> [String: NamedTensor] {
        let match = try matchParameters(expected, modelPrefixes: modelPrefixes, ignore: ignore)
        var out: [String: NamedTensor] = [:]
        for e in expected {
            guard let key = match.fileKeys[e.name] else { continue }  // cannot happen after a successful match
            out[e.name] = NamedTensor(name: e.name, shape: e.shape, values: try floats(key))
        }
        return out
    }

    static func matchesIgnore(_ key: String, _ patterns: [String], modelPrefixes: [String]) -> Bool {
        var forms = [key]
        if let p = modelPrefixes.first(where: { key.hasPrefix($0) }) { forms.append(String(key.dropFirst(p.count))) }
        for pattern in patterns {
            for f in forms {
                if pattern.hasSuffix("*") {
                    if f.hasPrefix(pattern.dropLast()) { return true }
                } else if f == pattern {
                    return true
                }
            }
        }
        return false
    }
}
