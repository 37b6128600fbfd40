import XCTest
@testable import FreeLBTensor
import FreeLBBLAS

final class AutogradTests: XCTestCase {
    func testBackwardAccumulatesIntoLeavesAcrossPasses() {
        let w = Tensor(shape: [3], values: [1, 2, 3], requiresGrad: true)
        (w * w).sum().backward()  // d/dw Σw² = 2w
        (w * w).sum().backward()  // accumulates: 4w
        XCTAssertEqual(w.grad!.scalars, [4, 8, 12])
        w.zeroGrad()
        XCTAssertNil(w.grad)
        (w.scaled(by: 0.5)).sum().backward()
        XCTAssertEqual(w.grad!.scalars, [0.5, 0.5, 0.5])
    }

    func testGraphIsFreedAfterBackward() {
        let w = Tensor(shape: [2], values: [1, 2], requiresGrad: true)
        let hidden = w * w
        let loss = hidden.sum()
        loss.backward()
        XCTAssertTrue(hidden.isLeaf && loss.isLeaf, "op nodes are released after backward")
    }

    func testNoGradScopeRecordsNothing() {
        let w = Tensor(shape: [2], values: [1, 2], requiresGrad: true)
        let y = withNoGrad { (w * w).sum() }
        XCTAssertFalse(y.requiresGrad)
        XCTAssertTrue(y.isLeaf)
    }

    func testOnlyIntoSelectedLeaves() {
        let w = Tensor(shape: [2], values: [1, 2], requiresGrad: true)
        let delta = Tensor(shape: [2], values: [0.5, 0.5], requiresGrad: true)
        ((w + delta) * w).sum().backward(onlyInto: [delta])
        XCTAssertNil(w.grad, "parameter gradients are not computed")
        XCTAssertEqual(delta.grad!.scalars, [1, 2])
    }

    func testSeededRandomIsReproducible() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42)
        XCTAssertEqual(Tensor.normal([5], generator: &a).scalars, Tensor.normal([5], generator: &b).scalars)
        XCTAssertEqual(
            Tensor.bernoulli([9], probability: 0.5, generator: &a).scalars,
            Tensor.bernoulli([9], probability: 0.5, generator: &b).scalars)
        XCTAssertEqual(
            DropoutMask(shape: [100], probability: 0.1, seed: 3).values.scalars,
            DropoutMask(shape: [100], probability: 0.1, seed: 3).values.scalars)
    }
}

final class GEMMTests: XCTestCase {
    /// BLAS against a naive triple loop in double on odd sizes, every transpose combination.
    /// Tolerance 1e-5 relative to √k: float32 dot products of k ≤ 37 terms of magnitude ≤ 1.
    func testBLASMatchesNaiveReferenceOnOddSizes() {
        for (m, n, k) in [(1, 1, 1), (3, 5, 7), (17, 13, 37), (33, 1, 9)] {
            for transA in [false, true] {
                for transB in [false, true] {
                    let a = randomTensor(transA ? [k, m] : [m, k], seed: 1), b = randomTensor(transB ? [n, k] : [k, n], seed: 2)
                    let c = randomTensor([m, n], seed: 3)
                    let original = c.scalars
                    BLAS.sgemm(
                        transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a.data, lda: transA ? m : k,
                        b: b.data, ldb: transB ? k : n, beta: 2, c: c.data, ldc: n)
                    for i in 0..<m {
                        for j in 0..<n {
                            var expected = 2 * Double(original[i * n + j])
                            for p in 0..<k {
                                let av = transA ? a.data[p * m + i] : a.data[i * k + p]
                                let bv = transB ? b.data[j * k + p] : b.data[p * n + j]
                                expected += 0.5 * Double(av) * Double(bv)
                            }
                            XCTAssertEqual(
                                Double(c.data[i * n + j]), expected, accuracy: 1e-5 * Double(k).squareRoot(),
                                "m\(m) n\(n) k\(k) tA\(transA) tB\(transB)")
                        }
                    }
                }
            }
        }
    }

    /// The row/column split of layer-sized GEMMs over our threads gives what one BLAS call gives
    /// (each output element is the same dot product; 1e-5 relative covers a different BLAS blocking).
    func testThreadSplitGEMMEqualsOneCall() {
        ComputeThreads.setCount(2)
        for (m, n, k) in [(300, 70, 33), (50, 301, 17)] {
            for transA in [false, true] {
                for transB in [false, true] {
                    let a = randomTensor(transA ? [k, m] : [m, k], seed: 4), b = randomTensor(transB ? [n, k] : [k, n], seed: 5)
                    let start = randomTensor([m, n], seed: 6)
                    let split = start.detachedCopy(), single = start.detachedCopy()
                    layerGEMM(
                        transA, transB, m, n, k, a.data, transA ? m : k, b.data, transB ? k : n, split.data, n, accumulate: true)
                    gemm(
                        transA, transB, m, n, k, a.data, transA ? m : k, b.data, transB ? k : n, single.data, n, accumulate: true)
                    for i in 0..<(m * n) {
                        XCTAssertEqual(
                            split.data[i], single.data[i], accuracy: 1e-5 * max(1, abs(single.data[i])),
                            "m\(m) n\(n) tA\(transA) tB\(transB)")
                    }
                }
            }
        }
        ComputeThreads.setCount(ComputeThreads.defaultCount)
    }
}
