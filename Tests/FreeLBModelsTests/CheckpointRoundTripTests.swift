import Foundation
import XCTest
import FreeLBModels
import FreeLBSafetensors
import FreeLBTensor

/// save(to:) then load(_:kind:) gives back the same model: every parameter and every logit is
/// bit-for-bit identical (float32 values are stored verbatim, so the tolerance is exactly 0).
final class CheckpointRoundTripTests: XCTestCase {
    /// Saves `model`, reloads it as `kind`, and checks parameters, logits and hidden states bitwise.
    @discardableResult
    func roundTrip(
        _ model: TransformerClassifier, _ input: EncoderInput, file: StaticString = #filePath,
        line: UInt = #line
    ) throws -> (reloaded: TransformerClassifier, directory: URL) {
        let directory = try temporaryDirectory(self).appendingPathComponent("checkpoint")
        try model.save(to: directory)
        let (reloaded, from) = (try TransformerClassifier.load(from: directory, kind: model.kind), directory)
        reloaded.eval()
        XCTAssertEqual(from.standardizedFileURL.path, directory.standardizedFileURL.path, file: file, line: line)

        let before = model.namedParameters(), after = reloaded.namedParameters()
        XCTAssertEqual(before.map(\.0), after.map(\.0), "same parameter names", file: file, line: line)
        for ((name, a), (_, b)) in zip(before, after) {
            XCTAssertEqual(a.shape, b.shape, "\(name) shape", file: file, line: line)
            XCTAssertEqual(a.scalars, b.scalars, "\(name) values (bitwise)", file: file, line: line)
        }
        let expected = model(input), actual = reloaded(input)
        XCTAssertEqual(actual.logits.shape, expected.logits.shape, file: file, line: line)
        XCTAssertEqual(actual.logits.scalars, expected.logits.scalars, "logits (bitwise)", file: file, line: line)
        XCTAssertTrue(expected.logits.scalars.allSatisfy(\.isFinite), "finite logits", file: file, line: line)
        for (i, (a, b)) in zip(actual.encoder.hiddenStates, expected.encoder.hiddenStates).enumerated() {
            XCTAssertEqual(a.scalars, b.scalars, "hidden_states.\(i) (bitwise)", file: file, line: line)
        }
        return (reloaded, directory)
    }

    func testRobertaClassifierRoundTripsBitForBit() throws {
        let model = tinyModel(.roberta, kind: .classification)
        model.config.id2label = [0: "negative", 1: "positive"]
        let (reloaded, directory) = try roundTrip(model, paddedBatch(pad: 1, typeVocab: 1))
        XCTAssertEqual(reloaded.config.modelType, .roberta)
        XCTAssertEqual(reloaded.config.padTokenId, 1)
        XCTAssertEqual(reloaded.config.id2label, [0: "negative", 1: "positive"])
        XCTAssertNotNil(reloaded.classifierDense, "RoBERTa head: classifier.dense + out_proj")

        let json = try readJSONObject(directory.appendingPathComponent("config.json"))
        XCTAssertEqual(json["architectures"] as? [String], ["RobertaForSequenceClassification"])
        XCTAssertEqual(json["model_type"] as? String, "roberta")
        XCTAssertEqual((json["num_labels"] as? NSNumber)?.intValue, 2)
        XCTAssertEqual(json["id2label"] as? [String: String], ["0": "negative", "1": "positive"])
        XCTAssertEqual(
            (json["label2id"] as? [String: Any])?.mapValues { ($0 as? NSNumber)?.intValue },
            ["negative": 0, "positive": 1])
    }

