// Arithmetic on a tensor's storage outside autodiff, for optimizers, the perturbation δ and
// diagnostics: in-place scale and axpy, sums of squares, L2 norms and max |x|, of a whole tensor or
// of one block (example b of a batch along the first axis), the fused AdamW update, and the engine's
// thread count. Nothing here allocates or records a graph; the SIMD kernels are the autodiff ops' ones.
import CFreeLBKernels
import FreeLBBLAS

/// Elements `range` of a tensor's storage, e.g. example b of δ [B, T, d] (range b·T·d ..< (b+1)·T·d).
/// Holds the tensor, so its storage stays alive. Every operation runs on the calling thread.
public struct TensorBlock {
    public let tensor: Tensor
    public let range: Range<Int>

    public var count: Int { range.count }
    var base: UnsafeMutablePointer<Float> { tensor.data + range.lowerBound }

    /// Σ x² in Double, summed in the kernel's fixed order.
    public func sumOfSquares() -> Double { flb_sum_squares(base, count) }
    /// ‖x‖₂ = √(Σ x²) in Double.
    public func l2Norm() -> Double { sumOfSquares().squareRoot() }
    /// max |x| (NaN if any element is NaN).
    public func maxAbs() -> Float { flb_max_abs(base, count) }
    /// x ← a · x
    public func scale(by a: Float) { flb_scale(base, a, base, count) }
    /// x ← x + a · other (same element count).
    public func addScaled(_ other: TensorBlock, by a: Float) {
        precondition(other.count == count, "addScaled: \(other.count) elements into \(count)")
        flb_axpy(a, other.base, base, count)
    }
}

/// Threads of the tensor engine: elementwise kernels, row kernels and GEMM splits (BLAS itself gets one
/// thread while the engine splits GEMMs, unless FREELB_GEMM_SPLIT=0).
public enum TensorThreads {
    /// FREELB_NUM_THREADS, else every core.
    public static var defaultCount: Int { ComputeThreads.defaultCount }
    public static var count: Int { ComputeThreads.count }
    /// Sets the engine's (and BLAS's) thread count; values below 1 mean 1.
    public static func setCount(_ newCount: Int) { ComputeThreads.setCount(newCount) }
}

extension Tensor {
    /// Block `index` of `blocks` equal consecutive blocks of the storage: example `index` of a batch of
    /// `blocks` examples along the first axis ([B, T, d] → [T, d] elements; [B, C, T, d] → [C, T, d]).
    public func block(_ index: Int, of blocks: Int) -> TensorBlock {
        precondition(
            blocks > 0 && count % blocks == 0 && (0..<blocks).contains(index),
            "block \(index) of \(blocks) in a tensor of \(count) elements")
        let per = count / blocks
        return TensorBlock(tensor: self, range: (index * per)..<((index + 1) * per))
    }

    /// Σ x² over every element in Double, summed in the kernel's fixed order (one thread).
    public func sumOfSquares() -> Double { flb_sum_squares(data, count) }
    /// ‖x‖_F = √(Σ x²) in Double.
    public func l2Norm() -> Double { sumOfSquares().squareRoot() }
    /// max |x| (NaN if any element is NaN).
    public func maxAbs() -> Float { flb_max_abs(data, count) }

    /// x ← a · x in place, outside autodiff (split over the engine's threads).
    public func scale(by a: Float) {
        bf16Cache = nil
        Kernels.scale(data, a, data, count)
    }

    /// x ← x + a · other in place, outside autodiff (same element count; split over the engine's threads).
    public func addScaled(_ other: Tensor, by a: Float) {
        precondition(other.count == count, "addScaled: \(other.shape) into \(shape)")
        bf16Cache = nil
        Kernels.axpy(a, other.data, data, count)
    }

    /// One torch.optim.AdamW update of this parameter, in place, with the moments `m` and `v` (same
    /// shape, updated in place): p ← p·(1 − lr·wd); m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²;
    /// p ← p − lr/bias1 · m / (√v/√bias2 + eps), where bias1 = 1 − β1^t and bias2 = 1 − β2^t.
    public func applyAdamW(
        gradient g: Tensor, firstMoment m: Tensor, secondMoment v: Tensor,
        learningRate: Float, beta1: Float, beta2: Float, eps: Float, weightDecay: Float,
        biasCorrection1 bias1: Float, biasCorrection2 bias2: Float
    ) {
        precondition(
            g.count == count && m.count == count && v.count == count,
            "applyAdamW: parameter \(shape), gradient \(g.shape), moments \(m.shape) \(v.shape)")
        bf16Cache = nil
        let (p, gp, mp, vp) = (data, g.data, m.data, v.data)
        ComputeThreads.parallelFor(count, minChunk: 1 << 16) { r in
            let s = r.lowerBound
            flb_adamw_step(
                p + s, gp + s, mp + s, vp + s, r.count, learningRate, beta1, beta2, eps, weightDecay,
                bias1, bias2)
        }
    }
}
