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
    /// δ0 for every micro-batch instead of the configured random start (`PerturbationConfig.initMagnitude`):
    /// a tensor of `model.perturbationShape(input)` — zeros, a fixed start, a warm start from the last batch.
    public var customInitialPerturbation: ((EncoderInput) -> Tensor)?
    /// When set, steps record δ, δ gradients, losses and the gradients handed to the optimizer (tests).
    var trace: StepTrace?

    public init(
        model: TransformerClassifier, optimizer: Optimizer, schedule: LinearWarmupDecay? = nil,
        maxGradNorm: Float = 1.0, seed: UInt64 = 0
    ) {
        self.model = model
        self.optimizer = optimizer
        self.schedule = schedule
        self.maxGradNorm = maxGradNorm
        perturbationGenerator = SeededGenerator(seed: seed ^ 0xDE17A)
    }

    /// Sets the optimizer's rate for the current scheduler step.
    public func applySchedule() {
        if let schedule { optimizer.learningRate = schedule.learningRate(atStep: globalStep) }
    }

    /// The first NaN or infinite value met in the current batch (nil: none). An update that sees it
    /// is skipped; the caller decides whether to stop or go on (`Trainer`).
    public internal(set) var nonFinite: NonFiniteValue?
    /// Loss evaluations since `beginBatch()` (the pass a non-finite loss is reported at).
    var passesInBatch = 0

    /// Resets the per-batch non-finite record.
    func beginBatch() {
        nonFinite = nil
        passesInBatch = 0
    }

    /// Forward + loss at δ (nil: clean), a scalar to backpropagate; a non-finite loss is recorded with
    /// its pass (the update of this batch is then skipped).
    public func lossAt(_ batch: TrainingBatch, delta: Tensor?) -> Tensor {
        noteLoss(model.lossAt(batch, delta: delta))
    }

    /// Records `loss` if it is NaN or infinite; returns it.
    @discardableResult
    public func noteLoss(_ loss: Tensor) -> Tensor {
        passesInBatch += 1
        let value = loss.item
        if !value.isFinite && nonFinite == nil {
            nonFinite = NonFiniteValue(step: globalStep + 1, pass: passesInBatch, quantity: .loss, value: value)
        }
        return loss
    }

    /// Clip, record, update; does not advance the schedule (FreeAT calls it m times per batch). Skips the
    /// update after a non-finite loss or gradient norm, and records parameters the update made non-finite.
    public func optimizerStep() {
        guard nonFinite == nil else { return }
        let parameters = model.namedParameters()
        let norm = clipGradientNorm(parameters.map(\.1), maxGradNorm: maxGradNorm)
        guard norm.isFinite else {
            nonFinite = NonFiniteValue(step: globalStep + 1, pass: passesInBatch, quantity: .gradientNorm, value: norm)
            return
        }
        trace?.recordGradients(parameters)
        optimizer.step(parameters)
        if let (name, count) = parameters.lazy.map({ ($0.0, $0.1.nonFiniteCount) }).first(where: { $0.1 > 0 }) {
            nonFinite = NonFiniteValue(
                step: globalStep + 1, pass: passesInBatch, quantity: .parameters(name: name, count: count),
                value: .nan)
        }
    }

    /// The end of a batch for methods with one update: schedule, clip, step, advance the schedule.
    public func updateOnce() {
        applySchedule()
        optimizerStep()
        globalStep += 1
    }

    /// The frame of a step with one update per batch: dropout-mask reuse set, gradients zeroed, then for each
    /// micro-batch fresh dropout masks and `body(batch, mask)` (`mask`: the batch's real-token mask for δ).
    /// The update (`updateOnce`) is left to the caller.
    public func forEachMicroBatch(
        _ microBatches: [TrainingBatch], reuseDropoutMask: Bool,
        _ body: (TrainingBatch, PerturbationMask) -> Void
    ) {
        model.dropoutController.reuseMasks = reuseDropoutMask
        model.zeroGrad()
        for batch in microBatches {  // each micro-batch has its own δ
            model.dropoutController.beginBatch()  // masks sampled on the first pass
            body(batch, PerturbationMask(batch.input, width: model.config.embeddingSize))
        }
    }

    /// One pass at δ that also gives δ's gradient: the loss at a leaf copy of δ, `backward(loss, leaf)` (the
    /// caller chooses which gradients it fills), and the leaf's gradient (nil when the loss does not reach δ).
    /// δ, the loss and the gradient go to the trace.
    public func passWithDeltaGradient(
        _ batch: TrainingBatch, delta: Tensor,
        backward: (_ loss: Tensor, _ leaf: Tensor) -> Void
    )
        -> (loss: Float, leaf: Tensor, gradient: Tensor?)
    {
        let leaf = delta.detachedCopy(requiresGrad: true)
        trace?.deltas.append(leaf.detachedCopy())
        let loss = lossAt(batch, delta: leaf)  // E recomputed: fresh graph every pass
        trace?.losses.append(loss.item)
        backward(loss, leaf)
        if let g = leaf.grad { trace?.deltaGradients.append(g.detachedCopy()) }
        return (loss.item, leaf, leaf.grad)
    }

    /// δ0 for a micro-batch: `customInitialPerturbation`, else the random start of `config` (docs/method.md).
    public func initialPerturbation(_ input: EncoderInput, mask: PerturbationMask, config: PerturbationConfig) -> Tensor {
        if let custom = customInitialPerturbation { return custom(input) }
        return Perturbation.initial(
            shape: model.perturbationShape(input), mask: mask, config: config,
            generator: &perturbationGenerator)
    }
}

