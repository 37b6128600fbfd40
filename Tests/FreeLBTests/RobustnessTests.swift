import Foundation
import XCTest
@testable import FreeLB
import FreeLBModels
import FreeLBNN
import FreeLBTensor

/// Spec §10: the max-loss-increment attack, the radius search and the Table 5 comparison, on TinyTask models.
final class RobustnessTests: XCTestCase {
    /// 16 dev examples (8 positive, 8 negative), generated with another seed than the training data.
    let dev = TinyTask.batches(count: 16, batchSize: 8, seed: 9)
    let ln2 = log(2.0)

    /// A TinyTask model trained `steps` vanilla steps on 32 examples (40 steps: 100% on `dev`, clean loss ≈ 3e-3).
    func trained(steps: Int, seed: UInt64 = 11) -> TransformerClassifier {
        let data = TinyTask.batches(count: 32, batchSize: 8)
        let model = TinyTask.model(seed: seed, dropout: 0.1)
        let state = TrainingState(model: model, optimizer: AdamW(learningRate: 3e-3, weightDecay: 0.01), maxGradNorm: 1, seed: 2)
        Trainer(state: state, method: VanillaStep()).run(totalSteps: steps, epochBatches: { _ in data })
        return model
    }

    func examples() throws -> [RobustnessExample] { try RobustnessExample.split(dev) }

    /// ‖v‖ of example `id`'s δ must stay ≤ r; 1e-6 relative slack is float32 rounding of the rescale r/‖δ‖.
    let ballSlack = 1 + 1e-6

    // MARK: attack

    func testAttackStaysInTheBallAndFindsLossAboveTheCleanLoss() throws {
        let model = trained(steps: 40)
        let settings = AttackSettings(maxSteps: 40, stepSize: 0.02, earlyStop: false)
        for r: Float in [0.05, 0.3, 1] {
            let results = try RobustnessAnalysis.attack(model, examples: examples(), radius: r, settings: settings)
            XCTAssertEqual(results.count, 16)
            for (i, result) in results.enumerated() {
                XCTAssertLessThanOrEqual(
                    result.maxPerturbationNorm, Double(r) * ballSlack, "example \(i) left the ball of radius \(r)")
                XCTAssertGreaterThanOrEqual(result.maxLoss, result.cleanLoss, "example \(i), r = \(r): ascent lowered the loss")
                XCTAssertEqual(result.steps, 40, "no early stop requested")
                XCTAssertEqual(result.radius, r)
            }
        }
        XCTAssertTrue(model.isTraining, "attack restores training mode")
    }

    func testMaxLossGrowsWithTheRadiusForAFixedSeed() throws {
        let model = trained(steps: 40)
        let settings = AttackSettings(maxSteps: 40, stepSize: 0.02, earlyStop: false, seed: 4)
        let radii: [Float] = [0.05, 0.3, 1]
        let losses = try radii.map {
            try RobustnessAnalysis.attack(model, examples: examples(), radius: $0, settings: settings).map(\.maxLoss)
        }
        for i in 0..<16 {
            // δ0 has the same direction at every radius (one generator per example id), so a larger ball
            // contains more of the same path; 1e-6 absolute allows float32 noise on equal maxima.
            XCTAssertLessThanOrEqual(losses[0][i], losses[1][i] + 1e-6, "example \(i): r 0.05 → 0.3")
            XCTAssertLessThanOrEqual(losses[1][i], losses[2][i] + 1e-6, "example \(i): r 0.3 → 1")
        }
        let means = losses.map { $0.reduce(0, +) / 16 }
        XCTAssertLessThan(means[0], means[1])
        XCTAssertLessThan(means[1], means[2])
    }

