// FreeLB-K (docs/method.md §4): K forward/backward passes per batch, each backpropagating loss/K so that the
// parameter gradients accumulate; δ takes a normalised ascent step between passes and is projected
// onto the ε-ball; one optimizer update after the K passes.
import FreeLBModels
import FreeLBTensor

public struct FreeLBStep: TrainingStep {
    public var perturbation: PerturbationConfig
    /// K: forward/backward passes (the paper's FreeLB-K; fairseq's `--adv-steps N` means K = N+1).
    public var steps: Int
    /// Reuse dropout masks across the K passes (paper §3.3).
    public var reuseDropoutMask: Bool
    /// Optimizer steps trained vanilla before adversarial training starts (`adv-begin-step`).
    public var beginStep: Int
    /// Adds one clean pass first (K+1 passes, loss/(K+1)).
    public var cleanPass: Bool

    /// Throws `MethodConfigurationError` unless steps ≥ 1.
    public init(perturbation: PerturbationConfig, steps: Int, reuseDropoutMask: Bool = true,
                beginStep: Int = 0, cleanPass: Bool = false) throws {
        guard steps >= 1 else {
            throw MethodConfigurationError.outOfRange(method: "freelb", parameter: "steps", value: Double(steps), allowed: "≥ 1")
        }
        self.perturbation = perturbation
        self.steps = steps
        self.reuseDropoutMask = reuseDropoutMask
        self.beginStep = beginStep
        self.cleanPass = cleanPass
    }

    public var name: String { "freelb" }
    public var passesPerBatch: Int { steps + (cleanPass ? 1 : 0) }

    public func step(_ microBatches: [TrainingBatch], state: TrainingState) -> StepResult {
        guard state.globalStep >= beginStep else { return VanillaStep().step(microBatches, state: state) }
        let model = state.model
        let dropout = model.dropoutController
        dropout.reuseMasks = reuseDropoutMask
        let accumulation = Float(microBatches.count)
        let scale = 1 / (Float(passesPerBatch) * accumulation)          // each pass backpropagates loss/K
        var losses: [Float] = []
        model.zeroGrad()
        for batch in microBatches {                                     // each micro-batch has its own δ
            dropout.beginBatch()                                        // masks sampled on the first pass
            let mask = PerturbationMask(batch.input, width: model.config.embeddingSize)
            var delta = state.initialPerturbation(batch.input, mask: mask, config: perturbation)   // δ0 = init(μ)
            if cleanPass { losses.append(VanillaStep.cleanPass(batch, state: state, scale: scale)) }
            for t in 0..<steps {
                dropout.beginPass()
                let leaf = delta.detachedCopy(requiresGrad: true)
                state.trace?.deltas.append(leaf.detachedCopy())
                let loss = state.lossAt(batch, delta: leaf)             // E recomputed: fresh graph every pass
                losses.append(loss.item)
                state.trace?.losses.append(loss.item)
                loss.scaled(by: scale).backward()                       // parameter grads ACCUMULATE
                guard let g = leaf.grad else { break }
                state.trace?.deltaGradients.append(g.detachedCopy())
                if t == steps - 1 {                                    // the last δ gradient is not used
                    state.trace?.deltas.append(Perturbation.ascend(leaf, gradient: g, mask: mask, config: perturbation))
                    break
                }
                delta = Perturbation.ascend(leaf, gradient: g, mask: mask, config: perturbation)
            }
        }
        state.updateOnce()                                              // ONE parameter update per batch
        return StepResult(passLosses: losses)
    }
}
