import XCTest
@testable import FreeLB
import FreeLBModels
import FreeLBNN
import FreeLBTensor

/// The invariants the spec states for the adversarial methods.
final class MethodInvariantTests: XCTestCase {
    let batch = TinyTask.batches(count: 8, batchSize: 8)[0]

    func state(_ model: TransformerClassifier, seed: UInt64 = 3) -> TrainingState {
        TrainingState(model: model, optimizer: AdamW(learningRate: 1e-3), maxGradNorm: 1, seed: seed)
    }

    func testFreeLBWithOnePassAndNoInitIsBitForBitVanilla() throws {
        let a = TinyTask.model(), b = TinyTask.model()
        _ = VanillaStep().step([batch], state: state(a))
        _ = try FreeLBStep(perturbation: .init(norm: .l2, initMagnitude: 0, radius: 0.5, stepSize: 0.1), steps: 1)
            .step([batch], state: state(b))
        for ((name, p), (_, q)) in zip(a.namedParameters(), b.namedParameters()) {
            XCTAssertEqual(p.scalars, q.scalars, "\(name) differs")
        }
    }

    func testSettingsOutOfRangeThrowANamedError() {
        let config = PerturbationConfig(norm: .l2, initMagnitude: 0, radius: 0.5, stepSize: 0.1)
        XCTAssertThrowsError(try FreeLBStep(perturbation: config, steps: 0)) {
            XCTAssertEqual(
                $0 as? MethodConfigurationError,
                .outOfRange(method: "freelb", parameter: "steps", value: 0, allowed: "≥ 1"))
        }
        XCTAssertThrowsError(try YOPOStep(perturbation: config, steps: 2, innerSteps: 3)) {
            XCTAssertEqual("\($0)", "yopo: initMagnitude is 0.0, expected > 0")
        }
    }

    func testReusedDropoutMasksGiveEqualLossesWhenDeltaDoesNotMove() throws {
        let config = PerturbationConfig(norm: .l2, initMagnitude: 0, radius: 0, stepSize: 0)
        let reused = try FreeLBStep(perturbation: config, steps: 3, reuseDropoutMask: true).step(
            [batch], state: state(TinyTask.model()))
        XCTAssertEqual(reused.passLosses.count, 3)
        XCTAssertEqual(reused.passLosses[0], reused.passLosses[1])
        XCTAssertEqual(reused.passLosses[1], reused.passLosses[2])
        let fresh = try FreeLBStep(perturbation: config, steps: 3, reuseDropoutMask: false).step(
            [batch], state: state(TinyTask.model()))
        XCTAssertNotEqual(fresh.passLosses[0], fresh.passLosses[1], "resampled masks change the loss")
        XCTAssertNotEqual(fresh.passLosses[1], fresh.passLosses[2])
    }

    func testProjectionKeepsEveryExampleInsideTheBallAndPaddingAtZero() throws {
        for norm in PerturbationNorm.allCases {
            let config = PerturbationConfig(norm: norm, initMagnitude: 0.6, radius: 0.3, stepSize: 0.2)
            let s = state(TinyTask.model())
            s.trace = StepTrace()
            _ = try FreeLBStep(perturbation: config, steps: 4).step([batch], state: s)
            let (b, t) = (batch.input.shape[0], batch.input.shape[1])
            let width = 32
            for (pass, delta) in s.trace!.deltas.enumerated() {
                for example in 0..<b {
                    let row = Array(delta.scalars[(example * t * width)..<((example + 1) * t * width)])
                    if pass > 0 {  // after a projection
                        if norm == .l2 {
                            XCTAssertLessThanOrEqual(
                                row.map { $0 * $0 }.reduce(0, +).squareRoot(), 0.3 * (1 + 1e-6), "\(norm) pass \(pass)")
                        } else {
                            XCTAssertLessThanOrEqual(row.map(abs).max()!, 0.3, "\(norm) pass \(pass)")
                        }
                    }
                    for token in 0..<t where batch.input.attentionMask[example * t + token] == 0 {
                        XCTAssertTrue(
                            row[(token * width)..<((token + 1) * width)].allSatisfy { $0 == 0 },
                            "\(norm): padding of example \(example) token \(token) moved in pass \(pass)")
                    }
                }
            }
        }
    }