    func testBatchedAttackEqualsAttackingEachExampleAlone() throws {
        // Each example has its own δ_b, normaliser, projection and early stop, so batching changes nothing
        // beyond float32 rounding (GEMM blocking depends on the batch size): 1e-4 relative on the max loss.
        let model = trained(steps: 40)
        let all = try examples()
        let settings = AttackSettings(maxSteps: 60, stepSize: 5e-3, earlyStop: true, seed: 7)
        let radii: [Float] = (0..<16).map { [0.01, 0.2, 0.5][$0 % 3] }
        let batched = try RobustnessAnalysis.attack(model, examples: all, radii: radii, settings: settings)
        for i in [0, 1, 5, 10] {
            let alone = try RobustnessAnalysis.attack(model, examples: [all[i]], radii: [radii[i]], settings: settings)[0]
            XCTAssertEqual(alone.maxLoss, batched[i].maxLoss, accuracy: 1e-4 * max(1, alone.maxLoss), "example \(i)")
            XCTAssertEqual(alone.cleanLoss, batched[i].cleanLoss, accuracy: 1e-5, "example \(i)")
            XCTAssertEqual(alone.radius, batched[i].radius)
        }
        // Examples at r = 0.01 sit almost flat on their sphere and stop on their own (patience 50 → ≥ 51
        // losses) while the batch goes on for the others. Whether a given one's loss changes by less than
        // 1e-5 relative for 50 steps depends on float rounding (SIMD kernels vs scalar), so the test asks
        // that early stop happens for some of them and never before the patience runs out.
        let small = batched.enumerated().filter { radii[$0.offset] == 0.01 }.map(\.element)
        XCTAssertTrue(small.contains { $0.earlyStopped && $0.steps < 60 }, "\(small.map(\.steps))")
        XCTAssertTrue(batched.filter(\.earlyStopped).allSatisfy { $0.steps >= 51 }, "\(batched.map(\.steps))")
    }

    func testEarlyStopTriggersOnAFlatLossOnTheSphere() throws {
        // Classifier weights × 1e-6: logits ≈ 1e-6, the loss is ln 2 to ~1e-6 relative (flat), but the
        // gradient still has a direction, so normalised steps carry δ to the sphere and it stays there.
        let model = TinyTask.model(seed: 3, dropout: 0)
        withNoGrad { model.classifier.weight.copy(from: model.classifier.weight.scaled(by: 1e-6)) }
        let settings = AttackSettings(maxSteps: 200, stepSize: 5e-3, earlyStop: true, patience: 50)
        let results = try RobustnessAnalysis.attack(model, examples: examples(), radius: 0.05, settings: settings)
        for (i, result) in results.enumerated() {
            XCTAssertTrue(result.earlyStopped, "example \(i)")
            // 50 flat steps need 51 losses; reaching the sphere from ‖δ0‖ ≈ r/√3 takes ≤ 10 steps of 5e-3.
            XCTAssertGreaterThanOrEqual(result.steps, 51, "example \(i)")
            XCTAssertLessThanOrEqual(result.steps, 51 + 10, "example \(i)")
            XCTAssertEqual(result.maxPerturbationNorm, 0.05, accuracy: 0.05 * 1e-6, "example \(i) is on the sphere")
        }
        // Without early stop the same attack runs all steps.
        var full = settings
        full.earlyStop = false
        XCTAssertTrue(
            try RobustnessAnalysis.attack(model, examples: examples(), radius: 0.05, settings: full).allSatisfy {
                $0.steps == 200
            })
    }

    func testFlatLossInsideTheBallDoesNotStopTheAttack() throws {
        // Zero classifier weights: constant loss ln 2 and a zero gradient, so δ stays at δ0, inside the ball
        // (‖δ0‖ ≈ r/√3), and the stop rule ("while δ sits on the sphere") never fires.
        let model = TinyTask.model(seed: 3, dropout: 0)
        model.classifier.weight.fill(0)
        let results = try RobustnessAnalysis.attack(
            model, examples: Array(examples().prefix(4)), radius: 0.05,
            settings: AttackSettings(maxSteps: 80, patience: 10))
        for result in results {
            XCTAssertFalse(result.earlyStopped)
            XCTAssertEqual(result.steps, 80)
            XCTAssertEqual(result.maxLoss, ln2, accuracy: 1e-6, "logits are the zero bias")
            XCTAssertLessThan(result.maxPerturbationNorm, 0.05 * (1 - 1e-6))
        }
    }

    func testMultipleChoiceAttackKeepsEachQuestionInItsBall() throws {
        // 4 questions × 2 choices from the dev sequences; δ_b covers both choices, so ‖δ_b‖ (joint) ≤ r.
        let model = TinyTask.model(seed: 2, dropout: 0, kind: .multipleChoice)
        let batch = dev[0]
        let input = EncoderInput(inputIds: batch.input.inputIds, attentionMask: batch.input.attentionMask, shape: [4, 2, 9])
        let questions = try RobustnessExample.split([TrainingBatch(input: input, labels: .classes([0, 1, 0, 1]))])
        XCTAssertEqual(questions.map(\.input.shape[1]), [2, 2, 2, 2])
        let settings = AttackSettings(maxSteps: 30, stepSize: 0.05, earlyStop: false)
        let results = try RobustnessAnalysis.attack(model, examples: questions, radius: 0.2, settings: settings)
        for (i, result) in results.enumerated() {
            XCTAssertLessThanOrEqual(result.maxPerturbationNorm, 0.2 * ballSlack, "question \(i)")
            XCTAssertGreaterThan(result.maxLoss, result.cleanLoss, "question \(i)")
            let alone = try RobustnessAnalysis.attack(model, examples: [questions[i]], radius: 0.2, settings: settings)[0]
            XCTAssertEqual(
                alone.maxLoss, result.maxLoss, accuracy: 1e-4 * max(1, alone.maxLoss), "question \(i) batched vs alone")
        }
    }

