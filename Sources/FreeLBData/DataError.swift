import Foundation

/// An error in a data file or a data operation. Names the file, the 1-based line and the field when known.
public struct DataError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable {
        case fileNotFound, unreadable, emptyFile, invalidUTF8, missingColumn, raggedRow
        case invalidLabel, invalidNumber, invalidJSON, missingField, tooFewChoices
        case unknownTask, unsupportedSplit, invalidArgument, downloadFailed, unzipUnavailable
    }

    public var kind: Kind
    public var file: String?
    public var line: Int?
    public var field: String?
    public var message: String

    public init(_ kind: Kind, file: String? = nil, line: Int? = nil, field: String? = nil, _ message: String) {
        self.kind = kind
        self.file = file
        self.line = line
        self.field = field
        self.message = message
    }

    /// `path:line: field 'x': message`
    public var description: String {
        var location = file ?? ""
        if let line { location += location.isEmpty ? "line \(line)" : ":\(line)" }
        var text = location.isEmpty ? "" : location + ": "
        if let field { text += "field '\(field)': " }
        return text + message
    }
}

extension DataError: LocalizedError {
    public var errorDescription: String? { description }
}
