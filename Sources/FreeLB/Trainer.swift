// The training loop: epochs over a batch source, one TrainingStep per (accumulated) batch, progress
// events to a closure that can stop training, and periodic evaluation on a dev set.
import Foundation
import FreeLBModels
import FreeLBNN
import FreeLBTensor

public struct StepProgress {
    public var step: Int
    public var totalSteps: Int
    public var epoch: Int
    public var loss: Float
    public var learningRate: Float
    /// Tokens of the global batch (all ranks) per second.
    public var tokensPerSecond: Double
    public var elapsedSeconds: Double
    /// Seconds this process has spent summing gradients over the ranks (0 in one process).
    public var allreduceSeconds = 0.0
}

public struct EvaluationResult {
    public var step: Int
    public var epoch: Int
    public var loss: Float
    public var metrics: [String: Double]
    /// [N, numLabels] (or [N, C]) logits, in dataset order
    public var logits: [[Float]]
}

public enum TrainingEvent {
    case step(StepProgress)
    /// A batch met a NaN or infinite value and its update was skipped; `skippedBatches` counts them all.
    case nonFinite(NonFiniteValue, skippedBatches: Int)
    case evaluation(EvaluationResult)
    case epochEnd(Int)
}

public enum TrainingControl { case proceed, stop }

/// What training does when a loss, the gradient norm or a parameter becomes NaN or infinite.
public enum NonFinitePolicy: Equatable, Sendable {
    /// Stop at the first one (the default).
    case stop
    /// Skip the batch's update and go on; stop after more than `maxConsecutive` skipped batches in a
    /// row, or when the parameters themselves became non-finite.
    case skip(maxConsecutive: Int)
}

/// Runs a model over batches without recording a graph (eval mode) and returns logits and mean loss.
public func evaluate(_ model: TransformerClassifier, batches: [TrainingBatch]) -> (logits: [[Float]], loss: Float) {
    let wasTraining = model.isTraining
    model.eval()
    defer { model.train(wasTraining) }
    var rows: [[Float]] = []
    var total: Double = 0, count = 0
    withNoGrad {
        for batch in batches {
            let logits = MixedPrecision.cachingLeafCasts { model(batch.input).logits }
            let width = logits.shape[1]
            for r in 0..<logits.shape[0] { rows.append(Array(UnsafeBufferPointer(start: logits.data + r * width, count: width))) }
            let n = logits.shape[0]
            total += Double(model.loss(logits, batch.labels).item) * Double(n)
            count += n
        }
    }
    return (rows, Float(total / Double(max(1, count))))
}

public final class Trainer {
    public let state: TrainingState
    public let method: TrainingStep
    /// Micro-batches per optimizer step.
    public var accumulationSteps: Int
    /// Evaluate every N optimizer steps (nil: once per epoch).
    public var evaluationInterval: Int?
    /// Computes metrics from dev logits (empty when not given).
    public var metrics: (_ logits: [[Float]]) -> [String: Double]
    /// Dev batches (nil: no evaluation).
    public var evaluationBatches: [TrainingBatch]?
    public var nonFinitePolicy: NonFinitePolicy = .stop
    /// Batches whose update was skipped for a non-finite value (this process).
    public private(set) var skippedBatches = 0
    /// The value that stopped training, when `run` returned false because of one.
    public private(set) var stoppedOnNonFinite: NonFiniteValue?
    /// Whether some rank asked to stop (`run`'s `stopRequested`) at the last step (always false in one process).
    public private(set) var stopAgreed = false
    /// The ranks training together (`state.collective`).
    public var collective: Collective { state.collective }

    public init(
        state: TrainingState, method: TrainingStep, accumulationSteps: Int = 1,
        evaluationBatches: [TrainingBatch]? = nil, evaluationInterval: Int? = nil,
        metrics: @escaping ([[Float]]) -> [String: Double] = { _ in [:] }
    ) {
        self.state = state
        self.method = method
        self.accumulationSteps = max(1, accumulationSteps)
        self.evaluationBatches = evaluationBatches
        self.evaluationInterval = evaluationInterval
        self.metrics = metrics
    }

    /// Optimizer steps in an epoch of `batchCount` micro-batches.
    public func stepsPerEpoch(batchCount: Int) -> Int { (batchCount + accumulationSteps - 1) / accumulationSteps }

