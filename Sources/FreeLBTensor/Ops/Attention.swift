// Fused multi-head scaled dot-product attention on the [B, T, H] layout: heads are read and
// written in place through strided GEMMs (lda = H), so no head transposes are materialised.
import CFreeLBKernels
import FreeLBBLAS
import Foundation

public struct AttentionResult {
    /// [B, T, H]
    public let context: Tensor
    /// softmax probabilities before dropout, [B, heads, T, T] (no gradient; for inspection).
    public let probabilities: Tensor
}

/// context = softmax(Q Kᵀ/√dh + mask) (⊙ dropout) V per head. q, k, v are [B, T, H];
/// `keyMask` is additive [B, T] (0 for real keys, a huge negative for padding); `dropout` is [B, heads, T, T].
public func multiHeadAttention(
    query q: Tensor, key k: Tensor, value v: Tensor, heads: Int,
    keyMask: Tensor?, dropout: DropoutMask? = nil
) -> AttentionResult {
    shapeCheck(q.rank == 3 && q.shape == k.shape && q.shape == v.shape, "attention: q \(q.shape), k \(k.shape), v \(v.shape)")
    let (batch, length, width) = (q.shape[0], q.shape[1], q.shape[2])
    shapeCheck(width % heads == 0, "attention: width \(width) not divisible by \(heads) heads")
    if let keyMask { shapeCheck(keyMask.count == batch * length, "attention: key mask \(keyMask.shape) for \(q.shape)") }
    if let dropout {
        shapeCheck(dropout.values.count == batch * heads * length * length, "attention: dropout mask \(dropout.shape)")
    }
    let dh = width / heads
    let scale = 1 / Float(dh).squareRoot()
    let tt = length * length
    let probs = Tensor(uninitializedShape: [batch, heads, length, length])
    let dropped = dropout.map { _ in Tensor(uninitializedShape: [batch, heads, length, length]) }
    let out = Tensor(uninitializedShape: [batch, length, width])
    let (pq, pk, pv, pp, po) = (q.data, k.data, v.data, probs.data, out.data)
    let pd = dropped?.data, pmask = dropout?.values.data, pkm = keyMask?.data
    // bf16 (MixedPrecision): Q, K, V and the (dropped-out) probabilities are rounded for the products, as
    // autocast's bmm does; softmax and its backward stay fp32. `roundedWeights` [B·heads, T, T] lives for the
    // forward only: the backward rounds P·D again rather than keep it.
    let rounded = MixedPrecision.precision == .bf16 ? (q: q.bf16Copy(), k: k.bf16Copy(), v: v.bf16Copy()) : nil
    let roundedWeights = rounded.map { _ in BF16Copy(uninitializedCount: batch * heads * tt) }
    BatchedGEMM.run(batch * heads) { bh in
        let b = bh / heads, h = bh % heads
        let base = b * length * width + h * dh
        let scores = pp + bh * tt
        // S [T, T] = Q_bh Kᵀ_bh
        if let rounded {
            BF16GEMM.gemm(
                transA: false, transB: true, m: length, n: length, k: dh, a: rounded.q.pointer + base, lda: width,
                b: rounded.k.pointer + base, ldb: width, c: scores, ldc: length, accumulate: false)
        } else {
            gemm(false, true, length, length, dh, pq + base, width, pk + base, width, scores, length, accumulate: false)
        }
        flb_softmax_forward(scores, scores, length, length, scale, pkm.map { UnsafePointer($0 + b * length) }, length)
        var weights = UnsafePointer(scores)
        if let pd, let pmask {
            flb_mul(scores, pmask + bh * tt, pd + bh * tt, tt)
            weights = UnsafePointer(pd + bh * tt)
        }
        // ctx_bh [T, dh] = P V_bh
        if let rounded, let roundedWeights {
            let pw = roundedWeights.pointer + bh * tt
            BF16GEMM.round(weights, into: pw, count: tt)
            BF16GEMM.gemm(
                transA: false, transB: false, m: length, n: dh, k: length, a: pw, lda: length, b: rounded.v.pointer + base,
                ldb: width, c: po + base, ldc: width, accumulate: false)
        } else {
            gemm(false, false, length, dh, length, weights, length, pv + base, width, po + base, width, accumulate: false)
        }
    }
    let context = out.record([q, k, v]) { g, ctx in
        // Saved for backward (the closure keeps the tensors, not just their pointers, alive). P·D (`dropped`) is
        // not: the backward multiplies again, so the graph holds one [B, heads, T, T] tensor less per layer.
        let pp = probs.data
        let sq = ctx.slot(q), sk = ctx.slot(k), sv = ctx.slot(v)
        guard sq != nil || sk != nil || sv != nil else { return }
        let scratch = Tensor(uninitializedShape: [batch * heads, length, length])
        if let rounded {
            attentionBackwardBF16(
                g: g, rounded: rounded, probabilities: pp, dropoutMask: pmask, scratch: scratch,
                slots: (sq, sk, sv), batch: batch, heads: heads, length: length, width: width, scale: scale)
            return
        }
        BatchedGEMM.run(batch * heads) { bh in
            let b = bh / heads
            let base = b * length * width + (bh % heads) * dh
            let p = pp + bh * tt
            let dS = scratch.data + bh * tt
            var weights = UnsafePointer(p)
            if let pmask, sv != nil {  // Pd = P ⊙ D, the forward's product again, in dS's space until dV is done
                flb_mul(p, pmask + bh * tt, dS, tt)
                weights = UnsafePointer(dS)
            }
            if let sv {  // dV_bh = Pdᵀ · dctx_bh
                gemm(
                    true, false, length, dh, length, weights, length, g + base, width, sv.pointer + base, width,
                    accumulate: !sv.overwrite)
            }
            // dPd = dctx_bh · V_bhᵀ; dP = dPd ⊙ D; dS = scale · softmax'(dP)
            gemm(false, true, length, length, dh, g + base, width, pv + base, width, dS, length, accumulate: false)
            if let pmask { flb_mul(dS, pmask + bh * tt, dS, tt) }
            flb_softmax_backward(p, dS, dS, length, length, scale)
            if let sq {
                gemm(
                    false, false, length, dh, length, dS, length, pk + base, width, sq.pointer + base, width,
                    accumulate: !sq.overwrite)
            }
            if let sk {
                gemm(
                    true, false, length, dh, length, dS, length, pq + base, width, sk.pointer + base, width,
                    accumulate: !sk.overwrite)
            }
        }
    }
    return AttentionResult(context: context, probabilities: probs)
}

