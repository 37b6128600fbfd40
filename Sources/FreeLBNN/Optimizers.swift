// Optimizers (AdamW with PyTorch's formula, SGD), global-norm gradient clipping, and the linear
// warmup/decay schedule. Optimizer state can be exported and restored exactly.
import FreeLBTensor

public protocol Optimizer: AnyObject {
    var learningRate: Float { get set }
    /// Applies one update to every parameter that has a gradient.
    func step(_ parameters: [(String, Tensor)])
    /// Exact state: scalars and named tensors (moments).
    func exportState() -> OptimizerState
    func importState(_ state: OptimizerState) throws
}

public struct OptimizerState {
    public var scalars: [String: Double]
    public var tensors: [String: Tensor]
    public init(scalars: [String: Double] = [:], tensors: [String: Tensor] = [:]) {
        self.scalars = scalars
        self.tensors = tensors
    }
}

public struct OptimizerStateError: Error, CustomStringConvertible {
    public let description: String
}

/// HF run_glue grouping: no weight decay for biases and LayerNorm weights.
public func isExcludedFromWeightDecay(_ name: String) -> Bool {
    name.hasSuffix("bias") || name.contains("LayerNorm.weight")
}

/// p ← p − lr · g
public final class SGD: Optimizer {
    public var learningRate: Float
    public init(learningRate: Float) { self.learningRate = learningRate }

    public func step(_ parameters: [(String, Tensor)]) {
        for (_, p) in parameters {
            guard let g = p.grad else { continue }
            p.addScaled(g, by: -learningRate)
        }
    }

    public func exportState() -> OptimizerState { OptimizerState(scalars: ["lr": Double(learningRate)]) }
    public func importState(_ state: OptimizerState) throws {
        if let lr = state.scalars["lr"] { learningRate = Float(lr) }
    }
}

/// torch.optim.AdamW: decay before the update, eps added after the bias-corrected sqrt(v).
public final class AdamW: Optimizer {
    public var learningRate: Float
    public let beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    /// Names excluded from weight decay.
    public let excludeFromDecay: (String) -> Bool
    public private(set) var stepCount = 0
    private var moments: [String: (m: Tensor, v: Tensor)] = [:]

    public init(
        learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8,
        weightDecay: Float = 0.01, excludeFromDecay: @escaping (String) -> Bool = isExcludedFromWeightDecay
    ) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        self.excludeFromDecay = excludeFromDecay
    }

    public func step(_ parameters: [(String, Tensor)]) {
        stepCount += 1
        let bias1 = 1 - Float(Double(beta1).power(stepCount))
        let bias2 = 1 - Float(Double(beta2).power(stepCount))
        for (name, p) in parameters {
            guard let g = p.grad else { continue }
            let state = moments[name] ?? (Tensor(zeros: p.shape), Tensor(zeros: p.shape))
            moments[name] = state
            let decay = excludeFromDecay(name) ? 0 : weightDecay
            p.applyAdamW(
                gradient: g, firstMoment: state.m, secondMoment: state.v, learningRate: learningRate,
                beta1: beta1, beta2: beta2, eps: eps, weightDecay: decay,
                biasCorrection1: bias1, biasCorrection2: bias2)
        }
    }

    public func exportState() -> OptimizerState {
        var tensors: [String: Tensor] = [:]
        for (name, state) in moments {
            tensors["exp_avg." + name] = state.m
            tensors["exp_avg_sq." + name] = state.v
        }
        return OptimizerState(scalars: ["step": Double(stepCount), "lr": Double(learningRate)], tensors: tensors)
    }

    public func importState(_ state: OptimizerState) throws {
        guard let step = state.scalars["step"] else { throw OptimizerStateError(description: "AdamW state lacks 'step'") }
        stepCount = Int(step)
        if let lr = state.scalars["lr"] { learningRate = Float(lr) }
        moments = [:]
        for (key, m) in state.tensors where key.hasPrefix("exp_avg.") {
            let name = String(key.dropFirst("exp_avg.".count))
            guard let v = state.tensors["exp_avg_sq." + name] else {
                throw OptimizerStateError(description: "AdamW state has exp_avg but no exp_avg_sq for \(name)")
            }
            moments[name] = (m, v)
        }
    }
}

extension Double {
    func power(_ n: Int) -> Double {
        var result = 1.0
        for _ in 0..<n { result *= self }
        return result
    }
}

/// torch.nn.utils.clip_grad_norm_: scales every gradient by max/(‖g‖ + 1e-6) when ‖g‖ > max.
/// Returns the norm before clipping. maxGradNorm ≤ 0 only measures.
@discardableResult
public func clipGradientNorm(_ parameters: [Tensor], maxGradNorm: Float) -> Float {
    var total = 0.0
    for p in parameters { if let g = p.grad { total += g.sumOfSquares() } }
    let norm = Float(total.squareRoot())
    if maxGradNorm > 0 {
        let coefficient = maxGradNorm / (norm + 1e-6)
        if coefficient < 1 {
            for p in parameters { if let g = p.grad { g.scale(by: coefficient) } }
        }
    }
    return norm
}

/// Linear warmup from 0 to the base rate over `warmupSteps`, then linear decay to 0 at `totalSteps`
/// (transformers' get_linear_schedule_with_warmup).
public struct LinearWarmupDecay: Codable, Equatable {
    public let baseLearningRate: Float
    public let warmupSteps: Int
    public let totalSteps: Int

    public init(baseLearningRate: Float, warmupSteps: Int, totalSteps: Int) {
        self.baseLearningRate = baseLearningRate
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
    }

    /// The rate for optimizer step `step` (0-based, i.e. the number of scheduler steps taken so far).
    public func learningRate(atStep step: Int) -> Float {
        if step < warmupSteps { return baseLearningRate * Float(step) / Float(max(1, warmupSteps)) }
        let remaining = Float(max(0, totalSteps - step)) / Float(max(1, totalSteps - warmupSteps))
        return baseLearningRate * remaining
    }
}
