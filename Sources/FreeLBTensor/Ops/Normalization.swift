// LayerNorm (fused) and softmax / log-softmax over the last axis.
import CFreeLBKernels
import FreeLBBLAS

extension Tensor {
    /// LayerNorm over the last axis with biased variance: (x − mean)/sqrt(var + eps) · gamma + beta.
    public func layerNorm(gamma: Tensor, beta: Tensor, eps: Float) -> Tensor {
        let cols = shape[rank - 1]
        shapeCheck(
            gamma.count == cols && beta.count == cols, "layerNorm: gamma \(gamma.shape) / beta \(beta.shape) for width \(cols)")
        let rows = count / cols
        let out = Tensor(uninitializedShape: shape)
        let mean = Tensor(uninitializedShape: [rows]), rstd = Tensor(uninitializedShape: [rows])
        let (x, y, pm, pr) = (data, out.data, mean.data, rstd.data)
        Kernels.rowwise(rows, cols) { r0, n in
            flb_layernorm_forward(x + r0 * cols, gamma.data, beta.data, y + r0 * cols, pm + r0, pr + r0, n, cols, eps)
        }
        return out.record([self, gamma, beta]) { g, ctx in
            let (pm, pr) = (mean.data, rstd.data)  // keeps the saved statistics alive
            let needX = ctx.needs(self), needGamma = ctx.needs(gamma), needBeta = ctx.needs(beta)
            guard needX || needGamma || needBeta else { return }
            // Per-thread partial dgamma/dbeta, summed afterwards.
            let chunks = max(1, min(ComputeThreads.count, rows))
            let partial = Tensor(zeros: [chunks, 2, cols])
            let dx = Tensor(uninitializedShape: self.shape)  // computed even if unused: one fused pass
            let per = (rows + chunks - 1) / chunks
            ComputeThreads.parallelFor(chunks, minChunk: 1) { range in
                for c in range {
                    let r0 = c * per, n = min(rows, r0 + per) - r0
                    if n <= 0 { continue }
                    flb_layernorm_backward(
                        x + r0 * cols, gamma.data, pm + r0, pr + r0, g + r0 * cols, dx.data + r0 * cols,
                        partial.data + c * 2 * cols, partial.data + (c * 2 + 1) * cols, n, cols)
                }
            }
            if needX { ctx.add(dx.data, into: self) }
            if let dg = ctx.accumulatingSlot(gamma) {
                for c in 0..<chunks { flb_add_inplace(dg, partial.data + c * 2 * cols, cols) }
            }
            if let db = ctx.accumulatingSlot(beta) {
                for c in 0..<chunks { flb_add_inplace(db, partial.data + (c * 2 + 1) * cols, cols) }
            }
        }
    }

    /// softmax(scale · x + mask) over the last axis. `additiveMask` (no gradient) has shape [G, cols]
    /// where G = shape[0]; each group of rows/G consecutive rows uses one mask row
    /// (e.g. scores [B, heads, Tq, Tk] with a key mask [B, Tk]).
    public func softmax(scale: Float = 1, additiveMask: Tensor? = nil) -> Tensor {
        let cols = shape[rank - 1]
        let rows = count / cols
        var rowsPerMask = rows
        if let m = additiveMask {
            shapeCheck(
                m.count % cols == 0 && rows % (m.count / cols) == 0,
                "softmax: mask \(m.shape) does not tile scores \(shape)")
            rowsPerMask = rows / (m.count / cols)
        }
        let out = Tensor(uninitializedShape: shape)
        let (x, y) = (data, out.data)
        let mp = additiveMask?.data
        Kernels.rowwise(rows, cols) { r0, n in
            let maskBase = mp.map { UnsafePointer($0) }
            // The kernel indexes the mask by (row / rowsPerMask) from the chunk's first row.
            if let maskBase {
                var r = r0
                while r < r0 + n {
                    let group = r / rowsPerMask
                    let end = min(r0 + n, (group + 1) * rowsPerMask)
                    flb_softmax_forward(x + r * cols, y + r * cols, end - r, cols, scale, maskBase + group * cols, end - r)
                    r = end
                }
            } else {
                flb_softmax_forward(x + r0 * cols, y + r0 * cols, n, cols, scale, nil, n)
            }
        }
        return out.record([self]) { g, ctx in
            ctx.write(into: self) { dx in
                Kernels.rowwise(rows, cols) { r0, n in
                    flb_softmax_backward(y + r0 * cols, g + r0 * cols, dx + r0 * cols, n, cols, scale)
                }
            }
        }
    }

    /// log(softmax(x)) over the last axis.
    public func logSoftmax() -> Tensor {
        let cols = shape[rank - 1]
        let rows = count / cols
        let out = Tensor(uninitializedShape: shape)
        let (x, y) = (data, out.data)
        Kernels.rowwise(rows, cols) { r0, n in flb_log_softmax_forward(x + r0 * cols, y + r0 * cols, n, cols) }
        return out.record([self]) { g, ctx in
            ctx.write(into: self) { dx in
                Kernels.rowwise(rows, cols) { r0, n in
                    flb_log_softmax_backward(y + r0 * cols, g + r0 * cols, dx + r0 * cols, n, cols)
                }
            }
        }
    }
}