    func testInitialisationScaleFollowsTheSpec() {
        // l2: δ0_b = U(−1,1)⊙m · μ/√(L_b d), so ‖δ0_b‖ ≈ μ/√3 (E[u²] = 1/3); here L_b·d ≥ 160 entries.
        let mask = PerturbationMask(batch.input, width: 32)
        var generator = SeededGenerator(seed: 1)
        let delta = Perturbation.initial(
            shape: [8, 9, 32], mask: mask, config: .init(norm: .l2, initMagnitude: 0.9),
            generator: &generator)
        let norms = delta.perExampleNorm().scalars
        for n in norms { XCTAssertEqual(n, 0.9 / Float(3).squareRoot(), accuracy: 0.1) }
        let linf = Perturbation.initial(
            shape: [8, 9, 32], mask: mask, config: .init(norm: .linf, initMagnitude: 0.2),
            generator: &generator)
        XCTAssertLessThanOrEqual(linf.scalars.map(abs).max()!, 0.2)
        XCTAssertTrue(
            Perturbation.initial(
                shape: [8, 9, 32], mask: mask, config: .init(norm: .l2, initMagnitude: 0),
                generator: &generator
            ).scalars.allSatisfy { $0 == 0 })
    }

    func testFreeATMakesMUpdatesPerBatchWhileTheScheduleAdvancesOnce() {
        let optimizer = AdamW(learningRate: 1e-3)
        let s = TrainingState(
            model: TinyTask.model(), optimizer: optimizer,
            schedule: LinearWarmupDecay(baseLearningRate: 1e-3, warmupSteps: 0, totalSteps: 10), maxGradNorm: 1)
        _ = FreeATStep(perturbation: .init(norm: .l2, initMagnitude: 0.1, radius: 0.5, stepSize: 0.1), steps: 3)
            .step([batch], state: s)
        XCTAssertEqual(optimizer.stepCount, 3)
        XCTAssertEqual(s.globalStep, 1)
        XCTAssertEqual(optimizer.learningRate, 1e-3, "all m steps use the rate of scheduler step 0")
    }

    func testMultipleChoiceProjectionIsJointOverTheChoicesOfAQuestion() throws {
        // δ [B, C, T, d]: one L2 ball per question, so a single choice may exceed ε/√C but the question cannot exceed ε.
        let (b, c, t) = (2, 3, 5)
        let ids = (0..<(b * c * t)).map { Int32(10 + $0 % 30) }
        let input = EncoderInput(inputIds: ids, shape: [b, c, t])
        let model = TransformerClassifier(config: TinyTask.config(), kind: .multipleChoice, seed: 2)
        model.initializeWeights(seed: 2)
        model.prepareParameters()
        let s = state(model)
        s.trace = StepTrace()
        _ = try FreeLBStep(perturbation: .init(norm: .l2, initMagnitude: 1, radius: 0.25, stepSize: 0.3), steps: 3)
            .step([TrainingBatch(input: input, labels: .classes([0, 2]))], state: s)
        for delta in s.trace!.deltas.dropFirst() {
            XCTAssertEqual(delta.shape, [b, c, t, 32])
            for (q, norm) in delta.perExampleNorm().scalars.enumerated() {
                XCTAssertEqual(norm, 0.25, accuracy: 1e-5, "question \(q) lies on its joint sphere")
            }
        }
    }

