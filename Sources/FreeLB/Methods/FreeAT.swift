// FreeAT-m (docs/method.md §9): m replays of the batch (`steps` = m); each replay's single backward gives both
// the parameter and the δ gradients, the optimizer steps after every replay, and δ is carried across replays.
// The LR schedule advances once per batch while AdamW's step counter advances m times.
import FreeLBModels
import FreeLBTensor

public struct FreeATStep: TrainingStep {
    public var perturbation: PerturbationConfig
    /// m: replays of the batch, each with an optimizer update.
    public var steps: Int

    public init(perturbation: PerturbationConfig, steps: Int) {
        (self.perturbation, self.steps) = (perturbation, steps)
    }

    public var name: String { "freeat" }
    public var passesPerBatch: Int { steps }

    public func step(_ microBatches: [TrainingBatch], state: TrainingState) -> StepResult {
        let model = state.model
        let masks = microBatches.map { PerturbationMask($0.input, width: model.config.embeddingSize) }
        var deltas = zip(microBatches, masks).map { state.initialPerturbation(for: $0, mask: $1, config: perturbation) }
        var losses: [Float] = []
        state.applySchedule()
        for _ in 0..<steps {
            model.zeroGrad()
            for (i, batch) in microBatches.enumerated() {
                state.beginMicroBatch(batch)  // fresh masks every replay
                let pass = state.passWithDeltaGradient(batch, delta: deltas[i]) { loss, _ in  // embeddings re-read from θ_t
                    loss.scaled(by: 1 / Float(microBatches.count)).backward()
                }
                losses.append(pass.loss)
                guard let g = pass.gradient else { continue }
                deltas[i] = Perturbation.ascend(pass.leaf, gradient: g, mask: masks[i], config: perturbation)
            }
            state.optimizerStep()  // an update after every replay
        }
        if let trace = state.trace, let last = deltas.last { trace.deltas.append(last.detachedCopy()) }
        state.globalStep += 1
        return StepResult(passLosses: losses)
    }
}
