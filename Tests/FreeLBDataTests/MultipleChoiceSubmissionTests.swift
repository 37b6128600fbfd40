// ARC / CommonsenseQA prediction files in the leaderboards' CSV: `question id,answer label` per line.
import Foundation
import XCTest
import FreeLBData

final class MultipleChoiceSubmissionTests: XCTestCase {
    func testOneLinePerQuestionWithTheChosenLabel() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("freelb-mc-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let task = try TaskRegistry.task(named: "commonsenseqa")
        let url = try SubmissionWriter.writeMultipleChoice(
            task: task, ids: ["q1", "q2", "q3"],
            choiceLabels: [["A", "B", "C", "D", "E"], ["A", "B", "C", "D", "E"], ["1", "2", "3", "4"]],
            predictions: [4, 0, 2], to: folder)
        XCTAssertEqual(url.lastPathComponent, "commonsenseqa-test-predictions.csv")
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "q1,E\nq2,A\nq3,3\n")
    }

    func testAChoiceOutsideTheQuestionIsAnError() throws {
        let task = try TaskRegistry.task(named: "arc-easy")
        XCTAssertThrowsError(
            try SubmissionWriter.writeMultipleChoice(
                task: task, ids: ["q1"], choiceLabels: [["A", "B"]], predictions: [2],
                to: FileManager.default.temporaryDirectory)
        ) { XCTAssertTrue("\($0)".contains("outside the 2 choices")) }
        XCTAssertThrowsError(
            try SubmissionWriter.writeMultipleChoice(
                task: try TaskRegistry.task(named: "rte"), ids: [], choiceLabels: [], predictions: [],
                to: FileManager.default.temporaryDirectory))
    }
}
