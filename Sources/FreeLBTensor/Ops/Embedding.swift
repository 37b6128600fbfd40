// Embedding gather with scatter-add backward.
import CFreeLBKernels

extension Tensor {
    /// Rows of `self` (a [V, H] table) at `ids`, shaped idsShape + [H]. The `paddingIndex` row never
    /// receives gradient (PyTorch `padding_idx`).
    public func gather(ids: [Int32], shape idsShape: [Int], paddingIndex: Int? = nil) -> Tensor {
        shapeCheck(rank == 2, "gather: table must be [V, H], got \(shape)")
        shapeCheck(idsShape.reduce(1, *) == ids.count, "gather: \(ids.count) ids for shape \(idsShape)")
        let (vocab, width) = (shape[0], shape[1])
        for id in ids { precondition(id >= 0 && Int(id) < vocab, "gather: id \(id) outside table of \(vocab) rows") }
        let out = Tensor(uninitializedShape: idsShape + [width])
        let (src, dst) = (data, out.data)
        parallelRows(ids.count, width) { r in
            for i in r { (dst + i * width).update(from: src + Int(ids[i]) * width, count: width) }
        }
        return out.record([self]) { g, ctx in
            guard let dw = ctx.accumulatingSlot(self) else { return }
            for (i, id) in ids.enumerated() where Int(id) != paddingIndex {
                flb_add_inplace(dw + Int(id) * width, g + i * width, width)
            }
        }
    }
}

import FreeLBBLAS
@inline(__always)
func parallelRows(_ rows: Int, _ cols: Int, _ body: (Range<Int>) -> Void) {
    ComputeThreads.parallelFor(rows, minChunk: max(1, Kernels.elementChunk / max(1, cols)), body)
}