    // MARK: radius search

    func testRadiusGridIsTheSpecsDescendingLinspaces() {
        let grid = RobustnessAnalysis.radiusGrid(1)
        XCTAssertEqual(grid.count, 22)
        XCTAssertEqual(grid[0], 1)
        XCTAssertEqual(grid[1], 0.901, accuracy: 1e-7)  // 1 − (1 − 0.01)/10
        XCTAssertEqual(grid[10], 0.01, accuracy: 1e-9)
        XCTAssertEqual(grid[11], 9e-3, accuracy: 1e-9)
        XCTAssertEqual(grid[12], 8.11e-3, accuracy: 1e-9)  // 9e-3 − (9e-3 − 1e-4)/10
        XCTAssertEqual(grid[21], 1e-4, accuracy: 1e-10)
        XCTAssertEqual(grid, grid.sorted(by: >), "descending")
    }

    func testFindRadiusTakesTheFirstGridValueWithMaxLossAtMostLn2() throws {
        let model = trained(steps: 40)
        let all = try examples()
        let settings = AttackSettings(maxSteps: 40, stepSize: 0.05, seed: 1)
        let grid = RobustnessAnalysis.radiusGrid(1)
        let found = try RobustnessAnalysis.findRadii(anchor: model, examples: all, searchRadius: 1, settings: settings)
        XCTAssertTrue(found.contains { ($0?.gridIndex ?? 0) > 0 }, "some example needs a smaller radius than R")
        for (i, result) in found.enumerated() {
            guard let result else {
                // Correctly classified means clean loss < ln 2; only an example right at the boundary can
                // exceed ln 2 even at r = 1e-4.
                let clean = try RobustnessAnalysis.attack(model, examples: [all[i]], radius: 1e-4, settings: settings)[0]
                    .cleanLoss
                XCTAssertGreaterThan(
                    clean, ln2 - 1e-2, "example \(i) has no radius although its clean loss \(clean) is far below ln 2")
                continue
            }
            XCTAssertEqual(result.radius, grid[result.gridIndex])
            XCTAssertLessThanOrEqual(result.anchorAttack.maxLoss, ln2)
            XCTAssertEqual(result.gridIndex == 0, result.largerRadiusMaxLoss == nil)
            XCTAssertGreaterThan(
                result.largerRadiusMaxLoss ?? .infinity, ln2, "example \(i): the previous grid value exceeds ln 2")
        }
        // Independent checks (each example alone, not batched) on a few examples below R.
        for i in found.indices.filter({ (found[$0]?.gridIndex ?? 0) > 0 }).prefix(3) {
            let result = try XCTUnwrap(found[i])
            let single = try XCTUnwrap(
                try RobustnessAnalysis.findRadius(anchor: model, example: all[i], searchRadius: 1, settings: settings))
            XCTAssertEqual(single.radius, result.radius, "example \(i): batched and single searches agree")
            let here = try RobustnessAnalysis.attack(model, examples: [all[i]], radius: result.radius, settings: settings)[0]
            XCTAssertLessThanOrEqual(here.maxLoss, ln2, "example \(i) at r = \(result.radius)")
            let previous = grid[result.gridIndex - 1]
            let larger = try RobustnessAnalysis.attack(model, examples: [all[i]], radius: previous, settings: settings)[0]
            XCTAssertGreaterThan(larger.maxLoss, ln2, "example \(i) at the previous grid value \(previous)")
            // The search stops that attack at the first loss above ln 2: the same prefix of the full attack.
            var capped = settings
            capped.stopAboveLoss = ln2
            let stopped = try RobustnessAnalysis.attack(model, examples: [all[i]], radius: previous, settings: capped)[0]
            XCTAssertLessThanOrEqual(stopped.steps, larger.steps)
            XCTAssertGreaterThan(stopped.maxLoss, ln2)
            XCTAssertLessThanOrEqual(stopped.maxLoss, larger.maxLoss)
            // batched vs alone: float32 rounding, 1e-4 relative
            XCTAssertEqual(try XCTUnwrap(result.largerRadiusMaxLoss), stopped.maxLoss, accuracy: 1e-4 * stopped.maxLoss)
        }
    }

