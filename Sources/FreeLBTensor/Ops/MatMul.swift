// Matrix products on BLAS: 2-D matmul, batched matmul and the fused Linear layer op.
import FreeLBBLAS
import CFreeLBKernels
import Dispatch
import Foundation

@inline(__always)
func gemm(
    _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
    _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
    _ c: UnsafeMutablePointer<Float>, _ ldc: Int, accumulate: Bool, alpha: Float = 1
) {
    BLAS.sgemm(
        transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
        b: b, ldb: ldb, beta: accumulate ? 1 : 0, c: c, ldc: ldc)
}

/// Layer GEMMs split the rows (or columns) of C over our threads, each a single-threaded BLAS call.
/// OpenBLAS itself stays on one thread (see `ComputeThreads`): its own workers busy-wait between calls
/// and would compete with the elementwise kernels for the cores (measured: FreeLB-3 at 32×128 takes
/// ~12% longer with threaded OpenBLAS). `product(aOffset, bOffset, cOffset, rows, cols, firstColumn)`
/// computes one block; the offsets are in elements.
@inline(__always)
func splitGEMM(
    _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, lda: Int, ldb: Int, ldc: Int, always: Bool = false,
    _ product: (_ aOffset: Int, _ bOffset: Int, _ cOffset: Int, _ rows: Int, _ cols: Int, _ firstColumn: Int) -> Void
) {
    let threads = ComputeThreads.count
    guard threads > 1, always || ComputeThreads.splitsGEMMs, max(m, n) >= 64 * threads else {
        product(0, 0, 0, m, n, 0)
        return
    }
    withoutActuallyEscaping(product) { product in
        if m >= n {  // split rows of C: rows of op(A)
            let per = (m + threads - 1) / threads
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                let r0 = t * per, rows = min(m, r0 + per) - r0
                guard rows > 0 else { return }
                product(transA ? r0 : r0 * lda, 0, r0 * ldc, rows, n, 0)
            }
        } else {  // split columns of C: columns of op(B)
            let per = (n + threads - 1) / threads
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                let c0 = t * per, cols = min(n, c0 + per) - c0
                guard cols > 0 else { return }
                product(0, transB ? c0 * ldb : c0, c0, m, cols, c0)
            }
        }
    }
}

func layerGEMM(
    _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
    _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
    _ c: UnsafeMutablePointer<Float>, _ ldc: Int, accumulate: Bool
) {
    splitGEMM(transA, transB, m, n, lda: lda, ldb: ldb, ldc: ldc) { ao, bo, co, rows, cols, _ in
        gemm(transA, transB, rows, cols, k, a + ao, lda, b + bo, ldb, c + co, ldc, accumulate: accumulate)
    }
}

/// The bf16 twin of `layerGEMM`: bf16 operands, fp32 C, one single-threaded oneDNN call per thread;
/// `bias` [n] (fused by oneDNN) is added to every row instead of accumulating.
func layerGEMMBF16(
    _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
    _ a: UnsafePointer<UInt16>, _ lda: Int, _ b: UnsafePointer<UInt16>, _ ldb: Int,
    _ c: UnsafeMutablePointer<Float>, _ ldc: Int, accumulate: Bool, bias: UnsafePointer<Float>? = nil
) {
    if m == 0 || n == 0 { return }
    splitGEMM(transA, transB, m, n, lda: lda, ldb: ldb, ldc: ldc, always: true) { ao, bo, co, rows, cols, firstColumn in
        BF16GEMM.gemm(
            transA: transA, transB: transB, m: rows, n: cols, k: k, a: a + ao, lda: lda, b: b + bo, ldb: ldb,
            c: c + co, ldc: ldc, accumulate: accumulate, bias: bias.map { $0 + firstColumn })
    }
}

/// op(A)·op(B) into a gradient slot from bf16 operands (packed: lda, ldb are the stored row widths).
func gemmIntoBF16(
    _ c: GradientSlot, _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
    _ a: UnsafePointer<UInt16>, _ b: UnsafePointer<UInt16>
) {
    layerGEMMBF16(transA, transB, m, n, k, a, transA ? m : k, b, transB ? k : n, c.pointer, n, accumulate: !c.overwrite)
}

/// The bf16 gradients of Y = op(A) op(B) (see `matmulBackward`); G is rounded once for both products.
func matmulBackwardBF16(
    _ da: GradientSlot?, _ db: GradientSlot?, _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
    a: BF16Copy, b: BF16Copy, g: UnsafePointer<Float>
) {
    guard da != nil || db != nil else { return }
    let gb = BF16Copy(rounding: g, count: m * n, epoch: 0)
    let (pa, pb, pg) = (UnsafePointer(a.pointer), UnsafePointer(b.pointer), UnsafePointer(gb.pointer))
    forEachMatmulGradient(da, db, transA, transB, m, n, k, a: pa, b: pb, g: pg, gemmIntoBF16)
}