/// A NaN or infinite value found during training.
public struct NonFiniteValue: Equatable, CustomStringConvertible {
    public enum Quantity: Equatable {
        case loss, gradientNorm
        /// A parameter the optimizer update made non-finite (`count` elements); the update cannot be undone.
        case parameters(name: String, count: Int)
    }
    /// The optimizer step (1-based) and the forward pass within its batch (1-based).
    public var step: Int
    public var pass: Int
    public var quantity: Quantity
    public var value: Float

    /// Whether skipping the batch leaves the model intact (false once parameters are non-finite).
    public var isSkippable: Bool {
        if case .parameters = quantity { return false }
        return true
    }

    public var description: String {
        let shown = value.isNaN ? "NaN" : value > 0 ? "+infinity" : "-infinity"
        switch quantity {
        case .loss: return "the loss is \(shown) at step \(step), pass \(pass)"
        case .gradientNorm: return "the gradient norm is \(shown) at step \(step) (after \(pass) passes)"
        case let .parameters(name, count):
            return
                "the update of step \(step) made \(count) values of '\(name)' NaN or infinite (learning rate or weight decay too large?)"
        }
    }
}

/// Diagnostics of one step, for tests (`@testable import FreeLB`).
final class StepTrace {
    var deltas: [Tensor] = []
    var deltaGradients: [Tensor] = []
    var losses: [Float] = []
    /// Gradients handed to each optimizer update (one entry per update; FreeAT has m).
    var gradients: [[String: [Float]]] = []

    init() {}

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

    public init(passLosses: [Float]) { self.passLosses = passLosses }
}

/// A training method: takes one batch (as micro-batches for gradient accumulation) and updates the state.
///
/// A method written outside the package follows the built-in ones (Methods/*.swift): `state.model.zeroGrad()`;
/// per micro-batch `model.dropoutController.beginBatch()`, then `beginPass()` before every forward pass
/// (masks are reused across passes when `reuseMasks` is set); losses from `state.lossAt(batch, delta:)`,
/// backpropagated with their weight (`loss.scaled(by: w).backward()`, gradients accumulate); δ0 from
/// `state.initialPerturbation(_:mask:config:)` and ascent steps from `Perturbation.ascend`; finally
/// `state.updateOnce()` (schedule, clipping, one optimizer step, step count; skipped after a NaN loss).
/// The README's "Custom methods" section has a complete one (Examples/FreeLBClient builds it).
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
