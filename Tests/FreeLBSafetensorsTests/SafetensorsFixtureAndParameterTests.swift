import Foundation
import XCTest
import FreeLBSafetensors

/// Real files written by Python `safetensors` 0.8.0 (goldens of tools/goldens/gen_fixtures.py).
final class SafetensorsFixtureTests: XCTestCase {
    static func resource(_ name: String) throws -> URL {
        guard let url = Bundle.module.url(forResource: "Resources/\(name)", withExtension: nil) else {
            throw XCTSkip("test resource \(name) missing")
        }
        return url
    }

    func testReadsTinyBertCheckpointShapesFromItsConfig() throws {
        // tiny-bert/config.json: vocab 100, hidden 32, 2 layers, intermediate 64, max_position 64, type_vocab 2, num_labels 3.
        let f = try SafetensorsFile(url: Self.resource("tiny-bert-model.safetensors"))
        XCTAssertEqual(f.metadata, ["format": "pt"])
        XCTAssertEqual(f.names.count, 41)  // 5 embedding + 2 x 16 layer + 2 pooler + 2 classifier
        let shapes: [(String, [Int])] = [
            ("bert.embeddings.word_embeddings.weight", [100, 32]),
            ("bert.embeddings.position_embeddings.weight", [64, 32]),
            ("bert.embeddings.token_type_embeddings.weight", [2, 32]),
            ("bert.encoder.layer.1.intermediate.dense.weight", [64, 32]),
            ("bert.encoder.layer.1.output.dense.weight", [32, 64]),
            ("classifier.weight", [3, 32]),
            ("classifier.bias", [3])
        ]
        for (name, shape) in shapes {
            XCTAssertEqual(try f.info(name).shape, shape, name)
            XCTAssertEqual(try f.info(name).dtype, .f32)
        }
        // Row 0 of word_embeddings is the padding row, zero-initialised (fixtures README, section "conventions" 7).
        let we = try f.floats("bert.embeddings.word_embeddings.weight")
        XCTAssertEqual(we.count, 100 * 32)
        XCTAssertTrue(we[0..<32].allSatisfy { $0 == 0 })
        XCTAssertFalse(we[32..<64].allSatisfy { $0 == 0 })
        // Literals read once with Python (struct.unpack of the raw bytes); F32 is copied bit for bit.
        XCTAssertEqual(try f.floats("classifier.bias"), [-0.09000275284051895, -0.07954107969999313, 0.05318399891257286])
        XCTAssertEqual(
            try f.floats("bert.embeddings.LayerNorm.weight").prefix(4),
            [0.9535535573959351, 0.8259730339050293, 1.5630245208740234, 1.1402325630187988])
    }

