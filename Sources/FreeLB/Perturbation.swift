// The perturbation δ in word-embedding space: initialisation (docs/method.md §3), the normalised ascent step
// and the projection onto the ε-ball (docs/method.md §5). Everything is per example b, where an "example" is
// the first axis of δ: a sequence [T, d], or for multiple choice a whole question [C, T, d], so the
// L2 normaliser and the projection are joint over its choices (docs/method.md §8).
import FreeLBModels
import FreeLBTensor

public enum PerturbationNorm: String, Codable, Sendable, CaseIterable {
    /// δ ← δ + α g/‖g_b‖_F, then rescale onto ‖δ_b‖_F ≤ ε.
    case l2
    /// Standard PGD sign step: δ ← clamp(δ + α sign(g), −ε, ε).
    case linf
    /// The official code's "linf": δ ← clamp(δ + α g/max|g_b|, −ε, ε).
    case linfMaxnorm = "linf-maxnorm"
}

public struct PerturbationConfig: Codable, Equatable, Sendable {
    public var norm: PerturbationNorm
    /// μ, `adv-init-mag`. For l2 the expected ‖δ0_b‖_F is μ/√3 (uniform entries), not μ.
    public var initMagnitude: Float
    /// ε, `adv-max-norm`: the radius of the ball δ is projected onto; ε ≤ 0 disables projection (and the linf clamp).
    public var radius: Float
    /// α, `adv-lr`.
    public var stepSize: Float

    public init(norm: PerturbationNorm = .l2, initMagnitude: Float = 0, radius: Float = 0, stepSize: Float = 0.1) {
        self.norm = norm
        self.initMagnitude = initMagnitude
        self.radius = radius
        self.stepSize = stepSize
    }
}

/// Token mask of δ's positions: [B, rest] with one entry per (choice,) token, 1 for real tokens.
public struct PerturbationMask {
    /// examples (first axis of δ)
    public let examples: Int
    /// tokens per example (C·T for multiple choice)
    public let tokensPerExample: Int
    public let width: Int
    /// [examples · tokensPerExample], 0 or 1
    public let mask: [Float]

    public init(_ input: EncoderInput, width: Int) {
        examples = input.shape[0]
        tokensPerExample = input.inputIds.count / examples
        self.width = width
        mask = input.attentionMask.map { $0 != 0 ? 1 : 0 }
    }

    /// L_b: real tokens of example b (Σ over choices for multiple choice).
    public func length(_ b: Int) -> Int {
        Int(mask[(b * tokensPerExample)..<((b + 1) * tokensPerExample)].reduce(0, +))
    }

    /// Zeroes δ's padding positions in place.
    public func apply(to t: Tensor) {
        for token in 0..<(examples * tokensPerExample) where mask[token] == 0 {
            (t.data + token * width).initialize(repeating: 0, count: width)
        }
    }
}

public enum Perturbation {
    /// δ0 (docs/method.md §3): l2: U(−1,1) ⊙ m_b · μ/√(L_b·d); linf*: U(−μ, μ) ⊙ m; μ = 0 → 0.
    public static func initial(
        shape: [Int], mask: PerturbationMask, config: PerturbationConfig,
        generator: inout SeededGenerator
    ) -> Tensor {
        initial(shape: shape, mask: mask, config: config) { Tensor.uniform(shape, low: $0, high: $1, generator: &generator) }
    }

    /// δ0 as above from a keyed stream (random streams v2): the same numbers for an example whichever rank holds it.
    public static func initial(shape: [Int], mask: PerturbationMask, config: PerturbationConfig, stream: KeyedStream) -> Tensor {
        initial(shape: shape, mask: mask, config: config) { stream.uniform(shape, low: $0, high: $1) }
    }

    /// δ0 with U(low, high) values of `shape` from `uniform`.
    static func initial(
        shape: [Int], mask: PerturbationMask, config: PerturbationConfig, uniform: (_ low: Float, _ high: Float) -> Tensor
    ) -> Tensor {
        let mu = config.initMagnitude
        guard mu > 0 else { return Tensor(zeros: shape) }
        let delta: Tensor
        switch config.norm {
        case .l2:
            delta = uniform(-1, 1)
            let per = delta.count / mask.examples
            for b in 0..<mask.examples {
                let scale = mu / (Float(max(1, mask.length(b)) * mask.width)).squareRoot()
                delta.block(b, of: mask.examples).scale(by: scale)
            }
        case .linf, .linfMaxnorm:
            delta = uniform(-mu, mu)
        }
        mask.apply(to: delta)
        return delta
    }

    /// δ_{t+1} = project(δ_t + α · step(g)) per example, as a new tensor. `g` is masked first.
    public static func ascend(
        _ delta: Tensor, gradient g: Tensor, mask: PerturbationMask,
        config: PerturbationConfig
    ) -> Tensor {
        precondition(delta.count == g.count, "ascend: δ \(delta.shape) vs gradient \(g.shape)")
        let next = delta.detachedCopy()
        let grad = g.detachedCopy()
        mask.apply(to: grad)
        let examples = mask.examples, per = delta.count / examples
        let (alpha, eps) = (config.stepSize, config.radius)
        for b in 0..<examples {
            let d = next.data + b * per, gb = grad.data + b * per
            let dBlock = next.block(b, of: examples), gBlock = grad.block(b, of: examples)
            switch config.norm {
            case .l2:
                let gNorm = Float(gBlock.l2Norm())
                dBlock.addScaled(gBlock, by: alpha / max(gNorm, 1e-8))
                if eps > 0 {
                    let dNorm = Float(dBlock.l2Norm())
                    if dNorm > eps { dBlock.scale(by: eps / dNorm) }
                }
            case .linf:
                for i in 0..<per {
                    let s: Float = gb[i] > 0 ? 1 : gb[i] < 0 ? -1 : 0
                    d[i] += alpha * s
                }
                if eps > 0 { clamp(d, per, eps) }
            case .linfMaxnorm:
                let gMax = gBlock.maxAbs()
                dBlock.addScaled(gBlock, by: alpha / max(gMax, 1e-8))
                if eps > 0 { clamp(d, per, eps) }
            }
        }
        return next
    }

    /// A random δ with ‖δ_b‖_F = `radius` exactly on each example's real tokens, in a uniformly random
    /// direction (normalised Gaussian), zero on padding: the `random` control's noise.
    public static func randomOnSphere(
        shape: [Int], mask: PerturbationMask, radius: Float,
        generator: inout SeededGenerator
    ) -> Tensor {
        onSphere(Tensor.normal(shape, generator: &generator), mask: mask, radius: radius)
    }

    /// The random control's δ from a keyed stream (random streams v2).
    public static func randomOnSphere(shape: [Int], mask: PerturbationMask, radius: Float, stream: KeyedStream) -> Tensor {
        onSphere(stream.normal(shape), mask: mask, radius: radius)
    }

    /// Gaussian `delta` masked and rescaled to norm `radius` per example, in place.
    static func onSphere(_ delta: Tensor, mask: PerturbationMask, radius: Float) -> Tensor {
        mask.apply(to: delta)
        for b in 0..<mask.examples {
            let d = delta.block(b, of: mask.examples)
            let n = Float(d.l2Norm())
            d.scale(by: n > 0 ? radius / n : 0)
        }
        return delta
    }

    static func clamp(_ d: UnsafeMutablePointer<Float>, _ n: Int, _ eps: Float) {
        for i in 0..<n { d[i] = min(max(d[i], -eps), eps) }
    }
}
