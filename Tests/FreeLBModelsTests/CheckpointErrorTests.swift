import Foundation
import XCTest
import FreeLBHub
import FreeLBModels
import FreeLBSafetensors
import FreeLBTensor

/// Broken config.json / model.safetensors files give a typed error whose message names the file and
/// the offending field or tensor key; none of them crashes.
final class CheckpointErrorTests: XCTestCase {
    /// A saved tiny BERT classifier (hidden 16, intermediate 32) to corrupt.
    func savedTinyBert() throws -> URL {
        let directory = try temporaryDirectory(self).appendingPathComponent("tiny-bert")
        try tinyModel(.bert, kind: .classification).save(to: directory)
        return directory
    }

    /// Loads `directory` expecting an error; returns its description.
    func loadError(
        _ directory: URL, kind: TaskKind = .classification, numLabels: Int? = nil,
        file: StaticString = #filePath, line: UInt = #line
    ) -> String {
        do {
            _ = try TransformerClassifier.load(from: directory, kind: kind, numLabels: numLabels)
            XCTFail("loading \(directory.lastPathComponent) should fail", file: file, line: line)
            return ""
        } catch {
            return String(describing: error)
        }
    }

    func assertMentions(_ message: String, _ parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        for part in parts {
            XCTAssertTrue(message.contains(part), "error message should mention '\(part)': \(message)", file: file, line: line)
        }
    }

    /// Rewrites config.json with `edit` applied, then loads and checks the ConfigurationError.
    func checkConfigError(
        _ field: String, _ problem: String, edit: (inout [String: Any]) -> Void,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let directory = try savedTinyBert()
        let url = directory.appendingPathComponent("config.json")
        var json = try readJSONObject(url)
        edit(&json)
        try writeJSONAtomically(json, to: url)
        do {
            _ = try TransformerClassifier.load(from: directory, kind: .classification)
            XCTFail("config with bad \(field) should not load", file: file, line: line)
        } catch let error as ConfigurationError {
            XCTAssertEqual(error.field, field, file: file, line: line)
            XCTAssertEqual(error.file, url.path, file: file, line: line)
            assertMentions(error.description, [url.path, field, problem], file: file, line: line)
        } catch {
            XCTFail("expected ConfigurationError for \(field), got \(error)", file: file, line: line)
        }
    }

    // MARK: - config.json

    func testConfigWithStringForIntegerNamesFileAndField() throws {
        try checkConfigError("hidden_size", "expected an integer, found a string") { $0["hidden_size"] = "32" }
    }

    func testConfigWithFractionalIntegerNamesFileAndField() throws {
        try checkConfigError("num_hidden_layers", "expected an integer") { $0["num_hidden_layers"] = 2.5 }
    }

    /// JSON true is not the integer 1.
    func testConfigWithBooleanForIntegerNamesFileAndField() throws {
        try checkConfigError("num_attention_heads", "expected an integer") { $0["num_attention_heads"] = true }
    }

    /// Linux Foundation bridges JSON true to an NSNumber that also casts to Int 1: it must still be rejected.
    func testConfigWithBooleanForNumberNamesFileAndField() throws {
        try checkConfigError("hidden_dropout_prob", "expected a number") { $0["hidden_dropout_prob"] = false }
    }

    /// Integer literals (0, 1) stay valid for float fields, and 0/1 are not mistaken for booleans.
    func testConfigAcceptsIntegerLiteralsZeroAndOne() throws {
        let directory = try savedTinyBert()
        let url = directory.appendingPathComponent("config.json")
        var json = try readJSONObject(url)
        (json["hidden_dropout_prob"], json["layer_norm_eps"], json["pad_token_id"], json["num_labels"]) = (0, 1, 1, 1)
        json["id2label"] = nil
        let config = try ModelConfiguration(json: json, file: url.path)
        XCTAssertEqual(config.hiddenDropoutProb, 0)
        XCTAssertEqual(config.layerNormEps, 1)
        XCTAssertEqual(config.padTokenId, 1)
        XCTAssertEqual(config.numLabels, 1)
    }

