import Foundation
import XCTest
import FreeLBModels
import FreeLBSafetensors
import FreeLBTensor

/// A PyTorch golden fixture copied from ../shared/fixtures into this target's resources.
struct Fixture {
    let directory: URL
    let batch: [String: Any]
    let goldens: SafetensorsFile

    init(_ name: String) throws {
        guard let root = Bundle.module.url(forResource: "Resources", withExtension: nil) else {
            throw CheckpointError(description: "test resources missing")
        }
        directory = root.appendingPathComponent(name)
        batch = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("batch.json"))) as! [String: Any]
        goldens = try SafetensorsFile(url: directory.appendingPathComponent("forward_backward.safetensors"))
    }

    func ints(_ key: String) -> (values: [Int32], shape: [Int]) { flatten(batch[key]!) }

    var input: EncoderInput {
        let ids = ints("input_ids")
        return EncoderInput(inputIds: ids.values, tokenTypeIds: ints("token_type_ids").values,
                            attentionMask: ints("attention_mask").values, shape: ids.shape)
    }

    func golden(_ name: String) throws -> [Float] { try goldens.floats(name) }
}

/// Nested JSON integer arrays → flat values and shape.
func flatten(_ value: Any) -> (values: [Int32], shape: [Int]) {
    if let array = value as? [Any] {
        var values: [Int32] = []
        var inner: [Int] = []
        for element in array {
            let (v, s) = flatten(element)
            values += v
            inner = s
        }
        return (values, [array.count] + inner)
    }
    return ([Int32((value as! NSNumber).intValue)], [])
}

func flattenFloats(_ value: Any) -> [Float] {
    if let array = value as? [Any] { return array.flatMap(flattenFloats) }
    return [(value as! NSNumber).floatValue]
}

/// Asserts |a − b| ≤ atol + rtol·|b| elementwise and reports the largest deviation.
func assertClose(_ actual: [Float], _ expected: [Float], atol: Float, rtol: Float, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "\(what): element count", file: file, line: line)
    var worst: Float = 0, worstIndex = 0
    for i in 0..<min(actual.count, expected.count) {
        let excess = abs(actual[i] - expected[i]) - rtol * abs(expected[i])
        if excess > worst { worst = excess; worstIndex = i }
    }
    if worst > atol {
        XCTFail("\(what): index \(worstIndex) got \(actual[worstIndex]), expected \(expected[worstIndex]) (excess \(worst) > atol \(atol))",
                file: file, line: line)
    }
}

extension TransformerClassifier {
    /// Loads a fixture model folder in eval mode (dropout is 0 there anyway).
    static func fixture(_ fixture: Fixture, kind: TaskKind) throws -> TransformerClassifier {
        let model = try TransformerClassifier.load(fixture.directory.path, kind: kind, environment: [:]).model
        model.eval()
        return model
    }
}
