// The training-step abstraction: one implementation per method (vanilla, FreeLB, PGD, FreeAT, YOPO),
// all sharing the state they update (model, optimizer, schedule, δ's RNG).
import FreeLBModels
import FreeLBNN
import FreeLBTensor

/// One micro-batch: model input and labels. Under data parallelism, a rank's slice of the global micro-batch.
public struct TrainingBatch {
    public var input: EncoderInput
    public var labels: Labels
    /// The weight of this batch's mean loss: its examples' share of the global micro-batch (1 in one process),
    /// so that the sum over ranks of the weighted gradients is the gradient of the global batch's mean loss.
    public var lossWeight: Float = 1
    /// The index of this batch's first example in the global micro-batch (0 in one process): it keys the
    /// dropout and δ random streams (v2), so an example draws the same numbers on whichever rank holds it.
    public var firstExample = 0

    public init(input: EncoderInput, labels: Labels) {
        self.input = input
        self.labels = labels
    }

    /// Examples (the first axis of the input).
    public var exampleCount: Int { input.shape[0] }

    /// `loss` times `lossWeight` (the loss itself when the weight is 1).
    public func weighted(_ loss: Tensor) -> Tensor { lossWeight == 1 ? loss : loss.scaled(by: lossWeight) }
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
    /// How δ's random numbers are drawn (v1: the sequential generator; v2: keyed per global example).
    public var randomStreams: RandomStreams = .v1
    /// The ranks training together: gradients are summed over them before every optimizer update.
    public var collective: Collective = SingleProcess()
    /// The current micro-batch's first example in the global micro-batch (set by `beginMicroBatch`).
    public private(set) var firstExample = 0
    /// Seconds spent summing gradients over the ranks (this process, since it started).
    public internal(set) var allreduceSeconds = 0.0
    /// Reused buffer of `reduceGradients` (allocated on first use).
    var gradientBucket: [Float] = []
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

    /// Forward + loss at δ (nil: clean), a scalar to backpropagate (weighted by the batch's share of the global
    /// batch); a non-finite loss is recorded with its pass (the update of this batch is then skipped).
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

    /// Reduce (data parallelism), clip, record, update; does not advance the schedule (FreeAT calls it m times per
    /// batch). Skips the update after a non-finite loss or gradient norm, and records parameters the update made
    /// non-finite.
    public func optimizerStep() {
        let parameters = model.namedParameters()
        if collective.size > 1 {  // every rank reduces, even after a non-finite loss, so that none waits alone
            let nonFiniteElsewhere = reduceGradients(parameters.map(\.1))
            if nonFiniteElsewhere && nonFinite == nil {
                nonFinite = NonFiniteValue(step: globalStep + 1, pass: passesInBatch, quantity: .loss, value: .nan)
            }
        }
        guard nonFinite == nil else { return }
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
            beginMicroBatch(batch)  // masks sampled on the first pass
            body(batch, PerturbationMask(batch.input, width: model.config.embeddingSize))
        }
    }

    /// Starts a micro-batch: fresh dropout masks, keyed (like δ) by the batch's place in the global batch.
    public func beginMicroBatch(_ batch: TrainingBatch) {
        let dropout = model.dropoutController
        dropout.beginBatch()
        (dropout.firstExample, dropout.examples) = (batch.firstExample, batch.exampleCount)
        firstExample = batch.firstExample
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

    /// δ0 for the current micro-batch (`beginMicroBatch`): `customInitialPerturbation`, else the random start of
    /// `config` (docs/method.md §3) from the run's random streams.
    public func initialPerturbation(_ input: EncoderInput, mask: PerturbationMask, config: PerturbationConfig) -> Tensor {
        if let custom = customInitialPerturbation { return custom(input) }
        let shape = model.perturbationShape(input)
        switch randomStreams {
        case .v1: return Perturbation.initial(shape: shape, mask: mask, config: config, generator: &perturbationGenerator)
        case .v2: return Perturbation.initial(shape: shape, mask: mask, config: config, stream: keyedStream(shape, input))
        }
    }

    /// δ0 for `batch` (which need not be the current micro-batch: FreeAT draws every δ0 first).
    public func initialPerturbation(for batch: TrainingBatch, mask: PerturbationMask, config: PerturbationConfig) -> Tensor {
        let current = firstExample
        defer { firstExample = current }
        firstExample = batch.firstExample
        return initialPerturbation(batch.input, mask: mask, config: config)
    }

    /// The random control's δ for the current micro-batch: norm `radius` per example, random direction.
    public func randomPerturbation(_ input: EncoderInput, mask: PerturbationMask, radius: Float) -> Tensor {
        let shape = model.perturbationShape(input)
        switch randomStreams {
        case .v1: return Perturbation.randomOnSphere(shape: shape, mask: mask, radius: radius, generator: &perturbationGenerator)
        case .v2: return Perturbation.randomOnSphere(shape: shape, mask: mask, radius: radius, stream: keyedStream(shape, input))
        }
    }

    /// One draw of random streams v2: a seed from the run's generator (one per draw on every rank), offset to
    /// this process's first example. δ is [B, …] with B = the input's examples.
    func keyedStream(_ shape: [Int], _ input: EncoderInput) -> KeyedStream {
        let perExample = shape.reduce(1, *) / max(1, input.shape[0])
        return KeyedStream(seed: perturbationGenerator.nextSeed(), offset: firstExample * perExample)
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
    /// Weighted by the batch's share of the global batch (`TrainingBatch.lossWeight`).
    func lossAt(_ batch: TrainingBatch, delta: Tensor?) -> Tensor {
        batch.weighted(loss(self(batch.input, perturbation: delta).logits, batch.labels))
    }
}
