// Significance over seeds (paired bootstrap interval, exact sign test) and the figures written by
// `freelb experiment` and every run (issue 19).
import XCTest
@testable import FreeLB

final class ExperimentStatisticsTests: XCTestCase {
    /// Every opened group and document is closed, and text is escaped.
    func assertBalanced(_ svg: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(
            svg.components(separatedBy: "<g ").count, svg.components(separatedBy: "</g>").count, file: file, line: line)
        XCTAssertEqual(svg.components(separatedBy: "<svg ").count, 2, file: file, line: line)
        XCTAssertTrue(svg.hasSuffix("</svg>\n"), file: file, line: line)
    }

    func testSignTestPValuesAreExactBinomialTails() {
        XCTAssertEqual(ExperimentReport.signTestPValue([1, 2, 3]), 0.25, accuracy: 1e-12)  // 2 · 1/8
        XCTAssertEqual(ExperimentReport.signTestPValue([1, 2, 3, 4, 5]), 0.0625, accuracy: 1e-12)  // 2 · 1/32
        XCTAssertEqual(ExperimentReport.signTestPValue([1, -1, 2]), 1, accuracy: 1e-12)  // 2 · 4/8, capped
        XCTAssertEqual(ExperimentReport.signTestPValue([3, 2, -1, 4, 5]), 0.375, accuracy: 1e-12)  // 2 · 6/32
        XCTAssertEqual(ExperimentReport.signTestPValue([0, 0]), 1)
    }

    func testBootstrapIntervalIsDeterministicAndBracketsTheMean() throws {
        let values = [0.4, -0.2, 1.1, 0.3, 0.9]
        let a = try XCTUnwrap(ExperimentReport.bootstrapInterval(values))
        XCTAssertEqual(a, ExperimentReport.bootstrapInterval(values), "a fixed seed gives the same interval")
        let mean = values.reduce(0, +) / Double(values.count)
        XCTAssertTrue(a.contains(mean))
        XCTAssertGreaterThanOrEqual(a.lowerBound, values.min()!)
        XCTAssertLessThanOrEqual(a.upperBound, values.max()!)
        XCTAssertEqual(ExperimentReport.bootstrapInterval([2, 2, 2]), 2...2)
        XCTAssertNil(ExperimentReport.bootstrapInterval([]))
        // Same sign and similar size on every seed: the interval excludes 0.
        XCTAssertGreaterThan(try XCTUnwrap(ExperimentReport.bootstrapInterval([1.0, 1.2, 0.9, 1.1, 1.3])).lowerBound, 0)
    }

    func report() -> ExperimentReport {
        func cell(_ method: String, _ seed: UInt64, _ score: Double) -> ExperimentCell {
            ExperimentCell(
                task: "rte", method: method, seed: seed,
                summary: RunSummary(
                    task: "rte", method: method, seed: seed, steps: 10, interrupted: false, wallSeconds: 60, resumedFromStep: nil,
                    wallSecondsIncomplete: nil, mainMetric: "accuracy", bestMetric: score, bestStep: 10, finalMetrics: [:]))
        }
        let cells = [
            cell("vanilla", 1, 0.50), cell("vanilla", 2, 0.55), cell("vanilla", 3, 0.60),
            cell("freelb", 1, 0.52), cell("freelb", 2, 0.58), cell("freelb", 3, 0.61)
        ]
        return ExperimentReport(cells: cells, tasks: ["rte"], methods: ["vanilla", "freelb"], seeds: [1, 2, 3])
    }

    func testMarkdownHasTheIntervalsAndPValues() {
        let markdown = report().markdown()
        XCTAssertTrue(markdown.contains("95% paired bootstrap interval"), markdown)
        XCTAssertTrue(markdown.contains("p=0.25"), markdown)  // freelb higher on 3 of 3 seeds
        XCTAssertTrue(markdown.contains(" *"), markdown)  // +1..+3 on every seed
    }

    func testOneFigurePerTaskWithEverySeedAndTheIntervals() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("freelb-plots-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let written = try report().writePlots(to: folder)
        XCTAssertEqual(written.map(\.lastPathComponent), ["rte.svg"])
        let svg = try String(contentsOf: written[0], encoding: .utf8)
        XCTAssertEqual(svg.components(separatedBy: "<circle").count - 1, 6 + 3, "6 scores and 3 paired differences")
        XCTAssertTrue(svg.contains("vanilla") && svg.contains("freelb") && svg.contains("bootstrap"))
        assertBalanced(svg)
    }

    func testTrainingCurvesHaveSmoothedLossTicksAndEvalPoints() throws {
        let loss: [(Double, Double)] = (1...100).map { step in
            let wiggle: Double = step % 2 == 0 ? 0.05 : -0.05
            return (Double(step), 1.0 / Double(step) + wiggle)
        }
        let svg = TrainingCurves.render(loss: loss, metric: [(50, 0.6), (100, 0.7)], mainMetric: "accuracy")
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 3, "raw loss, smoothed loss, metric")
        XCTAssertEqual(svg.components(separatedBy: "<circle").count - 1, 2, "one point per evaluation")
        XCTAssertTrue(svg.contains("best 0.7 @ 100"), svg)
        assertBalanced(svg)
        let smooth = TrainingCurves.smoothed(loss, beta: 0.9)
        XCTAssertEqual(smooth[0].1, loss[0].1, accuracy: 1e-12, "bias-corrected: the first value is the first loss")
        let wiggle = zip(smooth.dropFirst(50), smooth.dropFirst(51)).map { abs($0.1 - $1.1) }.max()!
        XCTAssertLessThan(wiggle, 0.03, "smoothing removes the ±0.05 alternation")
    }
}