    func testConfigWithStringForNumberNamesFileAndField() throws {
        try checkConfigError("layer_norm_eps", "expected a number") { $0["layer_norm_eps"] = "1e-12" }
    }

    func testConfigMissingRequiredFieldNamesFileAndField() throws {
        try checkConfigError("intermediate_size", "missing") { $0["intermediate_size"] = nil }
    }

    func testConfigWithUnsupportedModelTypeNamesIt() throws {
        try checkConfigError("model_type", "unsupported 'gpt2'") { $0["model_type"] = "gpt2" }
    }

    func testConfigWithUnknownActivationNamesIt() throws {
        try checkConfigError("hidden_act", "unsupported activation 'swish'") { $0["hidden_act"] = "swish" }
    }

    func testConfigWithIndivisibleHeadsNamesField() throws {
        try checkConfigError("num_attention_heads", "not divisible") { $0["num_attention_heads"] = 3 }
    }

    func testConfigWithNonPositiveSizeNamesField() throws {
        try checkConfigError("vocab_size", "must be in 1...4194304, found 0") { $0["vocab_size"] = 0 }
    }

    /// Every size and id is range-checked before anything is allocated (issue 15).
    func testConfigSizesAndIdsOutsideTheirRangesNameTheField() throws {
        try checkConfigError("num_hidden_layers", "must be in 1...512, found -1") { $0["num_hidden_layers"] = -1 }
        try checkConfigError("num_labels", "found -3") {
            $0["num_labels"] = -3; $0["id2label"] = nil
        }
        try checkConfigError("vocab_size", "found 1000000000000") { $0["vocab_size"] = 1_000_000_000_000 }
        try checkConfigError("intermediate_size", "found 1099511627776") { $0["intermediate_size"] = 1 << 40 }
        try checkConfigError("pad_token_id", "must be in 0..<vocab_size") { $0["pad_token_id"] = -3 }
        try checkConfigError("pad_token_id", "must be in 0..<vocab_size") { $0["pad_token_id"] = 1 << 30 }
        try checkConfigError("max_position_embeddings", "found 0") { $0["max_position_embeddings"] = 0 }
        try checkConfigError("type_vocab_size", "found 0") { $0["type_vocab_size"] = 0 }
        try checkConfigError("hidden_dropout_prob", "[0, 1)") { $0["hidden_dropout_prob"] = 1.0 }
        try checkConfigError("layer_norm_eps", "positive finite") { $0["layer_norm_eps"] = -1.0 }
        try checkConfigError("id2label", "outside 0..<num_labels") {
            $0["num_labels"] = 2; $0["id2label"] = ["0": "a", "7": "b"]
        }
        try checkConfigError("vocab_size", "expected an integer") { $0["vocab_size"] = 1e30 }
    }

    /// Sizes the file does not store are refused before the model is allocated.
    func testConfigDescribingMoreParametersThanTheFileStoresIsRefused() throws {
        let directory = try savedTinyBert()
        let url = directory.appendingPathComponent("config.json")
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        json["num_hidden_layers"] = 500
        try JSONSerialization.data(withJSONObject: json).write(to: url)
        assertMentions(loadError(directory), [url.path, "stores only", "do not match"])
    }

    func testConfigWithMalformedLabelMapNamesField() throws {
        try checkConfigError("id2label", "expected") { $0["id2label"] = ["zero": "LABEL_0"] }
    }

    func testConfigThatIsNotJSONNamesFile() throws {
        let directory = try savedTinyBert()
        let url = directory.appendingPathComponent("config.json")
        try Data("{\"hidden_size\": 16,".utf8).write(to: url)
        assertMentions(loadError(directory), [url.path, "not a JSON object"])
    }

    func testMissingConfigNamesFile() throws {
        let directory = try savedTinyBert()
        try FileManager.default.removeItem(at: directory.appendingPathComponent("config.json"))
        assertMentions(loadError(directory), [directory.appendingPathComponent("config.json").path, "cannot read"])
    }

