import Foundation
import XCTest
@testable import FreeLBTokenizers

/// Copies of /work/shared/fixtures files (see fixtures README §4 and §6), bundled with the tests.
/// `minilm-tokenizer-json/tokenizer.json` was written once, offline, by a short Python script that
/// serialises the BertTokenizerFast pipeline of §4 (BertNormalizer lowercase, BertPreTokenizer,
/// WordPiece vocab from minilm/vocab.txt, TemplateProcessing [CLS]/[SEP], WordPiece decoder) in the
/// HF tokenizers JSON format.
enum Fixtures {
    struct MissingResource: Error, CustomStringConvertible {
        let path: String
        var description: String { "missing test resource \(path)" }
    }

    static func resource(_ path: String) throws -> URL {
        guard let base = Bundle.module.url(forResource: "Resources", withExtension: nil) else {
            throw MissingResource(path: "Resources")
        }
        let url = base.appendingPathComponent(path)
        guard FileManager.default.fileExists(atPath: url.path) else { throw MissingResource(path: url.path) }
        return url
    }

    static func decode<T: Decodable>(_ type: T.Type, _ path: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: try resource(path)))
    }
}

struct MiniLMCases: Decodable {
    struct Case: Decodable {
        let index: Int
        let text: String
        let text_pair: String?
        let input_ids: [Int32]
        let token_type_ids: [Int32]
        let attention_mask: [Int32]
        let tokens: [String]
        let untruncated_input_ids: [Int32]
        let untruncated_tokens: [String]
        let backend_input_ids: [Int32]?
    }
    let max_length: Int
    let cases: [Case]
}

struct BPECases: Decodable {
    struct Case: Decodable {
        let index: Int
        let kind: String
        let text: String
        let text_pair: String?
        let input_ids: [Int32]
        let attention_mask: [Int32]?
        let type_ids: [Int32]?
        let tokens: [String]
        let decoded: String
        let decoded_with_special_tokens: String?
        let untruncated_input_ids: [Int32]?
        let transformers_wrapper_input_ids: [Int32]?
    }
    struct OddBudget: Decodable {
        struct Case: Decodable {
            let text: String
            let text_pair: String
            let input_ids: [Int32]
            let untruncated_lengths_without_specials: [Int]
            let truncated_lengths_without_specials: [Int]
        }
        let max_length: Int
        let cases: [Case]
    }
    struct PaddedBatch: Decodable {
        let texts: [String]
        let input_ids: [[Int32]]
        let attention_mask: [[Int32]]
    }
    let max_length: Int
    let cases: [Case]
    let odd_budget_pairs: OddBudget
    let padded_batch: PaddedBatch
}

/// A fresh temporary folder, removed at test teardown.
func makeTemporaryDirectory(_ test: XCTestCase) throws -> URL {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("freelb-tok-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
}
