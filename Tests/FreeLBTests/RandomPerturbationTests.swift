// `--method random`, the control (issue 19): every pass draws a fresh δ with per-example L2 norm
// exactly ε on the real tokens, takes no ascent step, and backpropagates loss/K like FreeLB-K.
import XCTest
@testable import FreeLB
import FreeLBModels
import FreeLBNN
import FreeLBTensor

final class RandomPerturbationTests: XCTestCase {
    let batch = TinyTask.batches(count: 8, batchSize: 8)[0]
    let radius: Float = 0.3

    func traced(_ model: TransformerClassifier, seed: UInt64 = 3) -> TrainingState {
        let state = TrainingState(model: model, optimizer: SGD(learningRate: 0.1), maxGradNorm: 0, seed: seed)
        state.trace = StepTrace()
        return state
    }

    func testEveryPassHasAFreshDeltaOfNormEpsilonOnRealTokensOnly() throws {
        let state = traced(TinyTask.model())
        let result = RandomPerturbationStep(radius: radius, steps: 3).step([batch], state: state)
        let deltas = try XCTUnwrap(state.trace?.deltas)
        XCTAssertEqual(deltas.count, 3)
        XCTAssertEqual(result.passLosses.count, 3)
        let (b, t, width) = (batch.input.shape[0], batch.input.shape[1], 32)
        for (pass, delta) in deltas.enumerated() {
            for example in 0..<b {
                let row = Array(delta.scalars[(example * t * width)..<((example + 1) * t * width)])
                XCTAssertEqual(
                    row.map { Double($0) * Double($0) }.reduce(0, +).squareRoot(), Double(radius), accuracy: 1e-6,
                    "pass \(pass) example \(example)")
                for token in 0..<t where batch.input.attentionMask[example * t + token] == 0 {
                    XCTAssertTrue(row[(token * width)..<((token + 1) * width)].allSatisfy { $0 == 0 }, "padding moved")
                }
            }
        }
        XCTAssertNotEqual(deltas[0].scalars, deltas[1].scalars, "a fresh δ on every pass")
    }

    /// No ascent: the δs are the generator's draws, whatever the gradients (two different models give
    /// the same δ sequence from the same seed).
    func testDeltasDoNotDependOnTheGradient() throws {
        let a = traced(TinyTask.model(seed: 1)), b = traced(TinyTask.model(seed: 9))
        _ = RandomPerturbationStep(radius: radius, steps: 3).step([batch], state: a)
        _ = RandomPerturbationStep(radius: radius, steps: 3).step([batch], state: b)
        XCTAssertEqual(try XCTUnwrap(a.trace?.deltas).map(\.scalars), try XCTUnwrap(b.trace?.deltas).map(\.scalars))
        var generator = SeededGenerator(seed: 3 ^ 0xDE17A)  // TrainingState's δ stream for seed 3
        let mask = PerturbationMask(batch.input, width: 32)
        let first = Perturbation.randomOnSphere(shape: [8, 9, 32], mask: mask, radius: radius, generator: &generator)
        XCTAssertEqual(a.trace?.deltas.first?.scalars, first.scalars)
    }

    /// The gradient handed to the optimizer is (1/K) Σ_k ∇L(δ_k): loss/K accumulated over the passes.
    func testGradientIsTheMeanOverPassesOfTheGradientAtEachDelta() throws {
        let model = TinyTask.model(dropout: 0)
        let state = traced(model)
        let before = model.namedParameters().map { ($0.0, $0.1.detachedCopy()) }
        _ = RandomPerturbationStep(radius: radius, steps: 3).step([batch], state: state)
        let deltas = try XCTUnwrap(state.trace?.deltas)
        let handed = try XCTUnwrap(state.trace?.gradients.first)
        // Recompute on a fresh copy of the weights before the step.
        let reference = TinyTask.model(dropout: 0)
        for ((_, p), (_, saved)) in zip(reference.namedParameters(), before) { p.copy(from: saved) }
        reference.zeroGrad()
        for delta in deltas { reference.lossAt(batch, delta: delta).scaled(by: 1.0 / 3).backward() }
        for (name, p) in reference.namedParameters() {
            let want = p.grad?.scalars ?? [], got = try XCTUnwrap(handed[name])
            let scale = max(1e-3, want.map(abs).max() ?? 0)
            let error = zip(got, want).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(error / scale, 1e-5, name)
        }
    }

    func testTheCLIRequiresAPositiveRadius() {
        var config = RunConfiguration()
        config.model = "m"; config.task = "rte"; config.outputDir = "o"
        config.method = .random
        config.radius = 0
        XCTAssertThrowsError(try config.validate()) { XCTAssertTrue("\($0)".contains("--adv-max-norm")) }
        config.radius = 0.03
        XCTAssertNoThrow(try config.validate())
        XCTAssertEqual(try config.makeMethod().name, "random")
    }
}
