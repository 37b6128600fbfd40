import Foundation
import XCTest
@testable import FreeLBData

final class MultipleChoiceReaderTests: XCTestCase {
    func testARCJSONLWithThreeToFiveChoicesAndNumericLabels() throws {
        let d = try TempDir()
        try d.write(
            "arc/ARC-Easy/ARC-Easy-Dev.jsonl",
            """
            {"id":"Q1","question":{"stem":"Which is a gas?","choices":[{"text":"ice","label":"A"},{"text":"steam","label":"B"},{"text":"rock","label":"C"}]},"answerKey":"B"}
            {"id":"Q2","question":{"stem":"Pick 4.","choices":[{"text":"one","label":"1"},{"text":"two","label":"2"},{"text":"three","label":"3"},{"text":"four","label":"4"}]},"answerKey":"4"}

            {"id":"Q3","question":{"stem":"Five?","choices":[{"text":"a","label":"A"},{"text":"b","label":"B"},{"text":"c","label":"C"},{"text":"d","label":"D"},{"text":"e","label":"E"}]},"answerKey":"E"}

            """)
        let rows = try MultipleChoiceReader.load(task: TaskRegistry.arcEasy, split: .dev, dataDir: d.url)
        XCTAssertEqual(rows.map(\.choices.count), [3, 4, 5])
        XCTAssertEqual(rows.map(\.label), [1, 3, 4])
        XCTAssertEqual(rows[1].choiceLabels, ["1", "2", "3", "4"])
        XCTAssertEqual(
            rows[0],
            MultipleChoiceExample(
                id: "Q1", question: "Which is a gas?", choices: ["ice", "steam", "rock"],
                choiceLabels: ["A", "B", "C"], label: 1))
    }

    func testCommonsenseQATestFileHasNoAnswer() throws {
        let d = try TempDir()
        try d.write(
            "commonsenseqa/test_rand_split_no_answers.jsonl",
            """
            {"id": "90b3", "question": {"question_concept": "townhouse", "choices": [{"label": "A", "text": "suburban development"}, {"label": "B", "text": "apartment building"}, {"label": "C", "text": "bus stop"}, {"label": "D", "text": "michigan"}, {"label": "E", "text": "suburbs"}], "stem": "The townhouse was next to a high rise what?"}}
            """)
        let rows = try MultipleChoiceReader.load(task: TaskRegistry.commonsenseQA, split: .test, dataDir: d.url)
        XCTAssertEqual(rows.count, 1)
        XCTAssertNil(rows[0].label)
        XCTAssertEqual(rows[0].choices, ["suburban development", "apartment building", "bus stop", "michigan", "suburbs"])
        XCTAssertEqual(
            try TaskRegistry.commonsenseQA.load(split: .test, dataDir: d.url),
            .multipleChoice(rows), "TaskSpec.load picks the jsonl reader")
    }

    func testARCIsFoundInTheLayoutOfTheOfficialZip() throws {
        let d = try TempDir()
        let f = try d.write(
            "arc/ARC-V1-Feb2018-2/ARC-Challenge/ARC-Challenge-Train.jsonl",
            #"{"id":"Q","question":{"stem":"s","choices":[{"text":"a","label":"A"},{"text":"b","label":"B"}]},"answerKey":"B"}"#)
        XCTAssertEqual(try TaskRegistry.arcChallenge.file(for: .train, dataDir: d.url).path, f.path)
        XCTAssertEqual(try TaskRegistry.arcChallenge.load(split: .train, dataDir: d.url).count, 1)
    }

    func testLineThatIsNotJSONNamesTheLine() throws {
        let d = try TempDir()
        let f = try d.write(
            "x.jsonl",
            """
            {"id":"Q1","question":{"stem":"s","choices":[{"text":"a","label":"A"},{"text":"b","label":"B"}]},"answerKey":"A"}
            {"id":"Q2","question":{"stem":"s","choices":[{"text":"a","label":"A"}
            """)
        assertDataError(try MultipleChoiceReader.readJSONL(file: f), kind: .invalidJSON, file: f, line: 2, field: nil)
    }

    func testQuestionWithASingleChoiceIsAnError() throws {
        let d = try TempDir()
        let f = try d.write(
            "x.jsonl",
            """
            {"id":"Q1","question":{"stem":"s","choices":[{"text":"a","label":"A"}]},"answerKey":"A"}
            """)
        assertDataError(
            try MultipleChoiceReader.readJSONL(file: f), kind: .tooFewChoices, file: f, line: 1,
            field: "question.choices")
    }

    func testMissingFieldsAndUnknownAnswerKeyNameTheJSONPath() throws {
        let d = try TempDir()
        let noStem = try d.write(
            "a.jsonl", #"{"id":"Q1","question":{"choices":[{"text":"a","label":"A"},{"text":"b","label":"B"}]}}"#)
        assertDataError(
            try MultipleChoiceReader.readJSONL(file: noStem), kind: .missingField, file: noStem, line: 1,
            field: "question.stem")
        let noText = try d.write(
            "b.jsonl", #"{"id":"Q1","question":{"stem":"s","choices":[{"text":"a","label":"A"},{"label":"B"}]}}"#)
        assertDataError(
            try MultipleChoiceReader.readJSONL(file: noText), kind: .missingField, file: noText, line: 1,
            field: "question.choices[1].text")
        let badKey = try d.write(
            "c.jsonl",
            #"{"id":"Q1","question":{"stem":"s","choices":[{"text":"a","label":"A"},{"text":"b","label":"B"}]},"answerKey":"C"}"#)
        assertDataError(
            try MultipleChoiceReader.readJSONL(file: badKey), kind: .invalidLabel, file: badKey, line: 1,
            field: "answerKey")
        let array = try d.write("d.jsonl", "[1, 2]\n")
        assertDataError(try MultipleChoiceReader.readJSONL(file: array), kind: .invalidJSON, file: array, line: 1, field: nil)
        let empty = try d.write("e.jsonl", "\n\n")
        assertDataError(try MultipleChoiceReader.readJSONL(file: empty), kind: .emptyFile, file: empty, line: 1, field: nil)
    }

    func testARCCSVSplitsInlineChoicesAndHonoursQuotedCommas() throws {
        let d = try TempDir()
        let f = try d.write(
            "ARC.csv",
            """
            questionID,originalQuestionID,totalPossiblePoint,AnswerKey,isMultipleChoiceQuestion,includesDiagram,examName,schoolGrade,year,question,subject,category
            MCAS_1,6,1,C,1,0,MCAS,4,2000,"Which one, if any (of these)? (A) cellular telephone (B) a ""TV"" (C) refrigerator (D) airplane",,Dev
            M_2,7,1,2,1,0,M,8,2015,Pick (1) one (2) two (3) three,,Dev

            """)
        let rows = try MultipleChoiceReader.readARCCSV(file: f)
        XCTAssertEqual(rows.count, 2)
        XCTAssertEqual(rows[0].question, "Which one, if any (of these)?")
        XCTAssertEqual(rows[0].choices, ["cellular telephone", "a \"TV\"", "refrigerator", "airplane"])
        XCTAssertEqual(rows[0].label, 2)
        XCTAssertEqual(rows[1].choices, ["one", "two", "three"])
        XCTAssertEqual(rows[1].label, 1)
    }
}