    func testMissingFolderNamesPath() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("freelb-no-such-model-\(UUID().uuidString)").path
        do {
            _ = try TransformerClassifier.load(from: ModelLocator(environment: [:]).resolve(path), kind: .classification)
            XCTFail("a missing folder should not load")
        } catch let error as HubError {
            XCTAssertEqual(error, .localPathNotFound(path: path))
            assertMentions(error.description, [path])
        }
    }

    // MARK: - model.safetensors

    /// Rewrites model.safetensors with `edit` applied to its tensors.
    func rewriteWeights(_ directory: URL, _ edit: (inout [NamedTensor]) -> Void) throws -> URL {
        let url = directory.appendingPathComponent("model.safetensors")
        let file = try SafetensorsFile(url: url)
        var tensors = try file.names.map { try file.tensor($0) }
        edit(&tensors)
        try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: url)
        return url
    }

    func testWeightsMissingAKeyNameTheKey() throws {
        let directory = try savedTinyBert()
        let key = "bert.encoder.layer.1.output.dense.bias"
        let url = try rewriteWeights(directory) { $0.removeAll { $0.name == key } }
        do {
            _ = try TransformerClassifier.load(from: directory, kind: .classification)
            XCTFail("a checkpoint without \(key) should not load")
        } catch let error as ParameterMismatchError {
            XCTAssertEqual(error.missing, [key])
            XCTAssertEqual(error.unexpected, [])
            assertMentions(error.description, [url.path, "missing (1)", key])
        }
    }

    func testWeightsWithWrongShapeNameKeyAndBothShapes() throws {
        let directory = try savedTinyBert()
        let key = "bert.encoder.layer.0.intermediate.dense.weight"  // [32, 16]
        let url = try rewriteWeights(directory) { tensors in
            let i = tensors.firstIndex { $0.name == key }!
            tensors[i] = NamedTensor(name: key, shape: [31, 16], values: Array(repeating: 0.5, count: 31 * 16))
        }
        do {
            _ = try TransformerClassifier.load(from: directory, kind: .classification)
            XCTFail("a checkpoint with a [31, 16] \(key) should not load")
        } catch let error as ParameterMismatchError {
            XCTAssertEqual(error.shapeMismatches, [.init(name: key, fileKey: key, expected: [32, 16], found: [31, 16])])
            assertMentions(error.description, [url.path, key, "expected [32, 16]", "found [31, 16]"])
        }
    }

    func testWeightsWithUnexpectedKeyNameIt() throws {
        let directory = try savedTinyBert()
        let key = "bert.encoder.layer.2.output.dense.bias"  // a third layer the 2-layer config lacks
        let url = try rewriteWeights(directory) {
            $0.append(NamedTensor(name: key, shape: [16], values: Array(repeating: 0, count: 16)))
        }
        assertMentions(loadError(directory), [url.path, "unexpected (1)", key])
    }

    func testLabelCountOverrideThatContradictsTheHeadNamesClassifier() throws {
        let directory = try savedTinyBert()  // classifier.weight [2, 16]
        let message = loadError(directory, numLabels: 5)
        assertMentions(
            message,
            [directory.appendingPathComponent("model.safetensors").path, "classifier.weight", "expected [5, 16]", "found [2, 16]"]
        )
    }

    func testTruncatedWeightsNameTheFile() throws {
        let directory = try savedTinyBert()
        let url = directory.appendingPathComponent("model.safetensors")
        let bytes = try Data(contentsOf: url)
        // Cut inside the data buffer, inside the JSON header, and inside the 8-byte length prefix.
        for keep in [bytes.count / 2, 20, 5] {
            try bytes.prefix(keep).write(to: url)
            let message = loadError(directory)
            assertMentions(message, [url.path])
            XCTAssertTrue(["truncated", "outside", "corrupted"].contains { message.contains($0) }, "keep \(keep): \(message)")
        }
    }

    func testMissingWeightsFileNamesFolder() throws {
        let directory = try savedTinyBert()
        try FileManager.default.removeItem(at: directory.appendingPathComponent("model.safetensors"))
        assertMentions(loadError(directory), [directory.path, "no model.safetensors"])
    }
}
