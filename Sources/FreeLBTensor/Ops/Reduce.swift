// Sums, means, and the per-example norms used by the adversarial ascent steps.
import CFreeLBKernels

extension Tensor {
    /// Σ of all elements → scalar [].
    public func sum() -> Tensor {
        let out = Tensor(shape: [], values: [Float(Kernels.sum(data, count))])
        let n = count
        return out.record([self]) { g, ctx in
            let v = g[0]
            ctx.write(into: self) { dx in flb_fill(dx, v, n) }
        }
    }

    /// Number of NaN or infinite elements.
    public var nonFiniteCount: Int { flb_count_nonfinite(data, count) }

    /// Mean of all elements → scalar [].
    public func mean() -> Tensor { sum().scaled(by: 1 / Float(count)) }

    /// Σ along `axis` (removed unless keepingDimension).
    public func sum(axis: Int, keepingDimension: Bool = false) -> Tensor {
        let ax = axis < 0 ? rank + axis : axis
        let outer = shape[..<ax].reduce(1, *), n = shape[ax], inner = shape[(ax + 1)...].reduce(1, *)
        var outShape = shape
        if keepingDimension { outShape[ax] = 1 } else { outShape.remove(at: ax) }
        let out = Tensor(zeros: outShape)
        for o in 0..<outer {
            for j in 0..<n { flb_add_inplace(out.data + o * inner, data + (o * n + j) * inner, inner) }
        }
        return out.record([self]) { g, ctx in
            ctx.write(into: self) { dx in
                for o in 0..<outer {
                    for j in 0..<n { (dx + (o * n + j) * inner).update(from: g + o * inner, count: inner) }
                }
            }
        }
    }

    public func mean(axis: Int, keepingDimension: Bool = false) -> Tensor {
        sum(axis: axis, keepingDimension: keepingDimension).scaled(by: 1 / Float(dim(axis)))
    }

    /// ‖x_b‖_F over every axis but the first → [B].
    public func perExampleNorm() -> Tensor {
        let b = shape[0], inner = count / max(1, b)
        let out = Tensor(uninitializedShape: [b])
        for i in 0..<b { out.data[i] = Float(flb_sum_squares(data + i * inner, inner).squareRoot()) }
        return out.record([self]) { [unowned out] g, ctx in
            // d‖x‖/dx = x / ‖x‖ (0 where ‖x‖ = 0)
            ctx.write(into: self) { dx in
                for i in 0..<b {
                    let norm = out.data[i]
                    flb_scale(self.data + i * inner, norm > 0 ? g[i] / norm : 0, dx + i * inner, inner)
                }
            }
        }
    }

    /// max |x_b| over every axis but the first → [B].
    public func perExampleMaxAbs() -> Tensor {
        let b = shape[0], inner = count / max(1, b)
        let out = Tensor(uninitializedShape: [b])
        for i in 0..<b { out.data[i] = flb_max_abs(data + i * inner, inner) }
        return out.record([self]) { [unowned out] g, ctx in
            // the gradient goes to the first element attaining the max, with its sign
            guard let dx = ctx.accumulatingSlot(self) else { return }
            for i in 0..<b {
                let m = out.data[i]
                if let j = (0..<inner).first(where: { abs(self.data[i * inner + $0]) == m }), m > 0 {
                    dx[i * inner + j] += self.data[i * inner + j] > 0 ? g[i] : -g[i]
                }
            }
        }
    }
}
