import FreeLBBLAS
import XCTest

@testable import FreeLBTensor

/// The bf16 path (oneDNN matmul on bf16-rounded inputs, fp32 accumulation). Error bound used throughout:
/// rounding an operand to bf16 changes it by at most u = 2^-9 relatively (8 stored mantissa bits, round to
/// nearest), so a product of two rounded operands is off by at most (1+u)²−1 ≈ 2u = 2^-8 relatively, and a
/// sum of k products by at most 2^-8·Σ|a||b| (fp32 accumulation adds k·2^-24·Σ|a||b|, far smaller).
final class BF16Tests: XCTestCase {
    override func setUpWithError() throws {
        if let why = MixedPrecision.bf16Unavailability { throw XCTSkip("\(why)") }
    }

    /// Nearest bf16 to x (ties to even; subnormals to signed zero), decided in Double: the reference for the C
    /// conversion.
    private func referenceBF16(_ x: Float) -> UInt16 {
        if x.isNaN { return 0x7fc0 | (x.sign == .minus ? 0x8000 : 0) }
        let bits = x.bitPattern
        if x.isInfinite { return UInt16(bits >> 16) }
        let sign = UInt16(bits >> 16) & 0x8000
        if x.isSubnormal { return sign }  // flushed, as vcvtneps2bf16 does
        let magnitude = bits & 0x7fff_ffff
        let low = magnitude & 0xffff_0000  // the bf16 at or below |x|; the next one up is 2^16 fp32 ulps higher
        let lowValue = Double(Float(bitPattern: low))
        let highValue = lowValue + Double(Float(bitPattern: low).ulp) * 65536  // 2^128 past the largest finite
        let value = Double(Float(bitPattern: magnitude))
        let (distanceLow, distanceHigh) = (value - lowValue, highValue - value)
        let roundsDown = distanceLow < distanceHigh || (distanceLow == distanceHigh && (low >> 16) & 1 == 0)
        return sign | UInt16((roundsDown ? low : low + 0x1_0000) >> 16)
    }

    private func rounded(_ values: [Float]) -> [UInt16] {
        var out = [UInt16](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { BF16GEMM.round(src.baseAddress!, into: $0.baseAddress!, count: values.count) }
        }
        return out
    }

    func testRoundingIsNearestEvenAndKeepsSpecialValues() {
        var values: [Float] = [
            0, -0.0, 1, -2, 1 + 1.0 / 256, 1 + 3.0 / 256, 1 + 1.0 / 512, .infinity, -.infinity,
            .leastNonzeroMagnitude, .greatestFiniteMagnitude, 3e-4, -3e-4, 65504
        ]
        var generator = SeededGenerator(seed: 5)
        for _ in 0..<100_003 {  // an odd count exercises the vector loop's tail
            let bits = UInt32(truncatingIfNeeded: generator.next())
            let x = Float(bitPattern: bits)
            values.append(x.isNaN ? 1.5 : x)
        }
        let got = rounded(values)
        for (x, bits) in zip(values, got) where bits != referenceBF16(x) {
            XCTFail("bf16(\(x)) = \(String(bits, radix: 16)), expected \(String(referenceBF16(x), radix: 16))")
            return
        }
        XCTAssertEqual(rounded([1 + 1.0 / 256]), [0x3f80], "a tie rounds to the even neighbour (down)")
        XCTAssertEqual(rounded([1 + 3.0 / 256]), [0x3f82], "a tie rounds to the even neighbour (up)")
        XCTAssertEqual(rounded([.greatestFiniteMagnitude]), [0x7f80], "beyond bf16's range rounds to infinity")
        let nan = rounded([.nan, -.nan, Float(bitPattern: 0x7f80_0001)])
        for bits in nan { XCTAssertTrue(Float(bitPattern: UInt32(bits) << 16).isNaN, "NaN stays NaN") }
        var widened = [Float](repeating: 0, count: 3)
        BF16GEMM.widen([0x3f80, 0xc000, 0x7f80], into: &widened, count: 3)
        XCTAssertEqual(widened, [1, -2, .infinity])
    }

