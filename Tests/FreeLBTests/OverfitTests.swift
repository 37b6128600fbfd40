import XCTest
@testable import FreeLB
import FreeLBModels
import FreeLBNN
import FreeLBTensor

/// Each method must be able to fit 32 generated examples perfectly (a training loop that is wired wrong,
/// e.g. a sign error in the ascent or gradients lost across passes, fails this).
final class OverfitTests: XCTestCase {
    let data = TinyTask.batches(count: 32, batchSize: 8)
    let perturbation = PerturbationConfig(norm: .l2, initMagnitude: 0.05, radius: 0.1, stepSize: 0.03)

    func overfit(_ method: TrainingStep, file: StaticString = #filePath, line: UInt = #line) {
        let model = TinyTask.model(seed: 11, dropout: 0.1)
        let steps = 160
        let state = TrainingState(
            model: model, optimizer: AdamW(learningRate: 3e-3, weightDecay: 0.01),
            schedule: LinearWarmupDecay(baseLearningRate: 3e-3, warmupSteps: 10, totalSteps: steps),
            maxGradNorm: 1, seed: 2)
        Trainer(state: state, method: method).run(totalSteps: steps, epochBatches: { _ in self.data })
        XCTAssertEqual(TinyTask.accuracy(model, data), 1.0, "\(method.name) training accuracy", file: file, line: line)
    }

    func testVanillaOverfits() { overfit(VanillaStep()) }
    func testFreeLBOverfits() throws { overfit(try FreeLBStep(perturbation: perturbation, steps: 3)) }
    func testPGDOverfits() { overfit(PGDStep(perturbation: perturbation, steps: 2)) }
    func testFreeATOverfits() { overfit(FreeATStep(perturbation: perturbation, steps: 2)) }
    func testYOPOOverfits() throws { overfit(try YOPOStep(perturbation: perturbation, steps: 2, innerSteps: 2)) }
}
