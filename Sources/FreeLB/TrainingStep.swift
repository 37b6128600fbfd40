// The training-step abstraction: one implementation per method (vanilla, FreeLB, PGD, FreeAT, YOPO),
// all sharing the state they update (model, optimizer, schedule, δ's RNG).
import FreeLBModels
import FreeLBNN
import FreeLBTensor

/// One micro-batch: model input and labels.
public struct TrainingBatch {
    public var input: EncoderInput
    public var labels: Labels
    public init(input: EncoderInput, labels: Labels) {
        self.input = input
        self.labels = labels
    }
}

/// What a training step updates. The optimizer step count and the scheduler step count are separate,
/// because FreeAT makes m optimizer updates per batch while the schedule advances once.
public final class TrainingState {
    public let model: TransformerClassifier
    public let optimizer: Optimizer
    public var schedule: LinearWarmupDecay?
    /// Global gradient-norm clip (0 disables).
    public var maxGradNorm: Float
    /// Scheduler steps taken so far (= batches trained = `global_step` of run_glue).
    public var globalStep = 0
    /// RNG for δ initialisation, seeded from the run seed.
    public var perturbationGenerator: SeededGenerator
    /// Test hook: when set, δ0 comes from here instead of the RNG (the fixtures' `delta_init`).
    public var initialPerturbationOverride: ((EncoderInput) -> Tensor)?
    /// When set, steps record δ, δ gradients, losses and the gradients handed to the optimizer.
    public var trace: StepTrace?

    public init(model: TransformerClassifier, optimizer: Optimizer, schedule: LinearWarmupDecay? = nil,
                maxGradNorm: Float = 1.0, seed: UInt64 = 0) {
        self.model = model
        self.optimizer = optimizer
        self.schedule = schedule
        self.maxGradNorm = maxGradNorm
        perturbationGenerator = SeededGenerator(seed: seed ^ 0xDE17A)
    }

    /// Sets the rate for the current scheduler step.
    func applySchedule() {
        if let schedule { optimizer.learningRate = schedule.learningRate(atStep: globalStep) }
    }

    /// Clip, record, update. Does not advance the schedule.
    func optimizerStep() {
        let parameters = model.namedParameters()
        clipGradientNorm(parameters.map(\.1), maxNorm: maxGradNorm)
        trace?.recordGradients(parameters)
        optimizer.step(parameters)
    }

    /// The end of a batch for methods with one update: schedule, clip, step, advance the schedule.
    func updateOnce() {
        applySchedule()
        optimizerStep()
        globalStep += 1
    }

    /// δ0 for a micro-batch.
    func initialPerturbation(_ input: EncoderInput, mask: PerturbationMask, config: PerturbationConfig) -> Tensor {
        if let override = initialPerturbationOverride { return override(input) }
        return Perturbation.initial(shape: model.perturbationShape(input), mask: mask, config: config,
                                    generator: &perturbationGenerator)
    }
}

/// Diagnostics of one step, for tests and debugging.
public final class StepTrace {
    public var deltas: [Tensor] = []
    public var deltaGradients: [Tensor] = []
    public var losses: [Float] = []
    /// Gradients handed to each optimizer update (one entry per update; FreeAT has m).
    public var gradients: [[String: [Float]]] = []

    public init() {}

    func recordGradients(_ parameters: [(String, Tensor)]) {
        var copy: [String: [Float]] = [:]
        for (name, p) in parameters { copy[name] = p.grad?.scalars ?? Array(repeating: 0, count: p.count) }
        gradients.append(copy)
    }
}

public struct StepResult {
    /// Unscaled loss of every forward pass that produced parameter gradients, in order.
    public var passLosses: [Float]
    /// The loss reported for the batch (mean over passes).
    public var loss: Float { passLosses.isEmpty ? 0 : passLosses.reduce(0, +) / Float(passLosses.count) }
}

/// A training method: takes one batch (as micro-batches for gradient accumulation) and updates the state.
public protocol TrainingStep {
    var name: String { get }
    /// Forward/backward passes per micro-batch (for throughput accounting).
    var passesPerBatch: Int { get }
    func step(_ microBatches: [TrainingBatch], state: TrainingState) -> StepResult
}

extension TransformerClassifier {
    /// Forward + loss at δ (nil: clean).
    func lossAt(_ batch: TrainingBatch, delta: Tensor?) -> Tensor {
        loss(self(batch.input, perturbation: delta).logits, batch.labels)
    }
}
