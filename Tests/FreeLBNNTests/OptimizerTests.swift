import XCTest
@testable import FreeLBNN
import FreeLBTensor

final class OptimizerTests: XCTestCase {
    /// transformers' get_linear_schedule_with_warmup: lr(s) = base·s/w for s < w, then base·(T−s)/(T−w).
    func testLinearWarmupThenDecay() {
        let schedule = LinearWarmupDecay(baseLearningRate: 1, warmupSteps: 4, totalSteps: 12)
        XCTAssertEqual(
            (0...12).map { schedule.learningRate(atStep: $0) },
            [0, 0.25, 0.5, 0.75, 1, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125, 0])
        XCTAssertEqual(LinearWarmupDecay(baseLearningRate: 2, warmupSteps: 0, totalSteps: 4).learningRate(atStep: 1), 1.5)
    }

    /// torch.nn.utils.clip_grad_norm_: g ← g · max/(‖g‖ + 1e-6) when ‖g‖ > max; returns ‖g‖ before clipping.
    func testClipGradientNormFollowsPyTorch() {
        let a = Tensor(zeros: [2]), b = Tensor(zeros: [1])
        a.grad = Tensor(shape: [2], values: [3, 0])
        b.grad = Tensor(shape: [1], values: [4])
        XCTAssertEqual(clipGradientNorm([a, b], maxGradNorm: 1), 5)
        let coefficient: Float = 1 / (5 + 1e-6)
        XCTAssertEqual(a.grad!.scalars, [3 * coefficient, 0])
        XCTAssertEqual(b.grad!.scalars, [4 * coefficient])
        XCTAssertEqual(clipGradientNorm([a, b], maxGradNorm: 10), 1, accuracy: 1e-6, "below the limit: unchanged")
        XCTAssertEqual(clipGradientNorm([a, b], maxGradNorm: 0), 1, accuracy: 1e-6, "0 only measures")
    }

    /// A gradient long enough to be split over threads is scaled by exactly the same coefficient everywhere,
    /// and the norm sums the tensors' squares in order.
    func testClipGradientNormOfLargeGradientsIsExactOnAnyThreadCount() {
        defer { TensorThreads.setCount(TensorThreads.defaultCount) }
        var generator = SeededGenerator(seed: 7)
        let gradients = [
            Tensor.uniform([300, 500], low: -1, high: 1, generator: &generator), Tensor.uniform([37], generator: &generator)
        ]
        let expectedNorm = Float((gradients[0].sumOfSquares() + gradients[1].sumOfSquares()).squareRoot())
        for threads in [1, 2] {
            TensorThreads.setCount(threads)
            let parameters = gradients.map { g -> Tensor in
                let p = Tensor(zeros: g.shape)
                p.grad = g.detachedCopy()
                return p
            }
            XCTAssertEqual(clipGradientNorm(parameters, maxGradNorm: 2), expectedNorm)
            let coefficient = 2 / (expectedNorm + 1e-6)
            for (p, g) in zip(parameters, gradients) { XCTAssertEqual(p.grad!.scalars, g.scalars.map { $0 * coefficient }) }
        }
    }

    /// Two AdamW steps in one go equal one step, an export/import into a fresh optimizer, and a second step.
    func testAdamWStateRoundTripIsExact() throws {
        func parameters() -> [(String, Tensor)] {
            let w = Tensor(shape: [3], values: [0.5, -1, 2]), bias = Tensor(shape: [2], values: [0.1, 0.2])
            return [("layer.weight", w), ("layer.bias", bias)]
        }
        func setGrads(_ ps: [(String, Tensor)], _ step: Int) {
            for (i, (_, p)) in ps.enumerated() {
                p.grad = Tensor(shape: p.shape, values: (0..<p.count).map { Float($0 + i + step) * 0.1 - 0.15 })
            }
        }
        let straight = parameters(), split = parameters()
        let one = AdamW(learningRate: 0.01)
        setGrads(straight, 0); one.step(straight)
        setGrads(straight, 1); one.step(straight)

        let first = AdamW(learningRate: 0.01)
        setGrads(split, 0); first.step(split)
        let state = first.exportState()
        let restored = AdamW(learningRate: 0.5)
        try restored.importState(state)
        XCTAssertEqual(restored.stepCount, 1)
        XCTAssertEqual(restored.learningRate, 0.01)
        setGrads(split, 1); restored.step(split)
        for ((_, p), (_, q)) in zip(straight, split) { XCTAssertEqual(p.scalars, q.scalars) }
    }

    /// Weight decay skips biases and LayerNorm weights (HF run_glue grouping).
    func testNoDecayGrouping() {
        XCTAssertTrue(isExcludedFromWeightDecay("bert.encoder.layer.0.output.dense.bias"))
        XCTAssertTrue(isExcludedFromWeightDecay("bert.embeddings.LayerNorm.weight"))
        XCTAssertFalse(isExcludedFromWeightDecay("bert.encoder.layer.0.output.dense.weight"))
        XCTAssertFalse(isExcludedFromWeightDecay("bert.embeddings.word_embeddings.weight"))
    }

    func testSGDStep() {
        let p = Tensor(shape: [2], values: [1, 2])
        p.grad = Tensor(shape: [2], values: [0.5, -1])
        SGD(learningRate: 0.1).step([("w", p)])
        XCTAssertEqual(p.scalars, [0.95, 2.1])
    }
}

final class DropoutControllerTests: XCTestCase {
    func testMasksAreReusedWithinABatchAndResampledAcrossBatches() {
        let controller = DropoutController(seed: 1, reuseMasks: true)
        let layer = Dropout(0.5, key: "x", controller: controller)
        let x = Tensor(repeating: 1, shape: [64])
        controller.beginBatch(); controller.beginPass()
        let first = layer(x).scalars
        controller.beginPass()
        XCTAssertEqual(layer(x).scalars, first, "same batch, reuse on: same mask")
        controller.beginBatch(); controller.beginPass()
        XCTAssertNotEqual(layer(x).scalars, first, "a new batch samples new masks")
        controller.reuseMasks = false
        controller.beginPass()
        let a = layer(x).scalars
        controller.beginPass()
        XCTAssertNotEqual(layer(x).scalars, a, "reuse off: a new mask every pass")
        XCTAssertTrue(a.allSatisfy { $0 == 0 || $0 == 2 }, "inverted dropout scales kept entries by 1/(1−p)")
    }

    func testTwoUsesOfOneLayerInAPassGetTheirOwnMasks() {
        let controller = DropoutController(seed: 2)
        let layer = Dropout(0.5, key: "head", controller: controller)
        let x = Tensor(repeating: 1, shape: [64])
        controller.beginBatch(); controller.beginPass()
        let first = layer(x).scalars, second = layer(x).scalars
        XCTAssertNotEqual(first, second)
        controller.beginPass()
        XCTAssertEqual(layer(x).scalars, first)
        XCTAssertEqual(layer(x).scalars, second)
        XCTAssertEqual(controller.maskCount, 2)
    }

    func testEvalModeIsIdentity() {
        let layer = Dropout(0.5, key: "x", controller: DropoutController(seed: 3))
        layer.eval()
        let x = Tensor(repeating: 1, shape: [16])
        XCTAssertEqual(layer(x).scalars, x.scalars)
    }
}