/// The backward of `multiHeadAttention` at bf16: dctx (g) and dS rounded for the products, dS computed in
/// fp32. g [B, T, H]; probabilities [B·heads, T, T] before dropout; dropoutMask D of the same shape.
private func attentionBackwardBF16(
    g: UnsafeMutablePointer<Float>, rounded: (q: BF16Copy, k: BF16Copy, v: BF16Copy),
    probabilities pp: UnsafeMutablePointer<Float>, dropoutMask pmask: UnsafeMutablePointer<Float>?, scratch: Tensor,
    slots: (q: GradientSlot?, k: GradientSlot?, v: GradientSlot?), batch: Int, heads: Int, length: Int, width: Int,
    scale: Float
) {
    let dh = width / heads, tt = length * length
    let roundedG = BF16Copy(rounding: g, count: batch * length * width, epoch: 0)
    let roundedBlocks = BF16Copy(uninitializedCount: batch * heads * tt)  // P·D, then dS, of each head
    BatchedGEMM.run(batch * heads) { bh in
        let base = (bh / heads) * length * width + (bh % heads) * dh
        let dS = scratch.data + bh * tt, block = roundedBlocks.pointer + bh * tt
        let gBase = roundedG.pointer + base
        if let sv = slots.v {  // dV_bh = Pdᵀ · dctx_bh, Pd = P ⊙ D multiplied again
            if let pmask {
                flb_mul(pp + bh * tt, pmask + bh * tt, dS, tt)
                BF16GEMM.round(dS, into: block, count: tt)
            } else {
                BF16GEMM.round(pp + bh * tt, into: block, count: tt)
            }
            BF16GEMM.gemm(
                transA: true, transB: false, m: length, n: dh, k: length, a: block, lda: length,
                b: gBase, ldb: width, c: sv.pointer + base, ldc: width, accumulate: !sv.overwrite)
        }
        // dPd = dctx_bh · V_bhᵀ; dP = dPd ⊙ D; dS = scale · softmax'(dP)
        BF16GEMM.gemm(
            transA: false, transB: true, m: length, n: length, k: dh, a: gBase, lda: width, b: rounded.v.pointer + base,
            ldb: width, c: dS, ldc: length, accumulate: false)
        if let pmask { flb_mul(dS, pmask + bh * tt, dS, tt) }
        flb_softmax_backward(pp + bh * tt, dS, dS, length, length, scale)
        BF16GEMM.round(dS, into: block, count: tt)
        if let sq = slots.q {  // dQ_bh = dS · K_bh
            BF16GEMM.gemm(
                transA: false, transB: false, m: length, n: dh, k: length, a: block, lda: length,
                b: rounded.k.pointer + base, ldb: width, c: sq.pointer + base, ldc: width, accumulate: !sq.overwrite)
        }
        if let sk = slots.k {  // dK_bh = dSᵀ · Q_bh
            BF16GEMM.gemm(
                transA: true, transB: false, m: length, n: dh, k: length, a: block, lda: length,
                b: rounded.q.pointer + base, ldb: width, c: sk.pointer + base, ldc: width, accumulate: !sk.overwrite)
        }
    }
}