    // MARK: comparison

    func testSampleSummaryMatchesHandComputedStatistics() {
        let even = SampleSummary([4, 1, 3, 2])
        XCTAssertEqual(even.median, 2.5)  // (2 + 3)/2
        XCTAssertEqual(even.mean, 2.5)
        XCTAssertEqual(even.std, 1.25.squareRoot(), accuracy: 1e-15)  // population: Σ(x − 2.5)²/4 = 5/4
        XCTAssertEqual(even.count, 4)
        let odd = SampleSummary([5, 1, 2])
        XCTAssertEqual(odd.median, 2)
        XCTAssertEqual(odd.mean, 8.0 / 3, accuracy: 1e-15)
        XCTAssertEqual(odd.std, (26.0 / 9).squareRoot(), accuracy: 1e-15)  // ((7/3)² + (5/3)² + (2/3)²)/3 = 78/27
    }

    func testCompareKeepsOnlyCommonlyCorrectExamplesAndSummarisesTheirIncrements() throws {
        let strong = trained(steps: 40), mid = trained(steps: 12), weak = trained(steps: 8, seed: 6)
        let models = [(name: "strong", model: strong), (name: "mid", model: mid), (name: "weak", model: weak)]
        let settings = AttackSettings(maxSteps: 40, stepSize: 0.05, batchSize: 5, seed: 3)
        let report = try RobustnessAnalysis.compare(
            models: models, anchor: "strong", batches: dev, searchRadius: 1, settings: settings)

        // Correctness from the trainer's evaluate() (an independent code path): argmax of eval-mode logits.
        let labels = dev.flatMap { batch -> [Int32] in if case .classes(let c) = batch.labels { return c } else { return [] } }
        var common = Set(0..<16)
        for (_, model) in models {
            let rows = evaluate(model, batches: dev).logits
            for (i, row) in rows.enumerated() where row.indices.max(by: { row[$0] < row[$1] }) != Int(labels[i]) {
                common.remove(i)
            }
        }
        XCTAssertTrue(common.count < 16 && common.count > 4, "the models disagree on some examples: \(common.count) kept")
        XCTAssertEqual(report.totalExamples, 16)
        XCTAssertEqual(report.commonlyCorrect, common.count)
        XCTAssertEqual(Set(report.examples.map(\.id)).union(report.withoutRadius), common)
        XCTAssertEqual(report.models, ["strong", "mid", "weak"])

        for record in report.examples {
            XCTAssertEqual(Set(record.attacks.keys), ["strong", "mid", "weak"])
            XCTAssertLessThanOrEqual(try XCTUnwrap(record.attacks["strong"]).maxLoss, ln2, "the anchor's radius bounds its loss")
            for (name, attack) in record.attacks {
                XCTAssertEqual(attack.radius, record.radius, "\(name) is attacked at the anchor's radius")
                XCTAssertLessThanOrEqual(attack.maxPerturbationNorm, Double(record.radius) * ballSlack, name)
            }
        }
        for summary in report.summaries {
            // Hand computation from the per-example values the report exposes.
            let values = report.increments(of: summary.name)
            XCTAssertEqual(values.count, report.examples.count)
            XCTAssertEqual(summary.examples, values.count)
            let sorted = values.sorted(), n = sorted.count
            let median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
            let mean = values.reduce(0, +) / Double(n)
            let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)).squareRoot()
            let clean = report.examples.compactMap { $0.attacks[summary.name]?.cleanLoss }.reduce(0, +) / Double(n)
            // Same formulas, possibly different summation order: 1e-12 relative.
            XCTAssertEqual(summary.increment.median, median, accuracy: 1e-12 * max(1, abs(median)), summary.name)
            XCTAssertEqual(summary.increment.mean, mean, accuracy: 1e-12 * max(1, abs(mean)), summary.name)
            XCTAssertEqual(summary.increment.std, std, accuracy: 1e-12 * max(1, std), summary.name)
            XCTAssertEqual(summary.meanCleanLoss, clean, accuracy: 1e-12, summary.name)
        }
        let table = report.markdownTable()
        XCTAssertTrue(table.hasPrefix("| model | median Δloss | mean Δloss | std Δloss | clean loss | n |"), table)
        XCTAssertEqual(table.split(separator: "\n").count, 2 + 3)
        XCTAssertTrue(table.contains("| strong (anchor) | "), table)
        XCTAssertTrue(table.contains(" | \(report.examples.count) |"), table)
    }

    func testReportIsReproducibleFromTheSeedAndSurvivesAJSONRoundTrip() throws {
        let anchor = trained(steps: 40), other = trained(steps: 12)
        func run() throws -> RobustnessReport {
            try RobustnessAnalysis.compare(
                models: [("anchor", anchor), ("other", other)], anchor: "anchor",
                batches: [dev[0]], searchRadius: 0.5,
                settings: AttackSettings(maxSteps: 20, stepSize: 0.05, earlyStop: false, seed: 9))
        }
        let report = try run()
        XCTAssertEqual(try run(), report, "same seed, same report")
        XCTAssertFalse(report.examples.isEmpty)
        // Without early stop every model, the anchor included, runs all 20 steps at the found radius.
        XCTAssertTrue(report.examples.allSatisfy { $0.attacks.values.allSatisfy { $0.steps == 20 } })
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("robustness-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try report.write(to: url)
        XCTAssertEqual(try RobustnessReport.read(from: url), report)
        let json = try XCTUnwrap(String(data: Data(contentsOf: url), encoding: .utf8))
        XCTAssertTrue(json.contains("\"anchor\" : \"anchor\""), json)
    }

    // MARK: bad input

    func testBadInputGivesTypedErrors() throws {
        let model = TinyTask.model(seed: 1, dropout: 0)
        let all = try examples()
        XCTAssertThrowsError(try RobustnessAnalysis.compare(models: [("a", model)], anchor: "b", batches: dev, searchRadius: 1)) {
            XCTAssertEqual($0 as? RobustnessError, .unknownAnchor("b", available: ["a"]))
        }
        XCTAssertThrowsError(
            try RobustnessAnalysis.compare(models: [("a", model), ("a", model)], anchor: "a", batches: dev, searchRadius: 1)
        ) {
            XCTAssertEqual($0 as? RobustnessError, .duplicateModelName("a"))
        }
        let regression = TinyTask.model(seed: 1, dropout: 0, kind: .regression)
        XCTAssertThrowsError(try RobustnessAnalysis.attack(regression, examples: all, radius: 0.1)) {
            XCTAssertEqual($0 as? RobustnessError, .unsupportedTask(model: "model", kind: .regression))
        }
        XCTAssertThrowsError(
            try RobustnessExample.split([TrainingBatch(input: dev[0].input, labels: .targets(Array(repeating: 1, count: 8)))])
        ) {
            XCTAssertEqual($0 as? RobustnessError, .regressionTargets(batch: 0))
        }
        XCTAssertThrowsError(try RobustnessExample.split([dev[0], TrainingBatch(input: dev[1].input, labels: .classes([1, 0]))]))
        {
            XCTAssertEqual($0 as? RobustnessError, .labelCountMismatch(batch: 1, expected: 8, found: 2))
        }
        var bad = all[3]
        bad.label = 2
        XCTAssertThrowsError(try RobustnessAnalysis.attack(model, examples: [bad], radius: 0.1)) {
            XCTAssertEqual($0 as? RobustnessError, .labelOutOfRange(exampleID: 3, label: 2, classes: 2))
        }
        XCTAssertThrowsError(try RobustnessAnalysis.attack(model, examples: all, radius: 0)) {
            XCTAssertEqual($0 as? RobustnessError, .invalidSetting(field: "radius", value: 0, expected: "> 0 and finite"))
        }
        XCTAssertThrowsError(try RobustnessAnalysis.findRadii(anchor: model, examples: all, searchRadius: 1e-3)) {
            XCTAssertTrue(String(describing: $0).contains("searchRadius"), "\($0)")
        }
    }

    func testSplitTrimsTrailingPaddingAndKeepsLabels() throws {
        let all = try examples()
        XCTAssertEqual(all.map(\.id), Array(0..<16))
        for (i, example) in all.enumerated() {
            let batch = dev[i / 8], row = i % 8
            let mask = Array(batch.input.attentionMask[(row * 9)..<(row * 9 + 9)])
            XCTAssertEqual(example.input.shape, [1, mask.reduce(0) { $0 + Int($1) }], "real tokens are a prefix here")
            XCTAssertTrue(example.input.attentionMask.allSatisfy { $0 == 1 })
            XCTAssertEqual(example.input.inputIds, Array(batch.input.inputIds[(row * 9)..<(row * 9 + example.input.length)]))
            if case .classes(let c) = batch.labels { XCTAssertEqual(example.label, c[row]) }
        }
    }
}
