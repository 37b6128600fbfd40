// Losses: cross-entropy over classes (mean, or per example; optional ignored labels) and mean squared error.
import CFreeLBKernels
import Foundation

extension Tensor {
    /// Mean cross-entropy of logits [N, C] against class ids `labels` [N]. Labels < 0 are ignored
    /// (HF's −100); the mean runs over the remaining rows. Returns a scalar [].
    public func crossEntropy(labels: [Int32]) -> Tensor {
        shapeCheck(rank == 2 && labels.count == shape[0], "crossEntropy: logits \(shape) for \(labels.count) labels")
        let (n, c) = (shape[0], shape[1])
        let logp = Tensor(uninitializedShape: shape)
        flb_log_softmax_forward(data, logp.data, n, c)
        var total = 0.0
        var valid = 0
        for i in 0..<n where labels[i] >= 0 {
            precondition(Int(labels[i]) < c, "crossEntropy: label \(labels[i]) ≥ \(c) classes")
            total -= Double(logp.data[i * c + Int(labels[i])])
            valid += 1
        }
        let denominator = Float(max(valid, 1))
        let out = Tensor(shape: [], values: [Float(total) / denominator])
        return out.record([self]) { g, ctx in
            // d/dlogits = (softmax − onehot) · g / valid, zero on ignored rows
            let scale = g[0] / denominator
            ctx.write(into: self) { dx in Tensor.crossEntropyGradient(dx, logp: logp, labels: labels) { _ in scale } }
        }
    }

    /// Cross-entropy of every row of logits [N, C] against class ids `labels` [N] → [N]; rows with a
    /// label < 0 are ignored (loss 0, no gradient). `crossEntropy` is the mean of the kept rows.
    public func crossEntropyPerExample(labels: [Int32]) -> Tensor {
        shapeCheck(rank == 2 && labels.count == shape[0], "crossEntropyPerExample: logits \(shape) for \(labels.count) labels")
        let (n, c) = (shape[0], shape[1])
        let logp = Tensor(uninitializedShape: shape)
        flb_log_softmax_forward(data, logp.data, n, c)
        let out = Tensor(zeros: [n])
        for i in 0..<n where labels[i] >= 0 {
            precondition(Int(labels[i]) < c, "crossEntropyPerExample: label \(labels[i]) ≥ \(c) classes")
            out.data[i] = -logp.data[i * c + Int(labels[i])]
        }
        return out.record([self]) { g, ctx in
            // d/dlogits row i = (softmax_i − onehot_i) · g_i
            ctx.write(into: self) { dx in Tensor.crossEntropyGradient(dx, logp: logp, labels: labels) { g[$0] } }
        }
    }

    /// dx [N, C] row i = (exp(logp_i) − onehot(labels_i)) · scale(i); zero rows where labels_i < 0.
    private static func crossEntropyGradient(
        _ dx: UnsafeMutablePointer<Float>, logp: Tensor, labels: [Int32],
        scale: (Int) -> Float
    ) {
        let (n, c) = (logp.shape[0], logp.shape[1])
        for i in 0..<n {
            let row = dx + i * c
            if labels[i] < 0 { row.initialize(repeating: 0, count: c); continue }
            let s = scale(i)
            for j in 0..<c { row[j] = Foundation.exp(logp.data[i * c + j]) * s }
            row[Int(labels[i])] -= s
        }
    }

    /// mean((x − target)²) over all elements (x is [N] or [N, 1]). Returns a scalar [].
    public func meanSquaredError(target: [Float]) -> Tensor {
        shapeCheck(count == target.count, "meanSquaredError: predictions \(shape) for \(target.count) targets")
        var total = 0.0
        for i in 0..<count { let d = Double(data[i] - target[i]); total += d * d }
        let n = count
        let out = Tensor(shape: [], values: [Float(total / Double(n))])
        return out.record([self]) { g, ctx in
            let scale = 2 * g[0] / Float(n)
            ctx.write(into: self) { dx in for i in 0..<n { dx[i] = (self.data[i] - target[i]) * scale } }
        }
    }
}
