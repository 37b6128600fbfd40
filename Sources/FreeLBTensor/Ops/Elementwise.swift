// Elementwise ops with NumPy broadcasting, activations and scalar ops, with their backward rules.
import CFreeLBKernels
import FreeLBBLAS

/// NumPy broadcast of two shapes, nil if incompatible.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
    let rank = max(a.count, b.count)
    var out = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
        let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
        let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
        if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
    }
    return out
}

/// Element strides of `shape` when broadcast to `target` (0 along broadcast axes).
func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
    var strides = [Int](repeating: 0, count: target.count)
    var step = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        let t = i + target.count - shape.count
        strides[t] = shape[i] == 1 && target[t] != 1 ? 0 : step
        step *= shape[i]
    }
    return strides
}

/// Visits every element of `target` with the matching flat offset into a tensor of `shape`.
func forEachBroadcastOffset(_ shape: [Int], to target: [Int], _ body: (_ outIndex: Int, _ offset: Int) -> Void) {
    let strides = broadcastStrides(shape, to: target)
    let total = target.reduce(1, *)
    if total == 0 { return }
    var index = [Int](repeating: 0, count: target.count)
    var offset = 0
    for out in 0..<total {
        body(out, offset)
        advanceIndex(&index, offset: &offset, shape: target, strides: strides, lastAxis: target.count - 1)
    }
}

/// Steps a row-major multi-index over `shape` by one along `lastAxis` (carrying into the outer axes, like an
/// odometer) and keeps `offset` = Σ index[a]·strides[a].
@inline(__always)
func advanceIndex(_ index: inout [Int], offset: inout Int, shape: [Int], strides: [Int], lastAxis: Int) {
    var axis = lastAxis
    while axis >= 0 {
        index[axis] += 1
        offset += strides[axis]
        if index[axis] < shape[axis] { return }
        offset -= strides[axis] * index[axis]
        index[axis] = 0
        axis -= 1
    }
}

/// Sums a gradient of shape `from` down to `shape` (the reverse of broadcasting), adding into `dst`.
func reduceBroadcast(_ src: UnsafePointer<Float>, from: [Int], into dst: UnsafeMutablePointer<Float>, shape: [Int]) {
    let n = shape.reduce(1, *)
    let total = from.reduce(1, *)
    if n == total { flb_add_inplace(dst, src, total); return }
    if n > 0, from.count >= shape.count, Array(from.suffix(shape.count)) == shape {
        flb_sum_rows_accumulate(src, dst, total / n, n)  // [R, n] → [n]
        return
    }
    forEachBroadcastOffset(shape, to: from) { out, offset in dst[offset] += src[out] }
}

enum BinaryKind { case add, sub, mul, div }

func binaryOp(_ a: Tensor, _ b: Tensor, _ kind: BinaryKind) -> Tensor {
    guard let outShape = broadcastShape(a.shape, b.shape) else {
        preconditionFailure("shape error: cannot broadcast \(a.shape) with \(b.shape)")
    }
    let out = Tensor(uninitializedShape: outShape)
    let n = out.count
    let (pa, pb, py) = (a.data, b.data, out.data)
    if a.count == n && b.count == n {
        switch kind {
        case .add: Kernels.binary(flb_add, pa, pb, py, n)
        case .sub: Kernels.binary(flb_sub, pa, pb, py, n)
        case .mul: Kernels.binary(flb_mul, pa, pb, py, n)
        case .div: Kernels.binary(flb_div, pa, pb, py, n)
        }
    } else {
        var offsetsA = [Int](repeating: 0, count: n), offsetsB = [Int](repeating: 0, count: n)
        forEachBroadcastOffset(a.shape, to: outShape) { i, o in offsetsA[i] = o }
        forEachBroadcastOffset(b.shape, to: outShape) { i, o in offsetsB[i] = o }
        for i in 0..<n {
            let x = pa[offsetsA[i]], y = pb[offsetsB[i]]
            switch kind {
            case .add: py[i] = x + y
            case .sub: py[i] = x - y
            case .mul: py[i] = x * y
            case .div: py[i] = x / y
            }
        }
    }
    return out.record([a, b]) { g, ctx in
        let sameA = a.count == n, sameB = b.count == n
        func give(_ t: Tensor, _ full: UnsafePointer<Float>) {
            if t.count == n {
                ctx.add(full, into: t)
            } else if let dst = ctx.accumulatingSlot(t) {
                reduceBroadcast(full, from: outShape, into: dst, shape: t.shape)
            }
        }
        switch kind {
        case .add:
            give(a, g); give(b, g)
        case .sub:
            give(a, g)
            if ctx.needs(b) {
                let neg = Tensor(uninitializedShape: outShape)
                Kernels.scale(g, -1, neg.data, n)
                give(b, neg.data)
            }
        case .mul, .div:
            let bFull = sameB ? b : b.expanded(to: outShape)
            let aFull = sameA ? a : a.expanded(to: outShape)
            if ctx.needs(a) {
                let t = Tensor(uninitializedShape: outShape)
                Kernels.binary(kind == .mul ? flb_mul : flb_div, g, bFull.data, t.data, n)
                give(a, t.data)
            }
            if ctx.needs(b) {
                let t = Tensor(uninitializedShape: outShape)
                if kind == .mul {
                    Kernels.binary(flb_mul, g, aFull.data, t.data, n)
                } else {  // d(a/b)/db = −a/b² = −out/b
                    for i in 0..<n { t.data[i] = -g[i] * py[i] / bFull.data[i] }
                }
                give(b, t.data)
            }
        }
    }
}

