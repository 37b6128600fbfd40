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
    public init(
        perturbation: PerturbationConfig, steps: Int, reuseDropoutMask: Bool = true,
        beginStep: Int = 0, cleanPass: Bool = false
    ) throws {
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
        let scale = 1 / (Float(passesPerBatch) * Float(microBatches.count))  // each pass backpropagates loss/K
        var losses: [Float] = []
        state.forEachMicroBatch(microBatches, reuseDropoutMask: reuseDropoutMask) { batch, mask in
            var delta = state.initialPerturbation(batch.input, mask: mask, config: perturbation)  // δ0 = init(μ)
            if cleanPass { losses.append(VanillaStep.cleanPass(batch, state: state, scale: scale)) }
            for t in 0..<steps {
                state.model.dropoutController.beginPass()
                let pass = state.passWithDeltaGradient(batch, delta: delta) { loss, _ in
                    loss.scaled(by: scale).backward()  // parameter grads ACCUMULATE
                }
                losses.append(pass.loss)
                guard let g = pass.gradient else { break }
                if t == steps - 1 {  // the last δ gradient is not used
                    state.trace?.deltas.append(Perturbation.ascend(pass.leaf, gradient: g, mask: mask, config: perturbation))
                    break
                }
                delta = Perturbation.ascend(pass.leaf, gradient: g, mask: mask, config: perturbation)
            }
        }
        state.updateOnce()  // ONE parameter update per batch
        return StepResult(passLosses: losses)
    }
}
