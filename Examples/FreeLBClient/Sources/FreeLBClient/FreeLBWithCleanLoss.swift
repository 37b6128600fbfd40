import FreeLB
import FreeLBModels
import FreeLBTensor

/// FreeLB-K plus the clean loss with weight λ: ∇[λ·L(θ, 0) + (1/K) Σ_k L(θ, δ_k)], one update.
struct FreeLBWithCleanLoss: TrainingStep {
    var perturbation: PerturbationConfig
    var steps: Int  // K adversarial passes
    var cleanWeight: Float  // λ
    var name: String { "freelb+clean" }
    var passesPerBatch: Int { steps + 1 }

    func step(_ microBatches: [TrainingBatch], state: TrainingState) -> StepResult {
        let model = state.model, dropout = model.dropoutController
        dropout.reuseMasks = true
        let share = 1 / Float(microBatches.count)
        var losses: [Float] = []
        model.zeroGrad()
        for batch in microBatches {
            dropout.beginBatch()
            dropout.beginPass()
            let clean = state.lossAt(batch, delta: nil)
            losses.append(clean.item)
            clean.scaled(by: cleanWeight * share).backward()
            let mask = PerturbationMask(batch.input, width: model.config.embeddingSize)
            var delta = state.initialPerturbation(batch.input, mask: mask, config: perturbation)
            for pass in 0..<steps {
                dropout.beginPass()
                let leaf = delta.detachedCopy(requiresGrad: true)
                let loss = state.lossAt(batch, delta: leaf)
                losses.append(loss.item)
                loss.scaled(by: share / Float(steps)).backward()
                guard pass < steps - 1, let g = leaf.grad else { break }
                delta = Perturbation.ascend(leaf, gradient: g, mask: mask, config: perturbation)
            }
        }
        state.updateOnce()
        return StepResult(passLosses: losses)
    }
}
