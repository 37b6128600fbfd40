// Elementwise kernels and activations vs double-precision references.
import CFreeLBKernels
import Foundation
import XCTest

final class ElementwiseKernelTests: XCTestCase {
    /// IEEE add/sub/mul/div are correctly rounded, so the kernels must equal Swift's Float ops bit for bit.
    func testBinaryOpsEqualCorrectlyRoundedFloatOps() {
        var rng = TestRNG(seed: 1)
        forEachISA { isa in
            for n in oddSizes {
                let a = rng.floats(n, -3, 3), b = rng.floats(n, 0.5, 2)
                var y = [Float](repeating: .nan, count: n)
                let cases:
                    [(
                        String, (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void,
                        (Float, Float) -> Float
                    )] = [
                        ("add", flb_add, { $0 + $1 }), ("sub", flb_sub, { $0 - $1 }),
                        ("mul", flb_mul, { $0 * $1 }), ("div", flb_div, { $0 / $1 })
                    ]
                for (name, kernel, op) in cases {
                    kernel(a, b, &y, n)
                    XCTAssertEqual(y, zip(a, b).map(op), "\(isa) \(name) n=\(n)")
                }
                flb_scale(a, 0.37, &y, n)
                XCTAssertEqual(y, a.map { $0 * 0.37 }, "\(isa) scale n=\(n)")
                y = b
                flb_add_inplace(&y, a, n)
                XCTAssertEqual(y, zip(b, a).map { $0 + $1 }, "\(isa) add_inplace n=\(n)")
                flb_fill(&y, 2.5, n)
                XCTAssertEqual(y, [Float](repeating: 2.5, count: n), "\(isa) fill n=\(n)")
            }
        }
    }

    /// axpy and mul_accumulate may fuse a·x + y into one FMA: error ≤ 1 ulp of the terms,
    /// checked as |got − exact| ≤ 1.2e-7 · (|a·x| + |y|).
    func testFusedMultiplyAddKernelsWithinOneUlpOfExact() {
        var rng = TestRNG(seed: 2)
        forEachISA { isa in
            for n in oddSizes {
                let a = rng.floats(n, -3, 3), b = rng.floats(n, -3, 3), y0 = rng.floats(n, -3, 3)
                var y = y0
                flb_axpy(0.7, a, &y, n)
                for i in 0..<n {
                    let term = Double(Float(0.7)) * Double(a[i])
                    XCTAssertLessThanOrEqual(
                        abs(Double(y[i]) - (term + Double(y0[i]))), 1.2e-7 * (abs(term) + abs(Double(y0[i]))),
                        "\(isa) axpy n=\(n) i=\(i)")
                }
                y = y0
                flb_mul_accumulate(a, b, &y, n)
                for i in 0..<n {
                    let term = Double(a[i]) * Double(b[i])
                    XCTAssertLessThanOrEqual(
                        abs(Double(y[i]) - (term + Double(y0[i]))), 1.2e-7 * (abs(term) + abs(Double(y0[i]))),
                        "\(isa) mul_accumulate n=\(n) i=\(i)")
                }
            }
        }
    }

    /// Inputs: a dense sweep of [−12, 12] (where erf/tanh change) plus random ones on odd sizes.
    private func activationInputs() -> [[Float]] {
        var rng = TestRNG(seed: 3)
        let sweep = (0..<48_001).map { Float(-12 + 24 * Double($0) / 48_000) }
        return [sweep] + oddSizes.map { rng.floats($0, -6, 6) }
    }

    // Φ(x) = ½ erfc(−x/√2) in double: no cancellation for negative x (1 + erf(x/√2) would be 0).
    private func normalCDF(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }
    private func geluErf(_ x: Double) -> Double { x * normalCDF(x) }
    private func geluErfGrad(_ x: Double) -> Double {
        normalCDF(x) + x * exp(-0.5 * x * x) / (2 * Double.pi).squareRoot()
    }
    private func geluTanh(_ x: Double) -> Double {
        0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
    }
    private func geluTanhGrad(_ x: Double) -> Double {
        let t = tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x))
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * (2 / Double.pi).squareRoot() * (1 + 3 * 0.044715 * x * x)
    }

    /// Forward: |y − y_double| ≤ 2e-7 · max(1, |y|) (the header's contract; the erfc fit is 1.7e-9
    /// accurate, the rest is float rounding: 1.2e-7 measured). Backward with |dy| ≤ 1:
    /// ≤ 2.5e-7 · max(1, |dx|) (gelu' itself is within 1.7e-7 on a dense sweep, plus the product with dy).
    func testGeluErfMatchesDoubleReferenceWithin2e7() {
        forEachISA { isa in
            for x in activationInputs() {
                let n = x.count
                var y = [Float](repeating: .nan, count: n), dx = y
                flb_gelu_erf_forward(x, &y, n)
                let fwd = maxScaledError(y, x.map { geluErf(Double($0)) }, floor: 1)
                XCTAssertLessThanOrEqual(
                    fwd.error, 2e-7, "\(isa) gelu_erf forward n=\(n) worst at x=\(fwd.index >= 0 ? x[fwd.index] : 0)")
                var rng = TestRNG(seed: UInt64(n))
                let dy = rng.floats(n)
                flb_gelu_erf_backward(x, dy, &dx, n)
                let bwd = maxScaledError(dx, (0..<n).map { Double(dy[$0]) * geluErfGrad(Double(x[$0])) }, floor: 1)
                XCTAssertLessThanOrEqual(bwd.error, 2.5e-7, "\(isa) gelu_erf backward n=\(n)")
            }
        }
    }

    /// x = 0, ±20, ±1e4, −10, ±inf-free extremes: exact limits, no NaN.
    func testGeluErfSpecialValues() {
        forEachISA { isa in
            let x: [Float] = [0, 20, -20, 1e4, -1e4, -10, 10, -1e-30, 3e38, -3e38]
            var y = [Float](repeating: .nan, count: x.count), dx = y
            flb_gelu_erf_forward(x, &y, x.count)
            XCTAssertEqual(y[0], 0, "\(isa) gelu(0)")
            XCTAssertEqual(y[1], 20, "\(isa) gelu(20) = 20 in float")
            XCTAssertEqual(y[2], 0, "\(isa) gelu(−20) = −0")
            XCTAssertEqual(y[3], 1e4, "\(isa)")
            XCTAssertEqual(y[4], 0, "\(isa)")
            // gelu(−10) = −10 · Φ(−10) ≈ −7.6e-23
            XCTAssertEqual(Double(y[5]), geluErf(-10), accuracy: 1e-28, "\(isa) gelu(−10)")
            XCTAssertEqual(y[6], 10, "\(isa)")
            XCTAssertEqual(y[8], 3e38, "\(isa)")
            XCTAssertEqual(y[9], 0, "\(isa)")
            XCTAssertFalse(y.contains { $0.isNaN }, "\(isa) no NaN: \(y)")
            flb_gelu_erf_backward(x, [Float](repeating: 1, count: x.count), &dx, x.count)
            XCTAssertEqual(dx[0], 0.5, "\(isa) gelu'(0) = ½")
            XCTAssertEqual(dx[1], 1, "\(isa) gelu'(20) = 1")
            XCTAssertEqual(dx[2], 0, "\(isa) gelu'(−20) = 0")
            XCTAssertFalse(dx.contains { $0.isNaN }, "\(isa) no NaN in backward: \(dx)")
        }
    }

    /// Same bounds as the erf form: 2e-7 · max(1, |y|) forward, 2.5e-7 · max(1, |dx|) backward.
    func testGeluTanhMatchesDoubleReferenceWithin2e7() {
        forEachISA { isa in
            for x in activationInputs() + [[0, 20, -20, 1e4, -1e4, 3e38, -3e38]] {
                let n = x.count
                var y = [Float](repeating: .nan, count: n), dx = y
                flb_gelu_tanh_forward(x, &y, n)
                XCTAssertLessThanOrEqual(
                    maxScaledError(y, x.map { geluTanh(Double($0)) }, floor: 1).error, 2e-7, "\(isa) gelu_tanh forward n=\(n)")
                var rng = TestRNG(seed: UInt64(n) + 7)
                let dy = rng.floats(n)
                flb_gelu_tanh_backward(x, dy, &dx, n)
                let want = (0..<n).map {
                    abs(x[$0]) > 1e18 ? Double(dy[$0]) * (x[$0] > 0 ? 1 : 0) : Double(dy[$0]) * geluTanhGrad(Double(x[$0]))
                }
                XCTAssertLessThanOrEqual(maxScaledError(dx, want, floor: 1).error, 2.5e-7, "\(isa) gelu_tanh backward n=\(n)")
            }
        }
    }

    /// tanh: relative error ≤ 2e-7 (Cephes polynomial near 0, exp form beyond 0.625).
    /// Backward dx = dy (1 − y²) is plain float arithmetic: ≤ 4e-7 relative to |dy|.
    func testTanhRelativeErrorWithin2e7() {
        forEachISA { isa in
            for x in activationInputs() + [[0, 1e-30, -1e-20, 50, -50, 1e4]] {
                let n = x.count
                var y = [Float](repeating: .nan, count: n), dx = y
                flb_tanh_forward(x, &y, n)
                XCTAssertLessThanOrEqual(
                    maxScaledError(y, x.map { tanh(Double($0)) }, floor: 1e-38).error, 2e-7, "\(isa) tanh n=\(n)")
                let dy = [Float](repeating: 0.75, count: n)
                flb_tanh_backward(y, dy, &dx, n)
                for i in 0..<n {
                    XCTAssertEqual(
                        Double(dx[i]), 0.75 * (1 - Double(y[i]) * Double(y[i])), accuracy: 4e-7, "\(isa) tanh backward")
                }
            }
        }
    }

    func testReluForwardAndBackwardAreExact() {
        forEachISA { isa in
            let x: [Float] = [-2, -0.0, 0, 1e-30, 3, -1e30, .nan]
            var y = [Float](repeating: 7, count: x.count), dx = y
            flb_relu_forward(x, &y, x.count)
            XCTAssertEqual(Array(y[0..<6]), [0, 0, 0, 1e-30, 3, 0], "\(isa)")
            XCTAssertTrue(y[6].isNaN, "\(isa) relu(NaN) stays NaN as in PyTorch")
            flb_relu_backward(x, [Float](repeating: 2, count: x.count), &dx, x.count)
            XCTAssertEqual(dx, [0, 0, 0, 2, 2, 0, 0], "\(isa) gradient only where x > 0")
        }
    }
}
