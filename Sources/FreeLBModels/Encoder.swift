// BERT / RoBERTa / ALBERT encoders. Parameter paths equal the Hugging Face keys (without the
// "bert." / "roberta." / "albert." prefix, which the task models add).
import FreeLBNN
import FreeLBTensor

/// A tokenized batch: [B, T] (or [B, C, T] for multiple choice, flattened to [B·C, T] by the encoder).
public struct EncoderInput {
    public var inputIds: [Int32]
    public var tokenTypeIds: [Int32]
    public var attentionMask: [Int32]
    /// [B, T] or [B, C, T]
    public var shape: [Int]
    /// Multiple choice: [B, C], 0 for filler choices of questions with fewer than C choices.
    public var choiceMask: [Int32]?

    public init(inputIds: [Int32], tokenTypeIds: [Int32]? = nil, attentionMask: [Int32]? = nil, shape: [Int]) {
        precondition(inputIds.count == shape.reduce(1, *), "EncoderInput: \(inputIds.count) ids for shape \(shape)")
        self.inputIds = inputIds
        self.tokenTypeIds = tokenTypeIds ?? Array(repeating: 0, count: inputIds.count)
        self.attentionMask = attentionMask ?? Array(repeating: 1, count: inputIds.count)
        self.shape = shape
    }

    public var length: Int { shape[shape.count - 1] }
    /// Sequences after flattening choices.
    public var sequences: Int { inputIds.count / length }
}

public let maskedScore: Float = -Float.greatestFiniteMagnitude  // torch.finfo(float32).min

public final class Embeddings: Module {
    public let config: ModelConfiguration
    public let wordEmbeddings: Embedding
    public let positionEmbeddings: Embedding
    public let tokenTypeEmbeddings: Embedding
    public let layerNorm: LayerNorm
    public let dropout: Dropout

    init(_ config: ModelConfiguration, controller: DropoutController, path: String) {
        self.config = config
        let roberta = config.modelType.isRoberta
        wordEmbeddings = Embedding(config.vocabSize, config.embeddingSize, paddingIndex: config.padTokenId)
        positionEmbeddings = Embedding(
            config.maxPositionEmbeddings, config.embeddingSize,
            paddingIndex: roberta ? config.padTokenId : nil)
        tokenTypeEmbeddings = Embedding(config.typeVocabSize, config.embeddingSize)
        layerNorm = LayerNorm(config.embeddingSize, eps: config.layerNormEps)
        dropout = Dropout(config.hiddenDropoutProb, key: path + ".dropout", controller: controller)
    }

    public override var children: [(String, Module)] {
        [
            ("word_embeddings", wordEmbeddings), ("position_embeddings", positionEmbeddings),
            ("token_type_embeddings", tokenTypeEmbeddings), ("LayerNorm", layerNorm), ("dropout", dropout)
        ]
    }

    /// Position ids: 0..T−1 (BERT, ALBERT); RoBERTa counts non-pad tokens from pad+1, pads get pad.
    public func positionIds(_ input: EncoderInput) -> [Int32] {
        let t = input.length
        var ids = [Int32](repeating: 0, count: input.inputIds.count)
        for s in 0..<input.sequences {
            var running: Int32 = 0
            for j in 0..<t {
                if config.modelType.isRoberta {
                    let pad = Int32(config.padTokenId)
                    if input.inputIds[s * t + j] != pad {
                        running += 1; ids[s * t + j] = running + pad
                    } else {
                        ids[s * t + j] = pad
                    }
                } else {
                    ids[s * t + j] = Int32(j)
                }
            }
        }
        return ids
    }

    /// E = word_embeddings(ids), [N, T, d]: the tensor FreeLB perturbs.
    public func wordEmbeddingOutput(_ input: EncoderInput) -> Tensor {
        wordEmbeddings(input.inputIds, shape: [input.sequences, input.length])
    }

    /// LayerNorm(E (+ δ) + position + token type), then dropout → [N, T, d].
    public func callAsFunction(_ input: EncoderInput, wordEmbeddings e: Tensor) -> Tensor {
        let shape = [input.sequences, input.length]
        let positions = positionEmbeddings(positionIds(input), shape: shape)
        let types = tokenTypeEmbeddings(input.tokenTypeIds, shape: shape)
        return dropout(layerNorm(e + positions + types))
    }
}