    func testRewritingTinyBertCheckpointReproducesPythonSafetensorsBytesExactly() throws {
        // The fixture was written by Python safetensors 0.8.0 (all F32, metadata {"format":"pt"}):
        // same tensors + metadata through SafetensorsWriter must give the identical file.
        let src = try Self.resource("tiny-bert-model.safetensors")
        let f = try SafetensorsFile(url: src)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("freelb-st-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("rewritten.safetensors")
        try SafetensorsWriter.write(try f.names.map { try f.tensor($0) }, metadata: f.metadata, to: out)
        XCTAssertEqual(try Data(contentsOf: out), try Data(contentsOf: src))
    }

    func testReadsMiniLMForwardFixtureMatchingItsSidecar() throws {
        let f = try SafetensorsFile(url: Self.resource("minilm-forward.safetensors"))
        XCTAssertTrue(f.metadata["description"]?.contains("(sidecar: forward.json)") ?? false)
        // forward.json "tensors": shape and ref_max_abs (the float64 max |x| before rounding to float32;
        // rounding is monotone, so the stored float32 max equals Float(ref_max_abs) exactly).
        let sidecar: [(String, [Int], Double)] = [
            ("last_hidden_state", [8, 32, 384], 6.34221692970705),
            ("mean_pooled", [8, 384], 2.5858775631380384),
            ("mean_pooled_l2_normalized", [8, 384], 0.4062184608354859),
            ("pooler_output", [8, 384], 0.22687371386070793),
            ("hidden_states.3.first4", [8, 4, 384], 9.661060906649514)
        ]
        for (name, shape, maxAbs) in sidecar {
            XCTAssertEqual(try f.info(name).shape, shape, name)
            let v = try f.floats(name)
            XCTAssertEqual(v.count, shape.reduce(1, *))
            XCTAssertEqual(v.map { abs($0) }.max(), Float(maxAbs), name)
        }
        // Each normalized row has unit L2 norm; 1e-6 covers float32 rounding of 384 terms (~384 * 6e-8 / 2).
        let n = try f.floats("mean_pooled_l2_normalized")
        for r in 0..<8 {
            let norm = n[(r * 384)..<((r + 1) * 384)].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            XCTAssertEqual(norm, 1, accuracy: 1e-6, "row \(r)")
        }
    }
}

final class ParameterLoadingTests: TempDirTestCase {
    private func write(_ keys: [(String, [Int])]) throws -> SafetensorsFile {
        let url = dir.appendingPathComponent("ckpt-\(UUID().uuidString).safetensors")
        try SafetensorsWriter.write(
            keys.map { NamedTensor(name: $0.0, shape: $0.1, values: (0..<$0.1.reduce(1, *)).map(Float.init)) }, to: url)
        return try SafetensorsFile(url: url)
    }

    private let expected = [
        ExpectedParameter(name: "bert.embeddings.word_embeddings.weight", shape: [10, 4]),
        ExpectedParameter(name: "bert.encoder.layer.0.output.dense.bias", shape: [4]),
        ExpectedParameter(name: "classifier.weight", shape: [3, 4]),
        ExpectedParameter(name: "classifier.bias", shape: [3])
    ]

    func testTaskModelNamingLoadsAllKeysExactly() throws {
        let f = try write(expected.map { ($0.name, $0.shape) })
        let match = try f.matchParameters(expected, modelPrefixes: ["bert."])
        XCTAssertEqual(match.fileKeys, Dictionary(uniqueKeysWithValues: expected.map { ($0.name, $0.name) }))
        XCTAssertEqual(match.foundWithoutPrefix, [])
        let loaded = try f.loadParameters(expected, modelPrefixes: ["bert."])
        XCTAssertEqual(loaded["classifier.weight"]?.values, (0..<12).map(Float.init))
        XCTAssertEqual(loaded["classifier.weight"]?.shape, [3, 4])
    }

    func testBareModelCheckpointMapsToPrefixedNamesAndIgnoresPositionIdsAndPooler() throws {
        // Saved by a bare BertModel: no `bert.` prefix, plus a position_ids buffer and a pooler the model lacks.
        let f = try write([
            ("embeddings.word_embeddings.weight", [10, 4]),
            ("encoder.layer.0.output.dense.bias", [4]),
            ("classifier.weight", [3, 4]), ("classifier.bias", [3]),
            ("embeddings.position_ids", [1, 64]),
            ("pooler.dense.weight", [4, 4]), ("pooler.dense.bias", [4])
        ])
        let match = try f.matchParameters(
            expected, modelPrefixes: ["bert."], ignore: SafetensorsFile.defaultIgnoredKeys + ["pooler.*"])
        XCTAssertEqual(match.fileKeys["bert.embeddings.word_embeddings.weight"], "embeddings.word_embeddings.weight")
        XCTAssertEqual(match.fileKeys["classifier.bias"], "classifier.bias")
        XCTAssertEqual(
            match.foundWithoutPrefix, ["bert.embeddings.word_embeddings.weight", "bert.encoder.layer.0.output.dense.bias"])
        XCTAssertEqual(match.ignored, ["embeddings.position_ids", "pooler.dense.bias", "pooler.dense.weight"])
        XCTAssertEqual(
            try f.loadParameters(expected, modelPrefixes: ["bert."], ignore: ["embeddings.position_ids", "pooler.*"])[
                "bert.encoder.layer.0.output.dense.bias"]?.values, [0, 1, 2, 3])
    }

