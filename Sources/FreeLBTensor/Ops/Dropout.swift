// Inverted dropout driven by an explicit mask object that can be kept and reused across passes.
import CFreeLBKernels

/// A sampled inverted-dropout mask: entries are 0 (dropped) or 1/(1−p) (kept).
public final class DropoutMask {
    public let probability: Float
    public let values: Tensor

    /// Samples a mask of `shape` from a counter-based generator keyed by `seed`: element i is drawn from counter
    /// `counterOffset` + i, so a slice of a larger mask (rows of a batch held by another process) can be drawn alone.
    public init(shape: [Int], probability p: Float, seed: UInt64, counterOffset: Int = 0) {
        precondition(p >= 0 && p < 1, "dropout probability \(p) must be in [0, 1)")
        probability = p
        values = Tensor(uninitializedShape: shape)
        let keep = 1 - p
        let scale = 1 / keep
        let out = values.data
        Kernels.elementwise(values.count) { s, c in
            flb_bernoulli_mask(seed, UInt64(counterOffset + s), keep, scale, out + s, c)
        }
    }

    public var shape: [Int] { values.shape }
}

extension Tensor {
    /// x ⊙ mask (the mask is a constant).
    public func dropout(_ mask: DropoutMask) -> Tensor {
        shapeCheck(mask.values.count == count, "dropout: mask \(mask.shape) for \(shape)")
        return self * mask.values
    }
}
