// Non-finite losses, gradient norms and parameters in the library's Trainer (issue 15): the update
// that meets one is skipped, `.stop` ends training there, `.skip` goes on up to its limit.
import XCTest
@testable import FreeLB
import FreeLBModels
import FreeLBNN
import FreeLBTensor

final class NonFiniteTrainingTests: XCTestCase {
    func makeTrainer(policy: NonFinitePolicy, learningRate: Float = 1e-3) throws -> Trainer {
        let model = TinyTask.model(seed: 3)
        let state = TrainingState(model: model, optimizer: AdamW(learningRate: learningRate), maxGradNorm: 1, seed: 1)
        let perturbation = PerturbationConfig(norm: .l2, initMagnitude: 0.1, radius: 0.5, stepSize: 0.1)
        let trainer = Trainer(state: state, method: try FreeLBStep(perturbation: perturbation, steps: 2))
        trainer.nonFinitePolicy = policy
        return trainer
    }

    /// Batches whose labels index past the classes are not an option here; instead a NaN in one
    /// weight poisons the next loss after `goodSteps` clean steps.
    func poison(_ trainer: Trainer, after goodSteps: Int) -> (TrainingEvent) -> TrainingControl {
        { event in
            if case .step(let progress) = event, progress.step == goodSteps {
                trainer.state.model.namedParameters().first { $0.0.hasSuffix("LayerNorm.weight") }!.1.data[0] = .nan
            }
            return .proceed
        }
    }

    func testStopPolicyEndsTrainingAtTheFirstNonFiniteLossWithItsStepAndPass() throws {
        let trainer = try makeTrainer(policy: .stop)
        let batches = TinyTask.batches(count: 32, batchSize: 8)
        var reported: [NonFiniteValue] = []
        let poisoner = poison(trainer, after: 2)
        let completed = trainer.run(totalSteps: 4, epochBatches: { _ in batches }) { event in
            if case .nonFinite(let value, _) = event { reported.append(value) }
            return poisoner(event)
        }
        XCTAssertFalse(completed)
        let stopped = try? XCTUnwrap(trainer.stoppedOnNonFinite)
        XCTAssertEqual(stopped?.step, 3)
        XCTAssertEqual(stopped?.pass, 1)
        XCTAssertEqual(stopped?.quantity, .loss)
        XCTAssertEqual(reported.count, 1)
        XCTAssertEqual(trainer.skippedBatches, 1)
        // The update was skipped: only the poisoned element is non-finite.
        let nonFinite = trainer.state.model.namedParameters().reduce(0) { $0 + $1.1.nonFiniteCount }
        XCTAssertEqual(nonFinite, 1)
    }

    func testSkipPolicySkipsUpdatesAndStopsAfterTheLimit() throws {
        let trainer = try makeTrainer(policy: .skip(maxConsecutive: 2))
        let batches = TinyTask.batches(count: 64, batchSize: 8)
        let poisoner = poison(trainer, after: 1)
        let completed = trainer.run(totalSteps: 8, epochBatches: { _ in batches }, onEvent: poisoner)
        XCTAssertFalse(completed)
        XCTAssertEqual(trainer.skippedBatches, 3, "stops on the third skipped batch in a row")
        XCTAssertEqual(trainer.state.globalStep, 4)
    }

    func testAnUpdateThatOverflowsTheParametersIsNeverSkippable() throws {
        let trainer = try makeTrainer(policy: .skip(maxConsecutive: 100), learningRate: 3e38)
        trainer.state.maxGradNorm = 0
        let batches = TinyTask.batches(count: 16, batchSize: 8)
        let completed = trainer.run(totalSteps: 4, epochBatches: { _ in batches })
        XCTAssertFalse(completed)
        let stopped = trainer.stoppedOnNonFinite
        XCTAssertNotNil(stopped)
        XCTAssertFalse(stopped?.isSkippable ?? true, "\(String(describing: stopped))")
    }

    func testJSONLinesHoldNonFiniteNumbersAsStrings() throws {
        let line = jsonLine(["loss": Double.nan, "values": [Double.infinity, 1.5], "nested": ["x": -Double.infinity]])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: line) as? [String: Any])
        XCTAssertEqual(object["loss"] as? String, "NaN")
        XCTAssertEqual((object["values"] as? [Any])?.first as? String, "Infinity")
        XCTAssertEqual((object["nested"] as? [String: Any])?["x"] as? String, "-Infinity")
    }
}
