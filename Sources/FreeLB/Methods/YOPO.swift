// YOPO-K-M (docs/method.md §9): full passes at δ_0 … δ_K with loss/(K+1), accumulating parameter gradients;
// between them M cheap ascent steps that run only the embeddings and the first layer, using the
// slope p = ∂loss/∂h0 of the last full pass: δ ← ascent on Σ(layer0(embed(E + δ)) ⊙ p). One update.
import FreeLBModels
import FreeLBTensor

public struct YOPOStep: TrainingStep {
    public var perturbation: PerturbationConfig
    /// K: outer steps (K+1 full passes).
    public var steps: Int
    /// M: cheap inner steps per outer step.
    public var innerSteps: Int
    public var reuseDropoutMask: Bool

    /// Throws `MethodConfigurationError` unless initMagnitude > 0 (δ0 must not be zero: the slope p of a
    /// full pass at δ = 0 drives the cheap steps).
    public init(perturbation: PerturbationConfig, steps: Int, innerSteps: Int, reuseDropoutMask: Bool = true) throws {
        guard perturbation.initMagnitude > 0 else {
            throw MethodConfigurationError.outOfRange(
                method: "yopo", parameter: "initMagnitude",
                value: Double(perturbation.initMagnitude), allowed: "> 0")
        }
        (self.perturbation, self.steps) = (perturbation, steps)
        (self.innerSteps, self.reuseDropoutMask) = (innerSteps, reuseDropoutMask)
    }

    public var name: String { "yopo" }
    public var passesPerBatch: Int { steps + 1 }

    public func step(_ microBatches: [TrainingBatch], state: TrainingState) -> StepResult {
        let model = state.model
        let dropout = model.dropoutController
        let scale = 1 / (Float(steps + 1) * Float(microBatches.count))
        var losses: [Float] = []
        state.forEachMicroBatch(microBatches, reuseDropoutMask: reuseDropoutMask) { batch, mask in
            var delta = state.initialPerturbation(batch.input, mask: mask, config: perturbation)
            for t in 0...steps {
                dropout.beginPass()
                let (loss, slope) = fullPass(batch, delta: delta, scale: scale, state: state)
                losses.append(loss)
                state.trace?.losses.append(loss)
                if t == steps { break }
                for _ in 0..<innerSteps {  // cheap steps: embeddings + layer 0
                    dropout.beginPass()
                    let leaf = delta.detachedCopy(requiresGrad: true)
                    let h0 = firstLayer(batch.input, delta: leaf, model: model)
                    (h0 * slope).sum().backward(onlyInto: [leaf])
                    guard let g = leaf.grad else { break }
                    delta = Perturbation.ascend(leaf, gradient: g, mask: mask, config: perturbation)
                }
            }
        }
        state.updateOnce()
        return StepResult(passLosses: losses)
    }

    /// h0 = layer0(embed(E + δ)), [N, T, H]
    func firstLayer(_ input: EncoderInput, delta: Tensor, model: TransformerClassifier) -> Tensor {
        let encoder = model.encoder
        let x = encoder.embed(input, wordEmbeddings: encoder.embeddings.wordEmbeddingOutput(input), perturbation: delta)
        return encoder.layer(at: 0)(x, keyMask: encoder.keyMask(input)).0
    }

    /// Full forward/backward of loss·scale at δ, split at h0 so that p = ∂(loss·scale)/∂h0 is kept.
    /// Returns the unscaled loss and p.
    func fullPass(_ batch: TrainingBatch, delta: Tensor, scale: Float, state: TrainingState) -> (Float, Tensor) {
        let model = state.model
        let encoder = model.encoder
        let h0 = firstLayer(batch.input, delta: delta, model: model)
        let h0Leaf = h0.detached().requiringGrad()
        var attentions: [Tensor] = [], hidden: [Tensor] = []
        let top = encoder.runLayers(
            h0Leaf, keyMask: encoder.keyMask(batch.input), range: 1..<encoder.depth,
            attentions: &attentions, hiddenStates: &hidden)
        let logits = model.finish(
            batch.input,
            EncoderOutput(
                wordEmbeddings: h0, embeddingOutput: h0, hiddenStates: [top],
                attentions: [])
        ).logits
        let loss = state.noteLoss(batch.weighted(model.loss(logits, batch.labels)))
        let value = loss.item
        loss.scaled(by: scale).backward()  // parameters above layer 0, and p
        let slope = h0Leaf.grad ?? Tensor(zeros: h0.shape)
        h0.backward(gradient: slope)  // layer 0 and the embeddings
        return (value, slope)
    }
}