/// One transformer block. Its child names follow BERT (`attention.self.query`, …) or ALBERT
/// (`attention.query`, `ffn`, `full_layer_layer_norm`, …).
public final class TransformerLayer: Module {
    let albert: Bool
    let heads: Int
    let activation: Activation
    public let query: Linear, key: Linear, value: Linear
    public let attentionDense: Linear
    public let attentionLayerNorm: LayerNorm
    public let intermediate: Linear
    public let output: Linear
    public let outputLayerNorm: LayerNorm
    let attentionDropout: Dropout, attentionOutputDropout: Dropout, outputDropout: Dropout

    init(_ config: ModelConfiguration, controller: DropoutController, path: String) {
        albert = config.modelType == .albert
        heads = config.numAttentionHeads
        activation = config.hiddenAct
        let h = config.hiddenSize
        query = Linear(h, h); key = Linear(h, h); value = Linear(h, h)
        attentionDense = Linear(h, h)
        attentionLayerNorm = LayerNorm(h, eps: config.layerNormEps)
        intermediate = Linear(h, config.intermediateSize)
        output = Linear(config.intermediateSize, h)
        outputLayerNorm = LayerNorm(h, eps: config.layerNormEps)
        attentionDropout = Dropout(config.attentionProbsDropoutProb, key: path + ".attention.dropout", controller: controller)
        attentionOutputDropout = Dropout(
            config.hiddenDropoutProb, key: path + ".attention.output.dropout", controller: controller)
        outputDropout = Dropout(config.hiddenDropoutProb, key: path + ".output.dropout", controller: controller)
    }

    public override var children: [(String, Module)] {
        if albert {
            return [
                ("attention.query", query), ("attention.key", key), ("attention.value", value),
                ("attention.dense", attentionDense), ("attention.LayerNorm", attentionLayerNorm),
                ("ffn", intermediate), ("ffn_output", output), ("full_layer_layer_norm", outputLayerNorm),
                ("_dropouts", DropoutGroup([attentionDropout, attentionOutputDropout, outputDropout]))
            ]
        }
        return [
            ("attention.self.query", query), ("attention.self.key", key), ("attention.self.value", value),
            ("attention.output.dense", attentionDense), ("attention.output.LayerNorm", attentionLayerNorm),
            ("intermediate.dense", intermediate), ("output.dense", output), ("output.LayerNorm", outputLayerNorm),
            ("_dropouts", DropoutGroup([attentionDropout, attentionOutputDropout, outputDropout]))
        ]
    }

    /// x [N, T, H], keyMask additive [N, T] → ([N, T, H], attention probabilities [N, heads, T, T]).
    public func callAsFunction(_ x: Tensor, keyMask: Tensor) -> (Tensor, Tensor) {
        let (n, t) = (x.shape[0], x.shape[1])
        let attention = multiHeadAttention(
            query: query(x), key: key(x), value: value(x), heads: heads, keyMask: keyMask,
            dropout: attentionDropout.mask(shape: [n, heads, t, t]))
        let attended = attentionLayerNorm(attentionOutputDropout(attentionDense(attention.context)) + x)
        let inner: Tensor
        switch activation {
        case .gelu: inner = intermediate(attended).gelu()
        case .geluTanh: inner = intermediate(attended).geluTanh()
        case .relu: inner = intermediate(attended).relu()
        }
        return (outputLayerNorm(outputDropout(output(inner)) + attended), attention.probabilities)
    }
}

/// Holds dropout layers so that train()/eval() reaches them; owns no parameters.
final class DropoutGroup: Module {
    let layers: [Dropout]
    init(_ layers: [Dropout]) { self.layers = layers }
    override var children: [(String, Module)] { layers.enumerated().map { ("\($0.offset)", $0.element) } }
}

public struct EncoderOutput {
    /// E, [N, T, d]
    public var wordEmbeddings: Tensor
    /// Embedding LayerNorm output, [N, T, d] (for ALBERT before the projection to H).
    public var embeddingOutput: Tensor
    /// hidden_states.0 … L as HF returns them: the first layer's input, then every layer output, [N, T, H].
    public var hiddenStates: [Tensor]
    public var attentions: [Tensor]
    /// Last layer output [N, T, H].
    public var lastHiddenState: Tensor { hiddenStates[hiddenStates.count - 1] }

    public init(wordEmbeddings: Tensor, embeddingOutput: Tensor, hiddenStates: [Tensor], attentions: [Tensor]) {
        self.wordEmbeddings = wordEmbeddings
        self.embeddingOutput = embeddingOutput
        self.hiddenStates = hiddenStates
        self.attentions = attentions
    }
}

