// PGD-K (docs/method.md §9): K ascent passes that only compute δ's gradient, then one descent pass at δ_K
// whose (undivided) loss gives the parameter gradients. K+1 forward/backward passes, masks reused.
import FreeLBModels
import FreeLBTensor

public struct PGDStep: TrainingStep {
    public var perturbation: PerturbationConfig
    /// K: ascent steps (K+1 passes).
    public var steps: Int
    public var reuseDropoutMask: Bool

    public init(perturbation: PerturbationConfig, steps: Int, reuseDropoutMask: Bool = true) {
        (self.perturbation, self.steps, self.reuseDropoutMask) = (perturbation, steps, reuseDropoutMask)
    }

    public var name: String { "pgd" }
    public var passesPerBatch: Int { steps + 1 }

    public func step(_ microBatches: [TrainingBatch], state: TrainingState) -> StepResult {
        let dropout = state.model.dropoutController
        var losses: [Float] = []
        state.forEachMicroBatch(microBatches, reuseDropoutMask: reuseDropoutMask) { batch, mask in
            var delta = state.initialPerturbation(batch.input, mask: mask, config: perturbation)
            for _ in 0..<steps {
                dropout.beginPass()
                let pass = state.passWithDeltaGradient(batch, delta: delta) { loss, leaf in
                    loss.backward(onlyInto: [leaf])  // δ gradient only
                }
                guard let g = pass.gradient else { break }
                delta = Perturbation.ascend(pass.leaf, gradient: g, mask: mask, config: perturbation)
            }
            dropout.beginPass()
            state.trace?.deltas.append(delta.detachedCopy())
            let loss = state.lossAt(batch, delta: delta)  // descent at δ_K, loss not divided by K
            losses.append(loss.item)
            state.trace?.losses.append(loss.item)
            loss.scaled(by: 1 / Float(microBatches.count)).backward()
        }
        state.updateOnce()
        return StepResult(passLosses: losses)
    }
}