    /// XLM-RoBERTa is RoBERTa's architecture under another model_type: the same parameters give the
    /// same logits, and a saved folder keeps `xlm-roberta` and the XLMRoberta class for transformers.
    func testXLMRobertaIsRobertaUnderItsOwnModelType() throws {
        let roberta = tinyModel(.roberta, kind: .classification)
        var config = roberta.config
        config.modelType = .xlmRoberta
        let xlmr = TransformerClassifier(config: config, kind: .classification)
        XCTAssertEqual(xlmr.namedParameters().map(\.0), roberta.namedParameters().map(\.0), "roberta.* parameter names")
        for ((_, a), (_, b)) in zip(xlmr.namedParameters(), roberta.namedParameters()) { a.copy(from: b) }
        xlmr.eval(); roberta.eval()
        let input = paddedBatch(pad: 1, typeVocab: 1)
        XCTAssertEqual(xlmr(input).logits.scalars, roberta(input).logits.scalars)
        let (reloaded, directory) = try roundTrip(xlmr, input)
        XCTAssertEqual(reloaded.config.modelType, .xlmRoberta)
        let json = try readJSONObject(directory.appendingPathComponent("config.json"))
        XCTAssertEqual(json["model_type"] as? String, "xlm-roberta")
        XCTAssertEqual(json["architectures"] as? [String], ["XLMRobertaForSequenceClassification"])
    }

    func testAlbertClassifierRoundTripsBitForBit() throws {
        let model = tinyModel(.albert, kind: .classification, numLabels: 3)
        let (reloaded, directory) = try roundTrip(model, paddedBatch(pad: 0, typeVocab: 2))
        XCTAssertEqual(reloaded.config.embeddingSize, 8)
        XCTAssertEqual(reloaded.config.numLabels, 3)
        XCTAssertEqual(reloaded.encoder.layers.count, 1, "ALBERT shares one layer group across depth")

        let json = try readJSONObject(directory.appendingPathComponent("config.json"))
        XCTAssertEqual(json["architectures"] as? [String], ["AlbertForSequenceClassification"])
        XCTAssertEqual(json["model_type"] as? String, "albert")
        XCTAssertEqual((json["num_labels"] as? NSNumber)?.intValue, 3)
        XCTAssertEqual((json["embedding_size"] as? NSNumber)?.intValue, 8)
        XCTAssertEqual(json["id2label"] as? [String: String], ["0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"])
    }

    func testBertMultipleChoiceRoundTripsBitForBit() throws {
        let model = tinyModel(.bert, kind: .multipleChoice)
        let input = paddedBatch(pad: 0, typeVocab: 2, choices: 3)  // [3, 3, 7]
        let (reloaded, directory) = try roundTrip(model, input)
        XCTAssertEqual(reloaded(input).logits.shape, [3, 3], "logits [B, C]")
        XCTAssertEqual(reloaded.classifier.weight.shape, [1, 16], "multiple-choice head is Linear(H, 1)")

        let json = try readJSONObject(directory.appendingPathComponent("config.json"))
        XCTAssertEqual(json["architectures"] as? [String], ["BertForMultipleChoice"])
        XCTAssertEqual(json["model_type"] as? String, "bert")
        XCTAssertNotNil(json["num_labels"])
        XCTAssertNotNil(json["id2label"] as? [String: String])
    }

    func testBertRegressionRoundTripsBitForBit() throws {
        let model = tinyModel(.bert, kind: .regression)
        let (reloaded, directory) = try roundTrip(model, paddedBatch(pad: 0, typeVocab: 2))
        XCTAssertEqual(reloaded.config.numLabels, 1)
        XCTAssertEqual(reloaded.config.problemType, "regression")
        XCTAssertEqual(reloaded(paddedBatch(pad: 0, typeVocab: 2)).logits.shape, [3, 1], "logits [B, 1]")

        let json = try readJSONObject(directory.appendingPathComponent("config.json"))
        XCTAssertEqual(json["architectures"] as? [String], ["BertForSequenceClassification"])
        XCTAssertEqual(json["model_type"] as? String, "bert")
        XCTAssertEqual((json["num_labels"] as? NSNumber)?.intValue, 1)
        XCTAssertEqual(json["problem_type"] as? String, "regression")
        XCTAssertEqual(json["id2label"] as? [String: String], ["0": "LABEL_0"])
    }

