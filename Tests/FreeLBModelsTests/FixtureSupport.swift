import Foundation
import XCTest
import FreeLBModels
import FreeLBSafetensors
import FreeLBTensor
@_exported import FreeLBTestSupport

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

extension TransformerClassifier {
    /// Loads a fixture model folder in eval mode (dropout is 0 there anyway).
    static func fixture(_ fixture: Fixture, kind: TaskKind) throws -> TransformerClassifier {
        let model = try TransformerClassifier.load(from: fixture.directory, kind: kind)
        model.eval()
        return model
    }
}
