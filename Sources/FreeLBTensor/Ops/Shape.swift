// Reshape (a view), permute/transpose (copies), select/slice along an axis, and concat.
import CFreeLBKernels

/// Row-major strides.
func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var s = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) { strides[i] = s; s *= shape[i] }
    return strides
}

extension Tensor {
    /// Same data, new shape; one axis may be −1.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var resolved = newShape
        if let unknown = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != unknown }.map(\.element).reduce(1, *)
            shapeCheck(known > 0 && count % known == 0, "reshape: \(shape) into \(newShape)")
            resolved[unknown] = count / known
        }
        shapeCheck(resolved.reduce(1, *) == count, "reshape: \(shape) (\(count) elements) into \(newShape)")
        let out = Tensor(storage: storage, shape: resolved)
        return out.record([self]) { g, ctx in ctx.add(g, into: self) }
    }

    /// Axes reordered: out.shape[i] = shape[axes[i]].
    public func permuted(_ axes: [Int]) -> Tensor {
        shapeCheck(axes.sorted() == Array(0..<rank), "permute: \(axes) is not a permutation of \(rank) axes")
        let outShape = axes.map { shape[$0] }
        let inStrides = contiguousStrides(shape)
        let gatherStrides = axes.map { inStrides[$0] }  // input stride per output axis
        let out = Tensor(uninitializedShape: outShape)
        permuteCopy(from: data, to: out.data, outShape: outShape, inputStrides: gatherStrides, scatter: false)
        return out.record([self]) { g, ctx in
            ctx.write(into: self) { dx in
                permuteCopy(from: g, to: dx, outShape: outShape, inputStrides: gatherStrides, scatter: true)
            }
        }
    }

    /// Swaps two axes.
    public func transposed(_ a: Int, _ b: Int) -> Tensor {
        var axes = Array(0..<rank)
        axes.swapAt(a < 0 ? rank + a : a, b < 0 ? rank + b : b)
        return permuted(axes)
    }

    /// Index `index` along `axis`, removing that axis (e.g. the [CLS] row: x[:, 0, :]).
    public func select(axis: Int, index: Int) -> Tensor {
        let s = slice(axis: axis, range: index..<(index + 1))
        var newShape = shape
        newShape.remove(at: axis < 0 ? rank + axis : axis)
        return s.reshaped(newShape)
    }

    /// Elements `range` along `axis`.
    public func slice(axis: Int, range: Range<Int>) -> Tensor {
        let ax = axis < 0 ? rank + axis : axis
        shapeCheck(range.lowerBound >= 0 && range.upperBound <= shape[ax], "slice: \(range) out of axis \(ax) of \(shape)")
        let outer = shape[..<ax].reduce(1, *), inner = shape[(ax + 1)...].reduce(1, *)
        var outShape = shape
        outShape[ax] = range.count
        let out = Tensor(uninitializedShape: outShape)
        let block = range.count * inner, srcBlock = shape[ax] * inner, start = range.lowerBound * inner
        for o in 0..<outer { (out.data + o * block).update(from: data + o * srcBlock + start, count: block) }
        return out.record([self]) { g, ctx in
            guard let dx = ctx.accumulatingSlot(self) else { return }
            for o in 0..<outer { flb_add_inplace(dx + o * srcBlock + start, g + o * block, block) }
        }
    }

    /// Joins tensors along `axis`; other axes must agree.
    public static func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
        shapeCheck(!tensors.isEmpty, "concat: no tensors")
        let first = tensors[0]
        let ax = axis < 0 ? first.rank + axis : axis
        for t in tensors {
            shapeCheck(
                t.rank == first.rank
                    && t.shape.enumerated().allSatisfy { $0.offset == ax || $0.element == first.shape[$0.offset] },
                "concat: \(t.shape) does not match \(first.shape) outside axis \(ax)")
        }
        let outer = first.shape[..<ax].reduce(1, *), inner = first.shape[(ax + 1)...].reduce(1, *)
        var outShape = first.shape
        outShape[ax] = tensors.map { $0.shape[ax] }.reduce(0, +)
        let out = Tensor(uninitializedShape: outShape)
        let outBlock = outShape[ax] * inner
        var offset = 0
        var offsets: [Int] = []
        for t in tensors {
            offsets.append(offset)
            let block = t.shape[ax] * inner
            for o in 0..<outer { (out.data + o * outBlock + offset).update(from: t.data + o * block, count: block) }
            offset += block
        }
        return out.record(tensors) { g, ctx in
            for (t, off) in zip(tensors, offsets) {
                let block = t.shape[ax] * inner
                ctx.write(into: t) { dx in
                    for o in 0..<outer { (dx + o * block).update(from: g + o * outBlock + off, count: block) }
                }
            }
        }
    }
}

/// out[i] = in[Σ idx·inputStrides] (or the reverse scatter dx[...] = g[i] when `scatter`).
func permuteCopy(
    from src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, outShape: [Int],
    inputStrides: [Int], scatter: Bool
) {
    let total = outShape.reduce(1, *)
    if total == 0 { return }
    let rank = outShape.count
    var index = [Int](repeating: 0, count: rank)
    var offset = 0
    let lastStride = inputStrides[rank - 1], lastDim = outShape[rank - 1]
    var i = 0
    while i < total {
        // innermost axis
        if scatter {
            for j in 0..<lastDim { dst[offset + j * lastStride] = src[i + j] }
        } else {
            for j in 0..<lastDim { dst[i + j] = src[offset + j * lastStride] }
        }
        i += lastDim
        advanceIndex(&index, offset: &offset, shape: outShape, strides: inputStrides, lastAxis: rank - 2)
    }
}
