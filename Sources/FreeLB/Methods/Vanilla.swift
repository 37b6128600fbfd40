// Vanilla fine-tuning: one forward, one backward, one update, fresh dropout masks.
import FreeLBModels
import FreeLBTensor

public struct VanillaStep: TrainingStep {
    public var name: String { "vanilla" }
    public var passesPerBatch: Int { 1 }
    public init() {}

    public func step(_ microBatches: [TrainingBatch], state: TrainingState) -> StepResult {
        let model = state.model
        model.zeroGrad()
        var losses: [Float] = []
        for batch in microBatches {
            state.beginMicroBatch(batch)
            losses.append(Self.cleanPass(batch, state: state, scale: 1 / Float(microBatches.count)))
        }
        state.updateOnce()
        return StepResult(passLosses: losses)
    }

    /// Forward + backward(loss · scale) at δ = 0; returns the unscaled loss.
    static func cleanPass(_ batch: TrainingBatch, state: TrainingState, scale: Float) -> Float {
        state.model.dropoutController.beginPass()
        let loss = state.lossAt(batch, delta: nil)
        let value = loss.item
        state.trace?.losses.append(value)
        loss.scaled(by: scale).backward()
        return value
    }
}
