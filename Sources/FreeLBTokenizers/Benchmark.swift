import Foundation

/// Timing of one tokenization pass over a GLUE TSV column.
public struct TokenizationBenchmark: Sendable {
    public var sentences: Int
    /// Total ids produced, special tokens included, no truncation.
    public var tokens: Int
    /// Wall time of the encode calls only (file reading excluded), on the calling thread.
    public var seconds: Double
}

/// Encodes every row's `column` (default "sentence", as in SST-2 train.tsv; first line is the header)
/// with special tokens and no truncation, on one thread, and times it.
public func benchmarkSST2(tokenizer: any Tokenizer, trainTSV: URL, column: String = "sentence") throws -> TokenizationBenchmark {
    let text = try readTextFile(trainTSV)
    var lines = textLines(text).filter { !$0.isEmpty }
    guard let header = lines.first else {
        throw TokenizerError.malformedFile(path: trainTSV.path, field: "<header>", reason: "file is empty")
    }
    guard
        let col = header.split(separator: "\t", omittingEmptySubsequences: false)
            .firstIndex(where: { $0.trimmingCharacters(in: .whitespacesAndNewlines) == column })
    else {
        throw TokenizerError.malformedFile(path: trainTSV.path, field: column, reason: "no such column in the header")
    }
    lines.removeFirst()
    var sentences: [String] = []
    sentences.reserveCapacity(lines.count)
    for (n, line) in lines.enumerated() {
        let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
        guard col < fields.count else {
            throw TokenizerError.malformedLine(path: trainTSV.path, line: n + 2, reason: "fewer than \(col + 1) columns")
        }
        sentences.append(String(fields[col]))
    }
    let start = DispatchTime.now().uptimeNanoseconds
    var total = 0
    for s in sentences {
        total += tokenizer.encode(s, pair: nil, maxLength: nil, truncation: .doNotTruncate, addSpecialTokens: true).count
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    return TokenizationBenchmark(sentences: sentences.count, tokens: total, seconds: seconds)
}