    /// Trains from `state.globalStep` until `totalSteps`. `epochBatches(e)` gives epoch e's micro-batches
    /// in order (a deterministic shuffle of the seed and epoch). Returns false if stopped by the closure.
    /// Data parallelism: `stopRequested` is asked after every step on every rank; when any rank asks,
    /// `stopAgreed` becomes true on all of them at the same step (see `FineTuningRun`).
    @discardableResult
    public func run(
        totalSteps: Int, epochBatches: (Int) -> [TrainingBatch], stopRequested: () -> Bool = { false },
        onEvent: (TrainingEvent) -> TrainingControl = { _ in .proceed }
    ) -> Bool {
        state.model.train()
        let start = Date()
        var tokens = 0
        var epoch = 0
        var stepsBefore = 0
        var consecutiveSkips = 0
        // Skip whole epochs already done (resume).
        while true {
            let batches = epochBatches(epoch)
            let perEpoch = stepsPerEpoch(batchCount: batches.count)
            guard perEpoch > 0 else { return true }
            if stepsBefore + perEpoch <= state.globalStep && state.globalStep < totalSteps {
                stepsBefore += perEpoch
                epoch += 1
                continue
            }
            var index = (state.globalStep - stepsBefore) * accumulationSteps
            while index < batches.count && state.globalStep < totalSteps {
                let group = Array(batches[index..<min(batches.count, index + accumulationSteps)])
                index += accumulationSteps
                state.beginBatch()
                let ranks = collective.size
                // Every rank reads the same global micro-batches and trains on its slice of each.
                let local = ranks > 1 ? group.map { $0.shard(rank: collective.rank, of: ranks) } : group
                // At bf16, each weight is rounded once per step (an optimizer update drops its copy).
                var loss = MixedPrecision.cachingLeafCasts { method.step(local, state: state) }.loss
                if ranks > 1 {  // the slices' weighted losses sum to the global batch's; any rank may ask to stop
                    let reduced = collective.allreduceSum([Double(loss), stopRequested() ? 1 : 0])
                    loss = Float(reduced[0])
                    stopAgreed = reduced[1] > 0
                }
                tokens += group.reduce(0) { $0 + $1.input.attentionMask.reduce(0) { $0 + Int($1) } }
                let elapsed = Date().timeIntervalSince(start)
                var progress = StepProgress(
                    step: state.globalStep, totalSteps: totalSteps, epoch: epoch, loss: loss,
                    learningRate: state.optimizer.learningRate,
                    tokensPerSecond: Double(tokens) / max(elapsed, 1e-9), elapsedSeconds: elapsed)
                progress.allreduceSeconds = state.allreduceSeconds
                if onEvent(.step(progress)) == .stop { return false }
                if let bad = state.nonFinite {
                    skippedBatches += 1
                    consecutiveSkips += 1
                    if onEvent(.nonFinite(bad, skippedBatches: skippedBatches)) == .stop { return false }
                    switch nonFinitePolicy {
                    case .stop:
                        stoppedOnNonFinite = bad
                        return false
                    case .skip(let limit):
                        if !bad.isSkippable || consecutiveSkips > limit {
                            stoppedOnNonFinite = bad
                            return false
                        }
                    }
                } else {
                    consecutiveSkips = 0
                }
                if let interval = evaluationInterval, state.globalStep % interval == 0,
                    let result = evaluateNow(epoch: epoch), onEvent(.evaluation(result)) == .stop
                {
                    return false
                }
            }
            stepsBefore += perEpoch
            if index >= batches.count {
                if evaluationInterval == nil, let result = evaluateNow(epoch: epoch), onEvent(.evaluation(result)) == .stop {
                    return false
                }
                if onEvent(.epochEnd(epoch)) == .stop { return false }
            }
            if state.globalStep >= totalSteps { return true }
            epoch += 1
        }
    }

    public func evaluateNow(epoch: Int) -> EvaluationResult? {
        guard let batches = evaluationBatches else { return nil }
        let (logits, loss) = evaluate(state.model, batches: batches, collective: collective)
        state.model.train()
        return EvaluationResult(step: state.globalStep, epoch: epoch, loss: loss, metrics: metrics(logits), logits: logits)
    }
}