/// op(A)·op(B) for row-major [M, K] = A or Aᵀ (stored [K, M]) and [K, N] = B or Bᵀ (stored [N, K]).
func gemmInto(
    _ c: GradientSlot, _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, split: Bool = true
) {
    if !split {  // already inside a parallel region (batched GEMMs)
        gemm(transA, transB, m, n, k, a, transA ? m : k, b, transB ? k : n, c.pointer, n, accumulate: !c.overwrite)
        return
    }
    layerGEMM(transA, transB, m, n, k, a, transA ? m : k, b, transB ? k : n, c.pointer, n, accumulate: !c.overwrite)
}

/// The gradients of Y = op(A) op(B) ([M, N], op(A) [M, K]) from G = dY: dop(A) = G op(B)ᵀ into `da`,
/// dop(B) = op(A)ᵀ G into `db` (nil: not needed).
func matmulBackward(
    _ da: GradientSlot?, _ db: GradientSlot?, _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
    a: UnsafePointer<Float>, b: UnsafePointer<Float>, g: UnsafePointer<Float>, split: Bool = true
) {
    forEachMatmulGradient(da, db, transA, transB, m, n, k, a: a, b: b, g: g) { slot, ta, tb, rows, cols, inner, lhs, rhs in
        gemmInto(slot, ta, tb, rows, cols, inner, lhs, rhs, split: split)
    }
}

/// The two products of Y = op(A) op(B)'s backward, for any operand type (fp32 or bf16 pointers):
/// `product(slot, transLHS, transRHS, rows, cols, inner, lhs, rhs)` writes one gradient.
@inline(__always)
func forEachMatmulGradient<Operand>(
    _ da: GradientSlot?, _ db: GradientSlot?, _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
    a: Operand, b: Operand, g: Operand,
    _ product: (GradientSlot, Bool, Bool, Int, Int, Int, Operand, Operand) -> Void
) {
    if let da {
        if transA {
            product(da, transB, true, k, m, n, b, g)  // dA [K,M] = op(B) Gᵀ
        } else {
            product(da, false, !transB, m, k, n, g, b)  // dA [M,K] = G op(B)ᵀ
        }
    }
    if let db {
        if transB {
            product(db, true, transA, n, k, m, g, a)  // dB [N,K] = Gᵀ op(A)
        } else {
            product(db, !transA, false, k, n, m, a, g)  // dB [K,N] = op(A)ᵀ G
        }
    }
}

extension Tensor {
    /// 2-D product: self [M, K] (or [K, M] with transposeSelf) times other [K, N] (or [N, K]).
    /// Without transposeSelf, leading axes of self are flattened into M and kept in the result.
    public func matmul(_ other: Tensor, transposeSelf: Bool = false, transposeOther: Bool = false) -> Tensor {
        shapeCheck(other.rank == 2, "matmul: right operand must be 2-D, got \(other.shape)")
        shapeCheck(rank >= 2, "matmul: left operand must be at least 2-D, got \(shape)")
        shapeCheck(!transposeSelf || rank == 2, "matmul: transposeSelf needs a 2-D left operand")
        let k = transposeSelf ? shape[0] : shape[rank - 1]
        let m = count / k
        let kb = transposeOther ? other.shape[1] : other.shape[0]
        let n = transposeOther ? other.shape[0] : other.shape[1]
        shapeCheck(
            k == kb,
            "matmul: inner dimensions differ, \(shape)\(transposeSelf ? "ᵀ" : "") · \(other.shape)\(transposeOther ? "ᵀ" : "")")
        let outShape = transposeSelf ? [m, n] : Array(shape.dropLast()) + [n]
        let out = Tensor(uninitializedShape: outShape)
        if MixedPrecision.precision == .bf16 {
            let (a, b) = (bf16Copy(), other.bf16Copy())
            gemmIntoBF16(
                GradientSlot(pointer: out.data, overwrite: true), transposeSelf, transposeOther, m, n, k, a.pointer, b.pointer)
            return out.record([self, other]) { g, ctx in
                matmulBackwardBF16(ctx.slot(self), ctx.slot(other), transposeSelf, transposeOther, m, n, k, a: a, b: b, g: g)
            }
        }
        gemmInto(GradientSlot(pointer: out.data, overwrite: true), transposeSelf, transposeOther, m, n, k, data, other.data)
        return out.record([self, other]) { g, ctx in
            matmulBackward(
                ctx.slot(self), ctx.slot(other), transposeSelf, transposeOther, m, n, k, a: self.data, b: other.data, g: g)
        }
    }