extension Tensor {
    /// A copy broadcast to `target` (no graph).
    func expanded(to target: [Int]) -> Tensor {
        let out = Tensor(uninitializedShape: target)
        let p = data, q = out.data
        forEachBroadcastOffset(shape, to: target) { i, o in q[i] = p[o] }
        return out
    }
}

public func + (a: Tensor, b: Tensor) -> Tensor { binaryOp(a, b, .add) }
public func - (a: Tensor, b: Tensor) -> Tensor { binaryOp(a, b, .sub) }
public func * (a: Tensor, b: Tensor) -> Tensor { binaryOp(a, b, .mul) }
public func / (a: Tensor, b: Tensor) -> Tensor { binaryOp(a, b, .div) }
public func * (a: Tensor, s: Float) -> Tensor { a.scaled(by: s) }
public func * (s: Float, a: Tensor) -> Tensor { a.scaled(by: s) }
public prefix func - (a: Tensor) -> Tensor { a.scaled(by: -1) }

extension Tensor {
    /// s · x
    public func scaled(by s: Float) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        Kernels.scale(data, s, out.data, count)
        return out.record([self]) { g, ctx in ctx.add(g, scaledBy: s, into: self) }
    }

    /// x + s
    public func adding(_ s: Float) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        for i in 0..<count { out.data[i] = data[i] + s }
        return out.record([self]) { g, ctx in ctx.add(g, into: self) }
    }

    /// Applies a C forward kernel y = f(x) and a backward kernel dx = f'(·) ⊙ dy that reads
    /// either the input (`backwardFromOutput == false`) or the output.
    func unaryActivation(
        _ forward: @escaping Kernels.Unary,
        _ backward: @escaping (UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void,
        backwardFromOutput: Bool = false
    ) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        Kernels.unary(forward, data, out.data, count)
        let n = count
        return out.record([self]) { [unowned out] g, ctx in
            let saved = backwardFromOutput ? out.data : self.data
            ctx.write(into: self) { dx in
                Kernels.elementwise(n) { s, c in backward(saved + s, g + s, dx + s, c) }
            }
        }
    }

    /// Exact GELU: 0.5 x (1 + erf(x/√2)).
    public func gelu() -> Tensor { unaryActivation(flb_gelu_erf_forward, flb_gelu_erf_backward) }
    /// tanh-approximated GELU (HF "gelu_new").
    public func geluTanh() -> Tensor { unaryActivation(flb_gelu_tanh_forward, flb_gelu_tanh_backward) }
    public func relu() -> Tensor { unaryActivation(flb_relu_forward, flb_relu_backward) }
    public func tanh() -> Tensor { unaryActivation(flb_tanh_forward, flb_tanh_backward, backwardFromOutput: true) }
}
