import XCTest
import FreeLBModels
import FreeLBTensor

/// eval() must switch off every dropout layer (embeddings, attention, hidden, head): the forward pass
/// is then deterministic and equals the same weights with every dropout probability set to 0.
final class EvalModeTests: XCTestCase {
    func testEvalModeForwardIgnoresDropoutProbabilities() throws {
        for type in [ModelType.bert, .roberta, .albert] {
            var noisy = tinyConfiguration(type)
            (noisy.hiddenDropoutProb, noisy.attentionProbsDropoutProb, noisy.classifierDropout) = (0.5, 0.5, 0.5)
            var silent = noisy
            (silent.hiddenDropoutProb, silent.attentionProbsDropoutProb, silent.classifierDropout) = (0, 0, 0)
            let a = TransformerClassifier(config: noisy, kind: .classification),
                b = TransformerClassifier(config: silent, kind: .classification)
            a.initializeWeights(seed: 11)
            b.initializeWeights(seed: 11)
            a.eval()
            b.eval()
            let input = paddedBatch(pad: Int32(noisy.padTokenId), typeVocab: noisy.typeVocabSize)
            let first = a(input), second = a(input), reference = b(input)
            // Same weights and no dropout: bitwise equal (tolerance 0).
            XCTAssertEqual(first.logits.scalars, reference.logits.scalars, "\(type): eval logits equal dropout-free logits")
            XCTAssertEqual(second.logits.scalars, first.logits.scalars, "\(type): repeated eval passes agree")
            XCTAssertEqual(
                first.encoder.embeddingOutput.scalars, reference.encoder.embeddingOutput.scalars, "\(type): embedding dropout off"
            )
        }
    }

    /// Training mode does apply dropout (the test above is not vacuous).
    func testTrainModeForwardAppliesDropout() throws {
        var config = tinyConfiguration(.bert)
        (config.hiddenDropoutProb, config.attentionProbsDropoutProb) = (0.5, 0.5)
        let model = TransformerClassifier(config: config, kind: .classification)
        model.initializeWeights(seed: 11)
        let input = paddedBatch(pad: 0, typeVocab: 2)
        let training = model(input).encoder.embeddingOutput.scalars
        model.eval()
        XCTAssertNotEqual(training, model(input).encoder.embeddingOutput.scalars, "embedding dropout active in train mode")
    }
}