    func testGEMMMatchesReferenceWithinTheBF16Bound() throws {
        let (m, n, k) = (37, 53, 300)
        var generator = SeededGenerator(seed: 11)
        let a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &generator) }
        let b = (0..<(k * n)).map { _ in Float.random(in: -1...1, using: &generator) }
        let start = (0..<(m * n)).map { _ in Float.random(in: -1...1, using: &generator) }
        let (ab, bb) = (rounded(a), rounded(b))
        func widen(_ x: UInt16) -> Double { Double(Float(bitPattern: UInt32(x) << 16)) }
        for transA in [false, true] {
            for transB in [false, true] {
                for accumulate in [false, true] {
                    // The same logical op(A) [m, k] and op(B) [k, n], stored transposed when asked.
                    func indexA(_ i: Int, _ p: Int) -> Int { transA ? p * m + i : i * k + p }
                    func indexB(_ p: Int, _ j: Int) -> Int { transB ? j * k + p : p * n + j }
                    var storedA = [UInt16](repeating: 0, count: m * k), storedB = [UInt16](repeating: 0, count: k * n)
                    var fullA = [Float](repeating: 0, count: m * k), fullB = [Float](repeating: 0, count: k * n)
                    for i in 0..<m {
                        for p in 0..<k { storedA[indexA(i, p)] = ab[i * k + p]; fullA[indexA(i, p)] = a[i * k + p] }
                    }
                    for p in 0..<k {
                        for j in 0..<n { storedB[indexB(p, j)] = bb[p * n + j]; fullB[indexB(p, j)] = b[p * n + j] }
                    }
                    var c = accumulate ? start : [Float](repeating: .nan, count: m * n)
                    BF16GEMM.gemm(
                        transA: transA, transB: transB, m: m, n: n, k: k, a: storedA, lda: transA ? m : k, b: storedB,
                        ldb: transB ? k : n, c: &c, ldc: n, accumulate: accumulate)
                    for i in 0..<m {
                        for j in 0..<n {
                            var exact = accumulate ? Double(start[i * n + j]) : 0
                            var ofRounded = exact
                            var magnitude = 0.0
                            for p in 0..<k {
                                let (x, y) = (fullA[indexA(i, p)], fullB[indexB(p, j)])
                                exact += Double(x) * Double(y)
                                ofRounded += widen(storedA[indexA(i, p)]) * widen(storedB[indexB(p, j)])
                                magnitude += abs(Double(x) * Double(y))
                            }
                            let got = Double(c[i * n + j])
                            let label = "transA \(transA) transB \(transB) accumulate \(accumulate) [\(i), \(j)]"
                            // Against the exact product of the rounded inputs: only fp32 accumulation error.
                            XCTAssertLessThanOrEqual(abs(got - ofRounded), Double(k) * 0x1p-23 * magnitude + 1e-6, label)
                            // Against the fp32 inputs: the stated bf16 bound.
                            XCTAssertLessThanOrEqual(abs(got - exact), 0x1p-8 * magnitude + 1e-5, label)
                        }
                    }
                }
            }
        }
        XCTAssertTrue(
            BF16GEMM.implementation(transA: false, transB: true, m: 512, n: 384, k: 384, lda: 384, ldb: 384, ldc: 384)
                .contains("bf16"), "oneDNN uses its native bf16 kernel")
    }

    /// The linear op at bf16 against the fp32 op (forward and every gradient), large enough that the
    /// product is split over threads. Bound per element: 2^-8 · Σ|a||b| of that element's product.
    func testLinearMatchesFP32WithinTheBF16Bound() throws {
        let (rows, inputs, outputs) = (300, 96, 80)
        let x = randomTensor([3, rows / 3, inputs], seed: 1)
        let weight = randomTensor([outputs, inputs], seed: 2)
        let bias = randomTensor([outputs], seed: 3)
        let upstream = randomTensor([3, rows / 3, outputs], seed: 4)
        func run(_ precision: Precision) throws -> (Tensor, Tensor, Tensor, Tensor) {
            for t in [x, weight, bias] { t.requiringGrad(); t.zeroGrad() }
            let y = try MixedPrecision.withPrecision(precision) { () -> Tensor in
                let y = x.linear(weight: weight, bias: bias)
                (y * upstream).sum().backward()
                return y
            }
            return (y.detachedCopy(), x.grad!.detachedCopy(), weight.grad!.detachedCopy(), bias.grad!.detachedCopy())
        }
        let (y32, dx32, dw32, db32) = try run(.fp32)
        let (y16, dx16, dw16, db16) = try run(.bf16)
        // Inputs lie in [-1, 1]: Σ|a||b| ≤ the inner dimension.
        assertClose(y16, y32, bound: 0x1p-8 * Double(inputs), "forward")
        assertClose(dx16, dx32, bound: 0x1p-8 * Double(outputs), "dX")
        assertClose(dw16, dw32, bound: 0x1p-8 * Double(rows), "dW")
        assertClose(db16, db32, bound: 1e-4, "db is an fp32 sum of the same G")
        let worst = zip(y16.scalars, y32.scalars).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(worst, 0, "bf16 actually ran (rounding shows)")
    }

    /// Central differences of the bf16 linear and matmul with a step large against bf16's spacing
    /// (h = 0.5 on inputs in [-1, 1]). L is linear in each single input element, so the only error is rounding:
    /// the perturbed element's (≤ 2^-9·1.5/0.5 ≈ 0.3% relative) and G's (2^-8 relative of Σ|g||w|).
    func testBF16BackwardRulesByFiniteDifferences() throws {
        try MixedPrecision.withPrecision(.bf16) {
            checkGradients(
                "linear bf16", inputs: [randomTensor([4, 6], seed: 7), randomTensor([5, 6], seed: 8), randomTensor([5], seed: 9)],
                step: 0.5, atol: 2e-2, rtol: 2e-2
            ) {
                $0[0].linear(weight: $0[1], bias: $0[2])
            }
            checkGradients(
                "matmul bf16 Aᵀ", inputs: [randomTensor([6, 4], seed: 10), randomTensor([6, 3], seed: 11)], step: 0.5, atol: 2e-2,
                rtol: 2e-2
            ) {
                $0[0].matmul($0[1], transposeSelf: true)
            }
            checkGradients(
                "matmul bf16 Bᵀ", inputs: [randomTensor([2, 4, 6], seed: 12), randomTensor([3, 6], seed: 13)], step: 0.5,
                atol: 2e-2, rtol: 2e-2
            ) {
                $0[0].matmul($0[1], transposeOther: true)
            }
        }
    }

    /// Attention at bf16 (Q, K, V, the probabilities, dctx and dS rounded; softmax fp32) against fp32: output
    /// and the three input gradients within 3e-2 of each tensor's scale (two chained rounded products, each
    /// within 2^-8·Σ|a||b|, through a softmax whose backward cancels).
    func testAttentionMatchesFP32WithinTheBF16Bound() throws {
        let (q, k, v) = (
            randomTensor([2, 8, 16], seed: 21), randomTensor([2, 8, 16], seed: 22), randomTensor([2, 8, 16], seed: 23)
        )
        let mask = Tensor(shape: [2, 8], values: (0..<16).map { $0 == 7 || $0 == 14 || $0 == 15 ? -1e9 : 0 })
        let upstream = randomTensor([2, 8, 16], seed: 24)
        func run(_ precision: Precision) throws -> [Tensor] {
            for t in [q, k, v] { t.requiringGrad(); t.zeroGrad() }
            let out = try MixedPrecision.withPrecision(precision) { () -> Tensor in
                let out = multiHeadAttention(query: q, key: k, value: v, heads: 2, keyMask: mask).context
                (out * upstream).sum().backward()
                return out
            }
            return [out.detachedCopy(), q.grad!.detachedCopy(), k.grad!.detachedCopy(), v.grad!.detachedCopy()]
        }
        let (fp32, bf16) = (try run(.fp32), try run(.bf16))
        for (index, label) in ["context", "dQ", "dK", "dV"].enumerated() {
            let scale = Double(fp32[index].maxAbs())
            assertClose(bf16[index], fp32[index], bound: 3e-2 * scale, label)
        }
        XCTAssertGreaterThan(zip(bf16[0].scalars, fp32[0].scalars).map { abs($0 - $1) }.max()!, 0, "bf16 actually ran")
    }

    /// Weights are rounded once per scope, and an in-place update (an optimizer step) is seen at once.
    func testLeafCastsAreCachedInAScopeAndDroppedOnUpdate() throws {
        let x = Tensor(shape: [1, 2], values: [1, 1])
        let weight = Tensor(shape: [1, 2], values: [1, 2], requiresGrad: true)
        try MixedPrecision.withPrecision(.bf16) {
            MixedPrecision.cachingLeafCasts {
                XCTAssertEqual(x.linear(weight: weight, bias: nil).item, 3)
                let first = weight.bf16Cache
                XCTAssertNotNil(first)
                _ = x.linear(weight: weight, bias: nil)
                XCTAssertTrue(weight.bf16Cache === first, "one conversion per scope")
                weight.addScaled(Tensor(shape: [1, 2], values: [1, 1]), by: 1)  // like an optimizer update
                XCTAssertEqual(x.linear(weight: weight, bias: nil).item, 5)
            }
            weight.data[0] = 10  // a raw write outside any scope is seen too
            XCTAssertEqual(x.linear(weight: weight, bias: nil).item, 13)
        }
    }

    private func assertClose(
        _ got: Tensor, _ expected: Tensor, bound: Double, _ label: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        let worst = zip(got.scalars, expected.scalars).map { Double(abs($0 - $1)) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, bound, "\(label): max |bf16 − fp32| = \(worst)", file: file, line: line)
    }
}
