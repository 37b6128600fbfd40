// The random-perturbation control (docs/method.md §10): exactly FreeLB-K's compute (K forward/backward
// passes on loss/K, dropout masks reused, one update), but each pass draws a fresh δ of L2 norm ε
// per example in a uniformly random direction, and δ takes no ascent step. FreeLB against this
// control isolates the effect of the adversarial direction.
import FreeLBModels
import FreeLBTensor

public struct RandomPerturbationStep: TrainingStep {
    /// ε: the exact per-example L2 norm of every δ (over an example's real tokens; all choices jointly
    /// for multiple choice).
    public var radius: Float
    /// K: forward/backward passes per batch.
    public var steps: Int
    public var reuseDropoutMask: Bool

    public init(radius: Float, steps: Int, reuseDropoutMask: Bool = true) {
        (self.radius, self.steps, self.reuseDropoutMask) = (radius, steps, reuseDropoutMask)
    }

    public var name: String { "random" }
    public var passesPerBatch: Int { steps }

    public func step(_ microBatches: [TrainingBatch], state: TrainingState) -> StepResult {
        let model = state.model
        let scale = 1 / (Float(steps) * Float(microBatches.count))  // each pass backpropagates loss/K
        var losses: [Float] = []
        state.forEachMicroBatch(microBatches, reuseDropoutMask: reuseDropoutMask) { batch, mask in
            for _ in 0..<steps {
                model.dropoutController.beginPass()
                let delta = state.randomPerturbation(batch.input, mask: mask, radius: radius)
                state.trace?.deltas.append(delta.detachedCopy())
                let loss = state.lossAt(batch, delta: delta)  // no δ gradient: no ascent
                losses.append(loss.item)
                state.trace?.losses.append(loss.item)
                loss.scaled(by: scale).backward()  // parameter grads ACCUMULATE
            }
        }
        state.updateOnce()
        return StepResult(passLosses: losses)
    }
}
