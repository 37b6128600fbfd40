import Foundation
import XCTest
import FreeLBModels
import FreeLBTensor

/// A small random configuration: vocab 50, hidden 16, 2 layers, 2 heads, intermediate 32
/// (ALBERT: embedding_size 8). RoBERTa uses pad id 1 and one token type, as the HF configs do.
func tinyConfiguration(_ type: ModelType, numLabels: Int = 2) -> ModelConfiguration {
    ModelConfiguration(
        modelType: type, vocabSize: 50, hiddenSize: 16, numHiddenLayers: 2, numAttentionHeads: 2,
        intermediateSize: 32, maxPositionEmbeddings: 24, typeVocabSize: type == .roberta ? 1 : 2,
        layerNormEps: type == .roberta ? 1e-5 : 1e-12, padTokenId: type == .roberta ? 1 : 0,
        initializerRange: 0.2, embeddingSize: type == .albert ? 8 : nil, numLabels: numLabels)
}

/// A tiny model with HF-style random weights, in eval mode.
func tinyModel(_ type: ModelType, kind: TaskKind, numLabels: Int = 2, seed: UInt64 = 7) -> TransformerClassifier {
    let model = TransformerClassifier(config: tinyConfiguration(type, numLabels: numLabels), kind: kind, seed: seed)
    model.initializeWeights(seed: seed)
    model.eval()
    return model
}

/// Three right-padded sequences of lengths 7, 4 and 2 → [3, 7] (or `choices` of them per example,
/// [3, choices, 7]); pads carry `pad` and attention mask 0, the second segment token type 1 (if any).
func paddedBatch(pad: Int32, typeVocab: Int, choices: Int? = nil) -> EncoderInput {
    let t = 7
    let lengths = [7, 4, 2]
    var ids: [Int32] = [], types: [Int32] = [], mask: [Int32] = []
    for (b, length) in lengths.enumerated() {
        for c in 0..<(choices ?? 1) {
            for j in 0..<t {
                let real = j < max(2, length - c)
                ids.append(real ? Int32(2 + (b * 13 + c * 5 + j * 7) % 47) : pad)
                types.append(real && typeVocab > 1 && j >= 3 ? 1 : 0)
                mask.append(real ? 1 : 0)
            }
        }
    }
    let shape = choices.map { [lengths.count, $0, t] } ?? [lengths.count, t]
    return EncoderInput(inputIds: ids, tokenTypeIds: types, attentionMask: mask, shape: shape)
}

/// A fresh empty folder under the system temporary directory, removed when the test ends.
func temporaryDirectory(_ test: XCTestCase, _ name: String = #function) throws -> URL {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("freelb-models-tests-\(safe)-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// Reads a JSON object file.
func readJSONObject(_ url: URL) throws -> [String: Any] {
    guard let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] else {
        throw CheckpointError(description: "\(url.path): not a JSON object")
    }
    return object
}
