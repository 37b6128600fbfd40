import Foundation

/// Everything that can go wrong while loading a tokenizer. Every case names the file; `line` is 1-based.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    /// The folder holds none of tokenizer.json, vocab.txt, or vocab.json + merges.txt.
    case noTokenizerFiles(directory: String)
    case unreadableFile(path: String, reason: String)
    /// The file is not valid JSON / UTF-8, or has the wrong shape at `field`.
    case malformedFile(path: String, field: String, reason: String)
    case malformedLine(path: String, line: Int, reason: String)
    /// A component of tokenizer.json that this package does not implement (e.g. a Unigram model).
    case unsupported(path: String, field: String, found: String)
    /// A token that the pipeline needs (e.g. [UNK], a merge result) is not in the vocabulary.
    case missingToken(path: String, token: String, context: String)

    public var description: String {
        switch self {
        case .noTokenizerFiles(let dir):
            return "\(dir): no tokenizer.json, vocab.txt, or vocab.json + merges.txt found"
        case .unreadableFile(let path, let reason):
            return "\(path): cannot read: \(reason)"
        case .malformedFile(let path, let field, let reason):
            return "\(path): field '\(field)': \(reason)"
        case .malformedLine(let path, let line, let reason):
            return "\(path):\(line): \(reason)"
        case .unsupported(let path, let field, let found):
            return "\(path): field '\(field)': unsupported value '\(found)'"
        case .missingToken(let path, let token, let context):
            return "\(path): token '\(token)' is not in the vocabulary (\(context))"
        }
    }
}

/// Reads a whole file as UTF-8 text with a typed error.
func readTextFile(_ url: URL) throws -> String {
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
        throw TokenizerError.unreadableFile(path: url.path, reason: error.localizedDescription)
    }
    guard let text = String(data: data, encoding: .utf8) else {
        throw TokenizerError.malformedFile(path: url.path, field: "<file>", reason: "not valid UTF-8")
    }
    return text
}

/// Reads a JSON file whose top level must be an object.
func readJSONObject(_ url: URL) throws -> [String: Any] {
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
        throw TokenizerError.unreadableFile(path: url.path, reason: error.localizedDescription)
    }
    let any: Any
    do { any = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
        throw TokenizerError.malformedFile(path: url.path, field: "<file>", reason: "invalid JSON: \(error.localizedDescription)")
    }
    guard let object = any as? [String: Any] else {
        throw TokenizerError.malformedFile(path: url.path, field: "<file>", reason: "top level is not a JSON object")
    }
    return object
}

/// Typed accessors for JSONSerialization output; `path`/`field` are used only for error messages.
struct JSONReader {
    let path: String

    func object(_ value: Any?, _ field: String) throws -> [String: Any] {
        guard let object = value as? [String: Any] else { throw mismatch(field, "an object", value) }
        return object
    }
    func optionalObject(_ value: Any?, _ field: String) throws -> [String: Any]? {
        if value == nil || value is NSNull { return nil }
        return try object(value, field)
    }
    func array(_ value: Any?, _ field: String) throws -> [Any] {
        guard let array = value as? [Any] else { throw mismatch(field, "an array", value) }
        return array
    }
    /// A two-element array (`what` names its parts in the error, e.g. "[left, right]").
    func pair(_ value: Any?, _ field: String, _ what: String) throws -> [Any] {
        let pair = try array(value, field)
        guard pair.count == 2 else {
            throw TokenizerError.malformedFile(path: path, field: field, reason: "expected \(what), found \(pair.count) elements")
        }
        return pair
    }
    func string(_ value: Any?, _ field: String) throws -> String {
        guard let string = value as? String else { throw mismatch(field, "a string", value) }
        return string
    }
    func optionalString(_ value: Any?, _ field: String) throws -> String? {
        if value == nil || value is NSNull { return nil }
        return try string(value, field)
    }
    func bool(_ value: Any?, _ field: String, default defaultValue: Bool) throws -> Bool {
        if value == nil || value is NSNull { return defaultValue }
        if let b = value as? Bool { return b }
        throw mismatch(field, "a boolean", value)
    }
    /// A non-negative integer that fits Int32 (token ids).
    func id(_ value: Any?, _ field: String) throws -> Int {
        // (JSONSerialization numbers are NSNumber; on Linux `is Bool` is true for 0 and 1, so not checked.)
        if let n = value as? NSNumber, !(value is String) {
            let d = n.doubleValue
            if d >= 0, d <= Double(Int32.max), d == d.rounded() { return Int(d) }
        }
        throw mismatch(field, "a non-negative integer id", value)
    }
    func optionalInt(_ value: Any?, _ field: String) throws -> Int? {
        if value == nil || value is NSNull { return nil }
        return try id(value, field)
    }

    /// `object["type"]` must be `expected`; another type is unsupported (`field.type` names it).
    func requireType(_ object: [String: Any], _ field: String, _ expected: String) throws {
        let type = try string(object["type"], "\(field).type")
        guard type == expected else { throw TokenizerError.unsupported(path: path, field: "\(field).type", found: type) }
    }

    func mismatch(_ field: String, _ expected: String, _ found: Any?) -> TokenizerError {
        let shown: String
        switch found {
        case nil: shown = "missing"
        case is NSNull: shown = "null"
        case let s as String: shown = "string \"\(s.prefix(40))\""
        case is [Any]: shown = "an array"
        case is [String: Any]: shown = "an object"
        case let other?: shown = "\(other)"
        }
        return .malformedFile(path: path, field: field, reason: "expected \(expected), found \(shown)")
    }
}
