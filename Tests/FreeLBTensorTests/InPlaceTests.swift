import XCTest
import FreeLBTensor

/// The raw-storage operations of InPlace.swift: blocks, norms, scale / axpy, AdamW and the thread setting.
final class InPlaceTests: XCTestCase {
    override func tearDown() {
        TensorThreads.setCount(TensorThreads.defaultCount)
        super.tearDown()
    }

    func testBlocksAreConsecutiveEqualRangesOfTheFirstAxis() {
        let t = Tensor(zeros: [3, 2, 5])  // 3 examples of [2, 5]
        XCTAssertEqual((0..<3).map { t.block($0, of: 3).range }, [0..<10, 10..<20, 20..<30])
        XCTAssertEqual(t.block(0, of: 1).count, 30)
    }

    func testNormsAndMaxAbsOfBlocksAndWholeTensors() {
        let t = Tensor(shape: [2, 3], values: [3, -4, 0, 1, -2, 2])
        XCTAssertEqual(t.block(0, of: 2).sumOfSquares(), 25)
        XCTAssertEqual(t.block(0, of: 2).l2Norm(), 5)
        XCTAssertEqual(t.block(1, of: 2).l2Norm(), 3)
        XCTAssertEqual(t.block(1, of: 2).maxAbs(), 2)
        XCTAssertEqual(t.sumOfSquares(), 34)
        XCTAssertEqual(t.l2Norm(), 34.0.squareRoot())
        XCTAssertEqual(t.maxAbs(), 4)
        XCTAssertTrue(Tensor(shape: [3], values: [1, .nan, -7]).maxAbs().isNaN, "a NaN must not hide behind max |x|")
    }

    /// Long enough for the SIMD body, a partial tail and (whole tensors) a split over two threads.
    func testBlockScaleAndAxpyTouchOnlyTheirBlock() {
        let n = 1000
        let x = randomTensor([2, n], seed: 1), y = randomTensor([2, n], seed: 2)
        let before = y.scalars
        y.block(1, of: 2).addScaled(x.block(1, of: 2), by: 0.25)
        y.block(1, of: 2).scale(by: -2)
        XCTAssertEqual(Array(y.scalars[..<n]), Array(before[..<n]), "block 0 untouched")
        for i in n..<(2 * n) {
            XCTAssertEqual(y.scalars[i], -2 * (before[i] + 0.25 * x.scalars[i]), accuracy: 1e-6)
        }
    }

    func testWholeTensorScaleAndAxpyDoNotDependOnTheThreadCount() {
        let x = randomTensor([150_000], seed: 3), start = randomTensor([150_000], seed: 4)
        func run(threads: Int) -> [Float] {
            TensorThreads.setCount(threads)
            let y = start.detachedCopy()
            y.addScaled(x, by: -0.5)
            y.scale(by: 3)
            return y.scalars
        }
        let one = run(threads: 1), two = run(threads: 2)
        XCTAssertEqual(one, two)
        for i in stride(from: 0, to: 150_000, by: 997) {
            XCTAssertEqual(one[i], 3 * (start.scalars[i] - 0.5 * x.scalars[i]), accuracy: 1e-6)
        }
    }

    /// Three AdamW steps against the torch.optim.AdamW formula in Double, and the same bits on 1 or 2 threads.
    func testAdamWFollowsTheTorchFormulaOnAnyThreadCount() {
        let n = 140_000  // > 2 · 2^16: two chunks on two threads
        let (lr, b1, b2, eps, wd): (Float, Float, Float, Float, Float) = (1e-3, 0.9, 0.999, 1e-8, 0.01)
        let start = randomTensor([n], seed: 5), gradients = (0..<3).map { randomTensor([n], seed: 10 + UInt64($0)) }
        func run(threads: Int) -> [Float] {
            TensorThreads.setCount(threads)
            let p = start.detachedCopy(), m = Tensor(zeros: [n]), v = Tensor(zeros: [n])
            for (t, g) in gradients.enumerated() {
                let bias1 = 1 - Float(pow(Double(b1), Double(t + 1))), bias2 = 1 - Float(pow(Double(b2), Double(t + 1)))
                p.applyAdamW(
                    gradient: g, firstMoment: m, secondMoment: v, learningRate: lr, beta1: b1, beta2: b2,
                    eps: eps, weightDecay: wd, biasCorrection1: bias1, biasCorrection2: bias2)
            }
            return p.scalars
        }
        let one = run(threads: 1)
        XCTAssertEqual(one, run(threads: 2))
        for i in stride(from: 0, to: n, by: 1009) {
            var (p, m, v) = (Double(start.scalars[i]), 0.0, 0.0)
            for (t, g) in gradients.enumerated() {
                let gi = Double(g.scalars[i])
                p *= 1 - Double(lr * wd)
                m = Double(b1) * m + (1 - Double(b1)) * gi
                v = Double(b2) * v + (1 - Double(b2)) * gi * gi
                let bias1 = 1 - pow(Double(b1), Double(t + 1)), bias2 = 1 - pow(Double(b2), Double(t + 1))
                p -= Double(lr) / bias1 * m / (v.squareRoot() / bias2.squareRoot() + Double(eps))
            }
            XCTAssertEqual(Double(one[i]), p, accuracy: 1e-6)
        }
    }

    func testThreadCountIsAtLeastOne() {
        TensorThreads.setCount(0)
        XCTAssertEqual(TensorThreads.count, 1)
        TensorThreads.setCount(3)
        XCTAssertEqual(TensorThreads.count, 3)
    }
}
