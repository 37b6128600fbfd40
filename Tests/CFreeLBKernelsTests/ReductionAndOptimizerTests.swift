// Reductions (float lanes summed into double per 1024-element block) and the AdamW step.
import CFreeLBKernels
import Foundation
import XCTest

final class ReductionAndOptimizerTests: XCTestCase {
    /// Each lane accumulates ≤ 32 floats per block before the block's lanes go to double, so
    /// |err| ≤ 33 · 6e-8 · Σ|term| ≈ 2e-6 · Σ|term|.
    func testSumsAndDotMatchDoubleWithinBlockRoundingBound() {
        var rng = TestRNG(seed: 20)
        forEachISA { isa in
            for n in oddSizes + [100_003] {
                let a = rng.floats(n, -2, 3), b = rng.floats(n)
                let sum = a.reduce(0.0) { $0 + Double($1) }, absSum = a.reduce(0.0) { $0 + abs(Double($1)) }
                XCTAssertEqual(flb_sum(a, n), sum, accuracy: 2e-6 * absSum, "\(isa) sum n=\(n)")
                let squares = a.reduce(0.0) { $0 + Double($1) * Double($1) }
                XCTAssertEqual(flb_sum_squares(a, n), squares, accuracy: 2e-6 * squares, "\(isa) sum_squares n=\(n)")
                let dotTerms = zip(a, b).map { Double($0) * Double($1) }
                XCTAssertEqual(
                    flb_dot(a, b, n), dotTerms.reduce(0, +), accuracy: 2e-6 * dotTerms.reduce(0) { $0 + abs($1) },
                    "\(isa) dot n=\(n)")
                XCTAssertEqual(flb_max_abs(a, n), a.map(abs).max()!, "\(isa) max_abs is exact n=\(n)")
            }
            XCTAssertEqual(flb_sum([], 0), 0, "\(isa) empty sum")
            XCTAssertEqual(flb_max_abs([-7, 3], 2), 7, "\(isa)")
        }
    }

    /// Three AdamW steps vs the PyTorch formula in double on the same inputs:
    /// p ← p(1 − lr·wd); m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²;
    /// p ← p − lr/(1−β1^t) · m / (sqrt(v)/sqrt(1−β2^t) + eps). Tolerance 1e-6 relative to |p| (≈ float
    /// rounding of a handful of operations, compounded over 3 steps); m and v to 1e-6 of their scales
    /// max|g| = 0.1 and (1 − β2) max g² = 1e-5, since m mixes gradients of both signs.
    func testAdamWMatchesPyTorchFormula() {
        var rng = TestRNG(seed: 21)
        forEachISA { isa in
            for n in oddSizes {
                var p = rng.floats(n), m = [Float](repeating: 0, count: n), v = m
                var pd = p.map(Double.init), md = [Double](repeating: 0, count: n), vd = md
                let lr: Float = 1e-3, b1: Float = 0.9, b2: Float = 0.999, eps: Float = 1e-8, wd: Float = 0.01
                for t in 1...3 {
                    let g = rng.floats(n, -0.1, 0.1)
                    let bias1 = 1 - pow(b1, Float(t)), bias2 = 1 - pow(b2, Float(t))
                    flb_adamw_step(&p, g, &m, &v, n, lr, b1, b2, eps, wd, bias1, bias2)
                    for i in 0..<n {
                        pd[i] *= 1 - Double(lr) * Double(wd)
                        md[i] = Double(b1) * md[i] + (1 - Double(b1)) * Double(g[i])
                        vd[i] = Double(b2) * vd[i] + (1 - Double(b2)) * Double(g[i]) * Double(g[i])
                        let denom = vd[i].squareRoot() / Double(bias2).squareRoot() + Double(eps)
                        pd[i] -= Double(lr) / Double(bias1) * md[i] / denom
                    }
                }
                XCTAssertLessThanOrEqual(maxScaledError(p, pd, floor: 1e-3).error, 1e-6, "\(isa) adamw p n=\(n)")
                XCTAssertLessThanOrEqual(maxScaledError(m, md, floor: 0.1).error, 1e-6, "\(isa) adamw m n=\(n)")
                XCTAssertLessThanOrEqual(maxScaledError(v, vd, floor: 1e-5).error, 1e-6, "\(isa) adamw v n=\(n)")
            }
        }
    }
}