    func testSameSeedGivesIdenticalParameters() throws {
        func train() throws -> [Float] {
            let model = TinyTask.model(seed: 9)
            let trainer = Trainer(
                state: TrainingState(model: model, optimizer: AdamW(learningRate: 1e-3), seed: 4),
                method: try FreeLBStep(perturbation: .init(norm: .l2, initMagnitude: 0.1, radius: 0.5, stepSize: 0.1), steps: 2))
            trainer.run(totalSteps: 3, epochBatches: { _ in TinyTask.batches(count: 24, batchSize: 8) })
            return model.parameters.flatMap(\.scalars)
        }
        XCTAssertEqual(try train(), try train())
    }

    func testCleanPassAddsOnePassAtDeltaZeroFirst() throws {
        let model = TinyTask.model(dropout: 0)
        let s = state(model)
        let clean = TinyTask.model(dropout: 0)
        let vanillaLoss = VanillaStep().step([batch], state: state(clean)).passLosses[0]
        let result = try FreeLBStep(
            perturbation: .init(norm: .l2, initMagnitude: 0.3, radius: 0.5, stepSize: 0.1), steps: 2,
            cleanPass: true
        ).step([batch], state: s)
        XCTAssertEqual(result.passLosses.count, 3, "K + 1 passes")
        XCTAssertEqual(result.passLosses[0], vanillaLoss, "the first pass is clean")
        XCTAssertNotEqual(result.passLosses[1], vanillaLoss, "μ > 0: the adversarial passes are perturbed")
    }

    func testAdvBeginStepTrainsVanillaFirst() throws {
        let s = state(TinyTask.model())
        let method = try FreeLBStep(
            perturbation: .init(norm: .l2, initMagnitude: 0.1, radius: 0.5, stepSize: 0.1), steps: 3, beginStep: 2)
        XCTAssertEqual(method.step([batch], state: s).passLosses.count, 1, "step 0: vanilla")
        XCTAssertEqual(method.step([batch], state: s).passLosses.count, 1, "step 1: vanilla")
        XCTAssertEqual(method.step([batch], state: s).passLosses.count, 3, "step 2: FreeLB")
    }

    /// Two micro-batches of 4, each backpropagating loss/2, give the gradients of one batch of 8 (mean loss)
    /// when δ stays 0 (μ = 0, α = 0): accumulation divides by the number of micro-batches.
    func testGradientAccumulationMatchesOneLargeBatch() throws {
        let config = PerturbationConfig(norm: .l2, initMagnitude: 0, radius: 0, stepSize: 0)
        func split(_ b: TrainingBatch, _ range: Range<Int>) -> TrainingBatch {
            let t = b.input.shape[1]
            let ids = Array(b.input.inputIds[(range.lowerBound * t)..<(range.upperBound * t)])
            let mask = Array(b.input.attentionMask[(range.lowerBound * t)..<(range.upperBound * t)])
            guard case .classes(let labels) = b.labels else { fatalError() }
            return TrainingBatch(
                input: EncoderInput(inputIds: ids, attentionMask: mask, shape: [range.count, t]),
                labels: .classes(Array(labels[range])))
        }
        let one = state(TinyTask.model(dropout: 0)), two = state(TinyTask.model(dropout: 0))
        one.trace = StepTrace(); two.trace = StepTrace()
        _ = try FreeLBStep(perturbation: config, steps: 2).step([batch], state: one)
        _ = try FreeLBStep(perturbation: config, steps: 2).step([split(batch, 0..<4), split(batch, 4..<8)], state: two)
        for (name, g) in one.trace!.gradients[0] {
            let h = two.trace!.gradients[0][name]!
            for i in g.indices { XCTAssertEqual(g[i], h[i], accuracy: 1e-6, "\(name)[\(i)]") }
        }
    }

    func testYOPOCheapStepsOnlyTouchDelta() throws {
        let model = TinyTask.model()
        let s = state(model)
        let result = try YOPOStep(
            perturbation: .init(norm: .l2, initMagnitude: 0.1, radius: 0.5, stepSize: 0.1), steps: 2, innerSteps: 3
        )
        .step([batch], state: s)
        XCTAssertEqual(result.passLosses.count, 3, "K+1 full passes")
        XCTAssertEqual(s.globalStep, 1)
    }
}