    /// Batched product: self [N, M, K] · other [N, K, P] → [N, M, P], each operand optionally transposed
    /// in its last two axes.
    public func batchedMatmul(_ other: Tensor, transposeSelf: Bool = false, transposeOther: Bool = false) -> Tensor {
        shapeCheck(
            rank == 3 && other.rank == 3 && shape[0] == other.shape[0],
            "batchedMatmul: needs [N, ·, ·] operands with equal N, got \(shape) and \(other.shape)")
        let batch = shape[0]
        let m = transposeSelf ? shape[2] : shape[1], k = transposeSelf ? shape[1] : shape[2]
        let kb = transposeOther ? other.shape[2] : other.shape[1], n = transposeOther ? other.shape[1] : other.shape[2]
        shapeCheck(k == kb, "batchedMatmul: inner dimensions differ, \(shape) · \(other.shape)")
        let out = Tensor(uninitializedShape: [batch, m, n])
        let (sa, sb, sc) = (m * k, k * n, m * n)
        let (pa, pb, pc) = (data, other.data, out.data)
        BatchedGEMM.run(batch) { i in
            gemmInto(
                GradientSlot(pointer: pc + i * sc, overwrite: true), transposeSelf, transposeOther, m, n, k, pa + i * sa,
                pb + i * sb, split: false)
        }
        return out.record([self, other]) { g, ctx in
            let (da, db) = (ctx.slot(self), ctx.slot(other))
            BatchedGEMM.run(batch) { i in  // product i's own 2-D backward
                matmulBackward(
                    da.map { GradientSlot(pointer: $0.pointer + i * sa, overwrite: $0.overwrite) },
                    db.map { GradientSlot(pointer: $0.pointer + i * sb, overwrite: $0.overwrite) },
                    transposeSelf, transposeOther, m, n, k, a: pa + i * sa, b: pb + i * sb, g: g + i * sc,
                    split: false)
            }
        }
    }

    /// Linear layer: self [..., in] · weightᵀ [in, out] + bias [out] → [..., out].
    /// `weight` is [out, in] as in PyTorch / Hugging Face.
    public func linear(weight: Tensor, bias: Tensor?) -> Tensor {
        let inFeatures = shape[rank - 1]
        shapeCheck(
            weight.rank == 2 && weight.shape[1] == inFeatures,
            "linear: input \(shape) does not match weight \(weight.shape) ([out, in])")
        let outFeatures = weight.shape[0]
        if let bias { shapeCheck(bias.count == outFeatures, "linear: bias \(bias.shape) for \(outFeatures) outputs") }
        let rows = count / inFeatures
        let out = Tensor(uninitializedShape: Array(shape.dropLast()) + [outFeatures])
        // bf16: X and W rounded once (W once per optimizer step inside MixedPrecision.cachingLeafCasts), Y = X Wᵀ + b
        // with the bias fused by oneDNN.
        let rounded = MixedPrecision.precision == .bf16 ? (x: bf16Copy(), w: weight.bf16Copy()) : nil
        if let rounded {
            layerGEMMBF16(
                false, true, rows, outFeatures, inFeatures, rounded.x.pointer, inFeatures, rounded.w.pointer, inFeatures,
                out.data, outFeatures, accumulate: false, bias: bias.map { UnsafePointer($0.data) })
        } else {
            if let bias {  // Y = broadcast(b); Y += X Wᵀ
                let (po, pb) = (out.data, bias.data)
                ComputeThreads.parallelFor(rows, minChunk: max(1, (1 << 15) / outFeatures)) { r in
                    for row in r { (po + row * outFeatures).update(from: pb, count: outFeatures) }
                }
            }
            layerGEMM(
                false, true, rows, outFeatures, inFeatures, data, inFeatures, weight.data, inFeatures, out.data, outFeatures,
                accumulate: bias != nil)
        }
        let inputs = bias.map { [self, weight, $0] } ?? [self, weight]
        return out.record(inputs) { g, ctx in
            if let rounded {  // dX = G W, dW = Gᵀ X with G rounded once
                matmulBackwardBF16(
                    ctx.slot(self), ctx.slot(weight), false, true, rows, outFeatures, inFeatures, a: rounded.x,
                    b: rounded.w, g: g)
            } else {
                if let s = ctx.slot(self) {  // dX [rows, in] = G [rows, out] · W [out, in]
                    gemmInto(s, false, false, rows, inFeatures, outFeatures, g, weight.data)
                }
                if let s = ctx.slot(weight) {  // dW [out, in] = Gᵀ · X
                    gemmInto(s, true, false, outFeatures, inFeatures, rows, g, self.data)
                }
            }
            if let bias, let db = ctx.accumulatingSlot(bias) {
                ComputeThreads.parallelFor(outFeatures, minChunk: 64) { r in
                    // Σ over rows, column block r
                    for row in 0..<rows { flb_add_inplace(db + r.lowerBound, g + row * outFeatures + r.lowerBound, r.count) }
                }
            }
        }
    }
}

/// Runs many small independent GEMMs (single-threaded BLAS calls), the batch split over our threads.
enum BatchedGEMM {
    static func run(_ batch: Int, _ body: (Int) -> Void) {
        if ComputeThreads.count <= 1 || batch < 2 {
            for i in 0..<batch { body(i) }
            return
        }
        ComputeThreads.parallelFor(batch, minChunk: 1) { r in
            for i in r { body(i) }
        }
    }
}