    /// Reloading a saved model with its config.json read back keeps every modelled field.
    func testSavedConfigurationReadsBackEqual() throws {
        for type in [ModelType.bert, .roberta, .albert] {
            var config = tinyConfiguration(type, numLabels: 3)
            config.classifierDropout = 0.25
            config.hiddenAct = .geluTanh
            let model = TransformerClassifier(config: config, kind: .classification)
            model.initializeWeights(seed: 3)
            let directory = try temporaryDirectory(self).appendingPathComponent(type.rawValue)
            try model.save(to: directory)
            let back = try ModelConfiguration(contentsOf: directory.appendingPathComponent("config.json"))
            XCTAssertEqual(back.modelType, config.modelType, "\(type)")
            XCTAssertEqual(back.vocabSize, config.vocabSize, "\(type)")
            XCTAssertEqual(back.hiddenSize, config.hiddenSize, "\(type)")
            XCTAssertEqual(back.numHiddenLayers, config.numHiddenLayers, "\(type)")
            XCTAssertEqual(back.numAttentionHeads, config.numAttentionHeads, "\(type)")
            XCTAssertEqual(back.intermediateSize, config.intermediateSize, "\(type)")
            XCTAssertEqual(back.hiddenAct, .geluTanh, "\(type)")
            XCTAssertEqual(back.maxPositionEmbeddings, config.maxPositionEmbeddings, "\(type)")
            XCTAssertEqual(back.typeVocabSize, config.typeVocabSize, "\(type)")
            XCTAssertEqual(back.layerNormEps, config.layerNormEps, "\(type)")
            XCTAssertEqual(back.padTokenId, config.padTokenId, "\(type)")
            XCTAssertEqual(back.initializerRange, config.initializerRange, "\(type)")
            XCTAssertEqual(back.embeddingSize, config.embeddingSize, "\(type)")
            XCTAssertEqual(back.hiddenDropoutProb, config.hiddenDropoutProb, "\(type)")
            XCTAssertEqual(back.attentionProbsDropoutProb, config.attentionProbsDropoutProb, "\(type)")
            XCTAssertEqual(back.classifierDropout, 0.25, "\(type): classifier dropout survives save")
            XCTAssertEqual(back.numLabels, 3, "\(type)")
        }
    }

    /// HF allows repeated label names; saving such a config keeps id2label and maps the name to its first id.
    func testRepeatedLabelNamesSaveWithoutCrashing() throws {
        let model = tinyModel(.bert, kind: .classification)
        model.config.id2label = [0: "same", 1: "same"]
        let directory = try temporaryDirectory(self)
        try model.save(to: directory)
        let json = try readJSONObject(directory.appendingPathComponent("config.json"))
        XCTAssertEqual(json["id2label"] as? [String: String], ["0": "same", "1": "same"])
        XCTAssertEqual((json["label2id"] as? [String: Any])?.mapValues { ($0 as? NSNumber)?.intValue }, ["same": 0])
    }

    /// The saved key names and shapes equal those of the transformers-written fixture checkpoints
    /// (same config), so a checkpoint saved here loads in transformers without renaming.
    func testSavedKeysMatchTransformersCheckpoints() throws {
        for name in ["tiny-bert", "tiny-roberta", "tiny-albert"] {
            let fixture = try Fixture(name)
            let config = try ModelConfiguration(contentsOf: fixture.directory.appendingPathComponent("config.json"))
            let model = TransformerClassifier(config: config, kind: .classification)
            model.initializeWeights(seed: 1)
            let directory = try temporaryDirectory(self).appendingPathComponent(name)
            try model.save(to: directory)
            let ours = try SafetensorsFile(url: directory.appendingPathComponent("model.safetensors"))
            let theirs = try SafetensorsFile(url: fixture.directory.appendingPathComponent("model.safetensors"))
            XCTAssertEqual(ours.names, theirs.names, "\(name): key names")
            XCTAssertEqual(ours.tensorInfos.map(\.shape), theirs.tensorInfos.map(\.shape), "\(name): shapes")
            XCTAssertEqual(ours.metadata, ["format": "pt"], "\(name): metadata")
        }
    }
}
