// Task heads over an encoder, with the layouts of transformers' *ForSequenceClassification and
// *ForMultipleChoice: BERT/ALBERT pooler → dropout → Linear; RoBERTa dense → tanh → out_proj on <s>.
import FreeLBNN
import FreeLBTensor

public enum TaskKind: String, Sendable, Codable {
    case classification, regression, multipleChoice = "multiple_choice"
}

/// Labels of a batch: class ids (classification, multiple choice) or targets (regression).
public enum Labels {
    case classes([Int32])
    case targets([Float])
}

public struct ModelOutput {
    /// [B, numLabels] (classification), [B, 1] (regression) or [B, C] (multiple choice)
    public var logits: Tensor
    public var encoder: EncoderOutput
    /// Pooled / head features before the final projection, [N, H].
    public var pooled: Tensor?
}

/// An encoder with a task head. Parameter names are the HF ones, e.g. `bert.encoder.layer.0.…`,
/// `classifier.weight` (BERT/ALBERT) or `classifier.dense.weight` / `classifier.out_proj.weight` (RoBERTa).
public final class TransformerClassifier: Module {
    public var config: ModelConfiguration
    /// True when the last checkpoint loaded had no task head, so the head is freshly initialised (untrained).
    public internal(set) var headIsNew = false
    public let kind: TaskKind
    public let encoder: Encoder
    public let dropoutController: DropoutController
    /// BERT/ALBERT: Linear(H, labels); RoBERTa sequence classification: out_proj.
    public let classifier: Linear
    /// RoBERTa sequence classification only: classifier.dense.
    public let classifierDense: Linear?
    let headDropout: Dropout

    public init(config: ModelConfiguration, kind: TaskKind, seed: UInt64 = 0) {
        var config = config
        if kind == .regression {
            config.numLabels = 1; config.id2label = [0: config.id2label[0] ?? "LABEL_0"]; config.problemType = "regression"
        }
        self.config = config
        self.kind = kind
        dropoutController = DropoutController(seed: seed ^ 0xD50D_0A7C)
        let robertaSequence = config.modelType.isRoberta && kind != .multipleChoice
        encoder = Encoder(config, controller: dropoutController, withPooler: !robertaSequence)
        let outputs = kind == .multipleChoice ? 1 : config.numLabels
        classifierDense = robertaSequence ? Linear(config.hiddenSize, config.hiddenSize) : nil
        classifier = Linear(config.hiddenSize, outputs)
        headDropout = Dropout(
            config.classifierDropout ?? config.hiddenDropoutProb, key: "classifier.dropout",
            controller: dropoutController)
    }

    public override var children: [(String, Module)] {
        var result: [(String, Module)] = [(config.modelType.prefix, encoder)]
        if let classifierDense {
            result += [("classifier.dense", classifierDense), ("classifier.out_proj", classifier)]
        } else {
            result.append(("classifier", classifier))
        }
        result.append(("_head_dropout", headDropout))
        return result
    }

    /// The HF class name written to config.json.
    public var architecture: String {
        let base = config.modelType.className
        return base + (kind == .multipleChoice ? "ForMultipleChoice" : "ForSequenceClassification")
    }

    /// HF-style random initialisation: N(0, initializer_range) weights, zero biases, unit LayerNorms,
    /// zero padding rows.
    public func initializeWeights(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        for (name, p) in namedParameters() {
            if name.hasSuffix("LayerNorm.weight") || name.hasSuffix("layer_norm.weight") {
                p.fill(1)
            } else if name.hasSuffix("bias") {
                p.fill(0)
            } else {
                p.copy(from: Tensor.normal(p.shape, std: config.initializerRange, generator: &generator))
            }
        }
        let pad = config.padTokenId
        for table in [encoder.embeddings.wordEmbeddings]
            + (config.modelType.isRoberta ? [encoder.embeddings.positionEmbeddings] : [])
        {
            let width = table.weight.shape[1]
            if pad < table.weight.shape[0] { (table.weight.data + pad * width).initialize(repeating: 0, count: width) }
        }
    }

    /// Logits from the encoder output.
    public func head(_ lastHidden: Tensor) -> (logits: Tensor, pooled: Tensor) {
        if let classifierDense {  // RoBERTa: dropout → dense → tanh → dropout → out_proj on <s>
            let features = headDropout(lastHidden.select(axis: 1, index: 0))
            let pooled = classifierDense(features).tanh()
            return (classifier(headDropout(pooled)), pooled)
        }
        let pooled = encoder.pool(lastHidden)
        return (classifier(headDropout(pooled)), pooled)
    }

    /// Forward pass. `delta` has the shape of the word-embedding output ([B, T, d], or [B, C, T, d]).
    public func callAsFunction(_ input: EncoderInput, perturbation delta: Tensor? = nil) -> ModelOutput {
        let encoded = encoder(input, perturbation: delta)
        return finish(input, encoded)
    }

    /// Head + reshape for multiple choice, given the encoder output.
    public func finish(_ input: EncoderInput, _ encoded: EncoderOutput) -> ModelOutput {
        let (logits, pooled) = head(encoded.lastHiddenState)
        if kind == .multipleChoice {
            var choices = logits.reshaped([input.shape[0], input.shape[1]])
            if let mask = input.choiceMask, mask.contains(0) {  // filler choices can never win
                choices = choices + Tensor(shape: choices.shape, values: mask.map { $0 != 0 ? 0 : -1e9 })
            }
            return ModelOutput(logits: choices, encoder: encoded, pooled: pooled)
        }
        return ModelOutput(logits: logits, encoder: encoded, pooled: pooled)
    }

    /// Mean cross-entropy (classification, multiple choice) or MSE (regression) → scalar.
    public func loss(_ logits: Tensor, _ labels: Labels) -> Tensor {
        switch (kind, labels) {
        case (.regression, .targets(let t)): return logits.meanSquaredError(target: t)
        case (.regression, .classes(let c)): return logits.meanSquaredError(target: c.map(Float.init))
        case (_, .classes(let c)): return logits.crossEntropy(labels: c)
        case (_, .targets(let t)): return logits.crossEntropy(labels: t.map { Int32($0) })
        }
    }

    /// The word-embedding output's shape for an input: δ has this shape.
    public func perturbationShape(_ input: EncoderInput) -> [Int] { input.shape + [config.embeddingSize] }
}

extension TransformerClassifier {
    /// Checks that a batch fits this model (ids within the vocabulary, token types, sequence length),
    /// so bad input becomes an error instead of a crash inside the embedding gather.
    public func validate(_ input: EncoderInput) throws {
        if let bad = input.inputIds.first(where: { $0 < 0 || Int($0) >= config.vocabSize }) {
            throw CheckpointError(
                description:
                    "input id \(bad) is outside the model's vocabulary of \(config.vocabSize) (tokenizer and model do not match?)"
            )
        }
        if let bad = input.tokenTypeIds.first(where: { $0 < 0 || Int($0) >= config.typeVocabSize }) {
            throw CheckpointError(description: "token type id \(bad) is outside type_vocab_size \(config.typeVocabSize)")
        }
        let limit =
            config.modelType.isRoberta ? config.maxPositionEmbeddings - config.padTokenId - 1 : config.maxPositionEmbeddings
        if input.length > limit {
            throw CheckpointError(
                description: "sequence length \(input.length) exceeds the model's \(limit) positions; lower --max-seq-length")
        }
    }
}
