// Row kernels over [rows, cols]: softmax (with additive masks), log-softmax, LayerNorm, bias rows.
import CFreeLBKernels
import Foundation
import XCTest

final class RowKernelTests: XCTestCase {
    private func softmaxReference(_ x: [Float], rows: Int, cols: Int, scale: Float, mask: [Float]?, rowsPerMask: Int) -> [Double]
    {
        var out = [Double](repeating: 0, count: rows * cols)
        for r in 0..<rows {
            let v = (0..<cols).map { c in Double(scale * x[r * cols + c] + (mask?[(r / rowsPerMask) * cols + c] ?? 0)) }
            let m = v.max()!
            let e = v.map { exp($0 - m) }
            let s = e.reduce(0, +)
            for c in 0..<cols { out[r * cols + c] = e[c] / s }
        }
        return out
    }

    /// |p − p_double| ≤ 1e-6 absolute (probabilities are ≤ 1; exp is ~1 ulp, the sum in double).
    func testSoftmaxForwardMatchesDoubleWithin1e6() {
        var rng = TestRNG(seed: 10)
        forEachISA { isa in
            for (rows, cols) in rowShapes {
                let x = rng.floats(rows * cols, -8, 8)
                var y = [Float](repeating: .nan, count: rows * cols)
                flb_softmax_forward(x, &y, rows, cols, 0.125, nil, 1)
                let want = softmaxReference(x, rows: rows, cols: cols, scale: 0.125, mask: nil, rowsPerMask: 1)
                XCTAssertLessThanOrEqual(maxScaledError(y, want, floor: 1).error, 1e-6, "\(isa) softmax \(rows)x\(cols)")
            }
        }
    }