    func testPrefixedIgnorePatternsMatchPrefixedKeys() throws {
        let f = try write(
            expected.map { ($0.name, $0.shape) } + [("bert.embeddings.position_ids", [1, 8]), ("bert.pooler.dense.bias", [4])])
        XCTAssertEqual(
            try f.matchParameters(expected, modelPrefixes: ["bert."], ignore: ["embeddings.position_ids", "pooler.*"]).ignored,
            ["bert.embeddings.position_ids", "bert.pooler.dense.bias"])
    }

    func testReportsEveryMissingUnexpectedAndShapeMismatchInOneError() throws {
        let f = try write([
            ("bert.embeddings.word_embeddings.weight", [12, 4]),  // shape mismatch
            ("classifier.weight", [3, 4]),
            ("bert.pooler.dense.bias", [4]),  // unexpected (not ignored by default)
            ("lm_head.bias", [10]),  // unexpected
            ("bert.embeddings.position_ids", [1, 8])  // ignored by default
        ])
        XCTAssertThrowsError(try f.matchParameters(expected, modelPrefixes: ["bert."])) { error in
            guard let e = error as? ParameterMismatchError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.file, f.url.path)
            XCTAssertEqual(e.missing, ["bert.encoder.layer.0.output.dense.bias", "classifier.bias"])
            XCTAssertEqual(e.unexpected, ["bert.pooler.dense.bias", "lm_head.bias"])
            XCTAssertEqual(
                e.shapeMismatches,
                [
                    .init(
                        name: "bert.embeddings.word_embeddings.weight", fileKey: "bert.embeddings.word_embeddings.weight",
                        expected: [10, 4], found: [12, 4])
                ])
            XCTAssertEqual(e.ambiguous, [])
            XCTAssertTrue(e.description.contains("missing (2)"), e.description)
            XCTAssertTrue(e.description.contains("expected [10, 4], found [12, 4]"), e.description)
        }
    }

    func testKeyPresentWithAndWithoutPrefixIsAmbiguous() throws {
        let f = try write(expected.map { ($0.name, $0.shape) } + [("embeddings.word_embeddings.weight", [10, 4])])
        XCTAssertThrowsError(try f.matchParameters(expected, modelPrefixes: ["bert."])) {
            XCTAssertEqual(($0 as? ParameterMismatchError)?.ambiguous, ["bert.embeddings.word_embeddings.weight"])
        }
    }

    func testHeadKeysAreNotMatchedUnderAModelPrefix() throws {
        // `bert.classifier.weight` is not `classifier.weight`: heads never take the model prefix.
        let f = try write([
            ("bert.embeddings.word_embeddings.weight", [10, 4]), ("bert.encoder.layer.0.output.dense.bias", [4]),
            ("bert.classifier.weight", [3, 4]), ("classifier.bias", [3])
        ])
        XCTAssertThrowsError(try f.matchParameters(expected, modelPrefixes: ["bert."])) {
            let e = $0 as? ParameterMismatchError
            XCTAssertEqual(e?.missing, ["classifier.weight"])
            XCTAssertEqual(e?.unexpected, ["bert.classifier.weight"])
        }
    }

    func testLoadsTinyBertFixtureIntoItsOwnParameterList() throws {
        let f = try SafetensorsFile(url: SafetensorsFixtureTests.resource("tiny-bert-model.safetensors"))
        let all = f.tensorInfos.map { ExpectedParameter(name: $0.name, shape: $0.shape) }
        let withoutPooler = all.filter { !$0.name.hasPrefix("bert.pooler.") }
        let match = try f.matchParameters(withoutPooler, modelPrefixes: ["bert."], ignore: ["pooler.*"])
        XCTAssertEqual(match.fileKeys.count, 39)
        XCTAssertEqual(match.ignored, ["bert.pooler.dense.bias", "bert.pooler.dense.weight"])
    }
}