/// Embeddings + layers (+ pooler): HF BertModel / RobertaModel / AlbertModel.
public final class Encoder: Module {
    public let config: ModelConfiguration
    public let embeddings: Embeddings
    /// ALBERT's projection from embedding_size to hidden_size.
    public let embeddingProjection: Linear?
    public let layers: [TransformerLayer]
    public let pooler: Linear?

    public init(_ config: ModelConfiguration, controller: DropoutController, withPooler: Bool) {
        self.config = config
        embeddings = Embeddings(config, controller: controller, path: "embeddings")
        if config.modelType == .albert {
            embeddingProjection = Linear(config.embeddingSize, config.hiddenSize)
            layers = (0..<config.numHiddenGroups).map {
                TransformerLayer(config, controller: controller, path: "encoder.albert_layer_groups.\($0).albert_layers.0")
            }
        } else {
            embeddingProjection = nil
            layers = (0..<config.numHiddenLayers).map {
                TransformerLayer(config, controller: controller, path: "encoder.layer.\($0)")
            }
        }
        pooler = withPooler ? Linear(config.hiddenSize, config.hiddenSize) : nil
    }

    public override var children: [(String, Module)] {
        var result: [(String, Module)] = [("embeddings", embeddings)]
        if let embeddingProjection { result.append(("encoder.embedding_hidden_mapping_in", embeddingProjection)) }
        if config.modelType == .albert {
            for (g, layer) in layers.enumerated() { result.append(("encoder.albert_layer_groups.\(g).albert_layers.0", layer)) }
        } else {
            for (i, layer) in layers.enumerated() { result.append(("encoder.layer.\(i)", layer)) }
        }
        if let pooler {
            result.append((config.modelType == .albert ? "pooler" : "pooler.dense", pooler))
        }
        return result
    }

    /// The layer module applied at depth `index` (ALBERT shares layers across depth).
    public func layer(at index: Int) -> TransformerLayer {
        config.modelType == .albert ? layers[index * config.numHiddenGroups / config.numHiddenLayers] : layers[index]
    }

    public var depth: Int { config.numHiddenLayers }

    /// Additive key mask [N, T]: 0 for real tokens, finfo.min for padding.
    public func keyMask(_ input: EncoderInput) -> Tensor {
        Tensor(shape: [input.sequences, input.length], values: input.attentionMask.map { $0 != 0 ? 0 : maskedScore })
    }

    /// Embedding stage: LayerNorm(E + δ + pos + type) (ALBERT: then the projection) → layer input [N, T, H].
    public func embed(_ input: EncoderInput, wordEmbeddings e: Tensor, perturbation delta: Tensor?) -> Tensor {
        embedStages(input, wordEmbeddings: e, perturbation: delta).layerInput
    }

    func embedStages(_ input: EncoderInput, wordEmbeddings e: Tensor, perturbation delta: Tensor?) -> (
        embeddingOutput: Tensor, layerInput: Tensor
    ) {
        let perturbed = delta.map { e + $0.reshaped(e.shape) } ?? e
        let x = embeddings(input, wordEmbeddings: perturbed)
        return (x, embeddingProjection.map { $0(x) } ?? x)
    }

    /// Runs layers `range` on x.
    public func runLayers(
        _ x: Tensor, keyMask: Tensor, range: Range<Int>, attentions: inout [Tensor], hiddenStates: inout [Tensor]
    ) -> Tensor {
        var h = x
        for i in range {
            let (next, probs) = layer(at: i)(h, keyMask: keyMask)
            h = next
            attentions.append(probs)
            hiddenStates.append(h)
        }
        return h
    }

    /// Full encoder. δ (if any) has E's shape ([N, T, d], or [B, C, T, d] for multiple choice).
    public func callAsFunction(_ input: EncoderInput, perturbation delta: Tensor? = nil) -> EncoderOutput {
        let e = embeddings.wordEmbeddingOutput(input)
        let (embedded, x) = embedStages(input, wordEmbeddings: e, perturbation: delta)
        var attentions: [Tensor] = [], hidden: [Tensor] = [x]
        _ = runLayers(x, keyMask: keyMask(input), range: 0..<depth, attentions: &attentions, hiddenStates: &hidden)
        return EncoderOutput(wordEmbeddings: e, embeddingOutput: embedded, hiddenStates: hidden, attentions: attentions)
    }

    /// tanh(pooler(h[:, 0])) → [N, H]
    public func pool(_ lastHidden: Tensor) -> Tensor {
        guard let pooler else { preconditionFailure("this encoder has no pooler") }
        return pooler(lastHidden.select(axis: 1, index: 0)).tanh()
    }
}