    /// Keys masked with −1e30, −3.4e38 (≈ −FLT_MAX) or −inf get exactly 0; a row whose keys are all
    /// masked is uniform (1/cols) and finite. The mask row is shared by `rowsPerMask` query rows.
    func testSoftmaxMaskedKeysAreExactlyZeroAndFullyMaskedRowIsUniform() {
        var rng = TestRNG(seed: 11)
        forEachISA { isa in
            for maskValue: Float in [-1e30, -3.4e38, -.greatestFiniteMagnitude, -.infinity] {
                for (rows, cols) in [(6, 7), (4, 128), (6, 37)] {
                    let rowsPerMask = 2
                    let maskRows = rows / rowsPerMask
                    var mask = [Float](repeating: 0, count: maskRows * cols)
                    for c in 0..<cols where c % 3 == 1 { mask[c] = maskValue }  // mask row 0: some keys
                    for c in 0..<cols { mask[cols + c] = maskValue }  // mask row 1: all keys
                    let x = rng.floats(rows * cols, -30, 30)
                    var y = [Float](repeating: .nan, count: rows * cols)
                    flb_softmax_forward(x, &y, rows, cols, 1, mask, rowsPerMask)
                    XCTAssertFalse(y.contains { !$0.isFinite }, "\(isa) mask \(maskValue) \(rows)x\(cols): finite")
                    for r in 0..<rows {
                        let row = Array(y[r * cols..<(r + 1) * cols])
                        switch r / rowsPerMask {
                        case 0:
                            for c in 0..<cols where c % 3 == 1 { XCTAssertEqual(row[c], 0, "\(isa) masked key is exactly 0") }
                            XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-5, "\(isa) row sums to 1")
                        case 1:
                            for c in 0..<cols {
                                XCTAssertEqual(row[c], 1 / Float(cols), accuracy: 1e-7, "\(isa) fully masked row is uniform")
                            }
                        default:
                            XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-5, "\(isa) unmasked row sums to 1")
                        }
                    }
                }
            }
        }
    }

    /// dx = scale · y ⊙ (dy − Σ dy·y): ≤ 1e-6 · max(1, |dx|) vs double on the same y.
    func testSoftmaxBackwardMatchesDouble() {
        var rng = TestRNG(seed: 12)
        forEachISA { isa in
            for (rows, cols) in rowShapes {
                var y = [Float](repeating: 0, count: rows * cols)
                flb_softmax_forward(rng.floats(rows * cols, -4, 4), &y, rows, cols, 1, nil, 1)
                let dy = rng.floats(rows * cols)
                var dx = [Float](repeating: .nan, count: rows * cols)
                flb_softmax_backward(y, dy, &dx, rows, cols, 0.5)
                var want = [Double](repeating: 0, count: rows * cols)
                for r in 0..<rows {
                    let dot = (0..<cols).reduce(0.0) { $0 + Double(dy[r * cols + $1]) * Double(y[r * cols + $1]) }
                    for c in 0..<cols { let i = r * cols + c; want[i] = 0.5 * Double(y[i]) * (Double(dy[i]) - dot) }
                }
                XCTAssertLessThanOrEqual(
                    maxScaledError(dx, want, floor: 1).error, 1e-6, "\(isa) softmax backward \(rows)x\(cols)")
            }
        }
    }

    /// log-softmax: ≤ 1e-6 · max(1, |y|) (y ≈ −log cols: float rounding of x − lse);
    /// backward dx = dy − exp(y) Σ dy: ≤ 1e-6 · max(1, |dx|).
    func testLogSoftmaxForwardAndBackwardMatchDouble() {
        var rng = TestRNG(seed: 13)
        forEachISA { isa in
            for (rows, cols) in rowShapes {
                let x = rng.floats(rows * cols, -8, 8)
                var y = [Float](repeating: .nan, count: rows * cols), dx = y
                flb_log_softmax_forward(x, &y, rows, cols)
                var want = [Double](repeating: 0, count: rows * cols)
                for r in 0..<rows {
                    let v = (0..<cols).map { Double(x[r * cols + $0]) }
                    let m = v.max()!
                    let lse = m + log(v.reduce(0) { $0 + exp($1 - m) })
                    for c in 0..<cols { want[r * cols + c] = v[c] - lse }
                }
                XCTAssertLessThanOrEqual(maxScaledError(y, want, floor: 1).error, 1e-6, "\(isa) log_softmax \(rows)x\(cols)")
                let dy = rng.floats(rows * cols)
                flb_log_softmax_backward(y, dy, &dx, rows, cols)
                var wantDx = [Double](repeating: 0, count: rows * cols)
                for r in 0..<rows {
                    let s = (0..<cols).reduce(0.0) { $0 + Double(dy[r * cols + $1]) }
                    for c in 0..<cols { let i = r * cols + c; wantDx[i] = Double(dy[i]) - exp(Double(y[i])) * s }
                }
                XCTAssertLessThanOrEqual(
                    maxScaledError(dx, wantDx, floor: 1).error, 1e-6, "\(isa) log_softmax backward \(rows)x\(cols)")
            }
        }
    }

    /// LayerNorm forward: |y − y_double| ≤ 2e-6 · max(1, max|y|) per shape; mean and rstd saved
    /// to ≤ 1e-6 relative. Inputs have a large offset (mean ≈ 3) to exercise the two-pass variance.
    func testLayerNormForwardMatchesDoubleWithin2e6OfMax() {
        var rng = TestRNG(seed: 14)
        forEachISA { isa in
            for (rows, cols) in rowShapes {
                let x = rng.floats(rows * cols, 2, 4), gamma = rng.floats(cols, 0.5, 1.5), beta = rng.floats(cols)
                var y = [Float](repeating: .nan, count: rows * cols)
                var mean = [Float](repeating: .nan, count: rows), rstd = mean
                flb_layernorm_forward(x, gamma, beta, &y, &mean, &rstd, rows, cols, 1e-12)
                var want = [Double](repeating: 0, count: rows * cols)
                for r in 0..<rows {
                    let v = (0..<cols).map { Double(x[r * cols + $0]) }
                    let mu = v.reduce(0, +) / Double(cols)
                    let variance = v.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(cols)
                    let rs = 1 / (variance + 1e-12).squareRoot()
                    XCTAssertEqual(Double(mean[r]), mu, accuracy: 1e-6 * abs(mu), "\(isa) mean")
                    XCTAssertEqual(Double(rstd[r]), rs, accuracy: 1e-6 * rs, "\(isa) rstd")
                    for c in 0..<cols { want[r * cols + c] = (v[c] - mu) * rs * Double(gamma[c]) + Double(beta[c]) }
                }
                let peak = max(1, want.map(abs).max()!)
                XCTAssertLessThanOrEqual(maxScaledError(y, want, floor: peak).error, 2e-6, "\(isa) layernorm \(rows)x\(cols)")
            }
        }
    }

    /// LayerNorm backward vs the double closed form (same saved mean/rstd):
    /// dx = rstd (g − mean g − x̂ mean(g x̂)), g = dy γ; dγ += Σ dy x̂; dβ += Σ dy (accumulating onto 1).
    /// Tolerance 2e-6 · max(1, max|ref|) per tensor.
    func testLayerNormBackwardMatchesDoubleAndAccumulatesParameterGrads() {
        var rng = TestRNG(seed: 15)
        forEachISA { isa in
            for (rows, cols) in rowShapes {
                let x = rng.floats(rows * cols, -2, 2), gamma = rng.floats(cols, 0.5, 1.5), beta = rng.floats(cols)
                var y = [Float](repeating: 0, count: rows * cols)
                var mean = [Float](repeating: 0, count: rows), rstd = mean
                flb_layernorm_forward(x, gamma, beta, &y, &mean, &rstd, rows, cols, 1e-5)
                let dy = rng.floats(rows * cols)
                var dx = [Float](repeating: .nan, count: rows * cols)
                var dgamma = [Float](repeating: 1, count: cols), dbeta = dgamma
                flb_layernorm_backward(x, gamma, mean, rstd, dy, &dx, &dgamma, &dbeta, rows, cols)
                var wantDx = [Double](repeating: 0, count: rows * cols)
                var wantDg = [Double](repeating: 1, count: cols), wantDb = wantDg
                for r in 0..<rows {
                    let rs = Double(rstd[r]), mu = Double(mean[r])
                    let xh = (0..<cols).map { (Double(x[r * cols + $0]) - mu) * rs }
                    let g = (0..<cols).map { Double(dy[r * cols + $0]) * Double(gamma[$0]) }
                    let m1 = g.reduce(0, +) / Double(cols)
                    let m2 = zip(g, xh).reduce(0) { $0 + $1.0 * $1.1 } / Double(cols)
                    for c in 0..<cols {
                        wantDx[r * cols + c] = rs * (g[c] - m1 - xh[c] * m2)
                        wantDg[c] += Double(dy[r * cols + c]) * xh[c]
                        wantDb[c] += Double(dy[r * cols + c])
                    }
                }
                for (name, got, want) in [("dx", dx, wantDx), ("dgamma", dgamma, wantDg), ("dbeta", dbeta, wantDb)] {
                    let peak = max(1, want.map(abs).max()!)
                    XCTAssertLessThanOrEqual(
                        maxScaledError(got, want, floor: peak).error, 2e-6, "\(isa) layernorm backward \(name) \(rows)x\(cols)")
                }
            }
        }
    }

    /// add_bias_rows is exact (one float add); sum_rows_accumulate sums in blocks of 32 rows:
    /// |err| ≤ (32 + rows/32 + 2) · 6e-8 · Σ|x| per column.
    func testBiasRowsAndColumnSums() {
        var rng = TestRNG(seed: 16)
        forEachISA { isa in
            for (rows, cols) in rowShapes + [(1000, 300)] {
                let x = rng.floats(rows * cols), bias = rng.floats(cols)
                var y = x
                flb_add_bias_rows(&y, bias, rows, cols)
                XCTAssertEqual(y, (0..<rows * cols).map { x[$0] + bias[$0 % cols] }, "\(isa) add_bias_rows \(rows)x\(cols)")
                var out = [Float](repeating: 0.5, count: cols)
                flb_sum_rows_accumulate(x, &out, rows, cols)
                for c in 0..<cols {
                    let col = (0..<rows).map { Double(x[$0 * cols + c]) }
                    let bound = Double(32 + rows / 32 + 2) * 6e-8 * (col.reduce(0) { $0 + abs($1) } + 0.5)
                    XCTAssertEqual(Double(out[c]), 0.5 + col.reduce(0, +), accuracy: bound, "\(isa) sum_rows column \(c)")
                }
            }
        }
    }
}
