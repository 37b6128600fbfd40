import Foundation
import XCTest
@testable import FreeLB

final class RunConfigurationTests: XCTestCase {
    func testConfigFileOverridesDefaultsAndRejectsUnknownOrMistypedFields() throws {
        let base = RunConfiguration()
        let merged = try base.merging(
            json: Data(#"{"learning-rate": 3e-5, "adv-norm": "linf", "method": "pgd"}"#.utf8), file: "c.json")
        XCTAssertEqual(merged.learningRate, 3e-5)
        XCTAssertEqual(merged.norm, .linf)
        XCTAssertEqual(merged.method, .pgd)
        XCTAssertEqual(merged.batchSize, base.batchSize, "absent keys keep their values")
        XCTAssertThrowsError(try base.merging(json: Data(#"{"learning_rate": 1}"#.utf8), file: "c.json")) { error in
            XCTAssertTrue("\(error)".contains("c.json") && "\(error)".contains("learning_rate"), "\(error)")
        }
        XCTAssertThrowsError(try base.merging(json: Data(#"{"batch-size": "16"}"#.utf8), file: "c.json")) { error in
            XCTAssertTrue("\(error)".contains("batch-size"), "\(error)")
        }
    }

    /// Every stored setting has exactly one declaration (`RunConfiguration.settings`), which gives its key,
    /// help, allowed values and resume rule; `--help` shows the real default.
    func testEverySettingIsDeclaredOnce() throws {
        let declared = RunConfiguration.settings.map(\.key)
        XCTAssertEqual(declared.count, Set(declared).count, "a key declared twice")
        XCTAssertEqual(Set(declared), Set(RunConfiguration.CodingKeys.allKeys), "settings vs JSON keys")
        let properties = Mirror(reflecting: RunConfiguration()).children.compactMap(\.label)
        XCTAssertEqual(Set(RunConfiguration.settings.map(\.propertyName)), Set(properties), "settings vs stored properties")
        XCTAssertEqual(
            RunConfiguration.resumableKeys,
            [
                "data-dir", "output-dir", "eval-batch-size", "epochs", "max-steps", "eval-steps",
                "eval-limit", "on-nonfinite", "nonfinite-skip-limit"
            ])
        XCTAssertTrue(RunConfiguration.helpText("learning-rate").contains("(default: 2e-05) Allowed: a finite number > 0."))
        XCTAssertTrue(RunConfiguration.helpText("eval-steps").contains("(default: every epoch)"))
        XCTAssertFalse(RunConfiguration.helpText("model").contains("default"), "no default for a required setting")
        var bad = RunConfiguration()
        bad.model = "m"; bad.task = "rte"; bad.outputDir = "o"
        XCTAssertNoThrow(try bad.validate())
        bad.learningRate = .nan
        XCTAssertThrowsError(try bad.validate()) { XCTAssertEqual("\($0)", "--learning-rate nan: must be a finite number > 0") }
    }

    func testPresetsFollowTheSpecTable() throws {
        var c = RunConfiguration()
        try c.applyPreset("RTE")
        XCTAssertEqual([c.stepSize, c.radius, c.initMagnitude, c.learningRate], [0.06, 0.14, 0.16, 1e-5])
        XCTAssertEqual([c.steps, c.batchSize], [4, 16])
        XCTAssertEqual(c.method, .freelb)
        XCTAssertThrowsError(try c.applyPreset("imdb"))
    }

    func testResumingWithDifferentTrainingSettingsIsRefused() throws {
        var a = RunConfiguration()
        a.model = "m"; a.task = "rte"; a.outputDir = "/tmp/x"
        var longer = a
        longer.maxSteps = 100
        longer.evalSteps = 10
        XCTAssertNoThrow(
            try FineTuningRun.checkResumable(stored: a.json, current: longer, folder: URL(fileURLWithPath: "/tmp/x")),
            "training longer or evaluating more often is a resume")
        var changed = a
        changed.stepSize = 0.5
        XCTAssertThrowsError(
            try FineTuningRun.checkResumable(stored: a.json, current: changed, folder: URL(fileURLWithPath: "/tmp/x"))
        ) {
            XCTAssertTrue("\($0)".contains("--adv-lr"), "\($0)")
        }
    }

    func testRunWrittenBeforeANewSettingStillResumes() throws {
        var a = RunConfiguration()
        a.model = "m"; a.task = "rte"; a.outputDir = "/tmp/x"
        var stored = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(a.json.utf8)) as? [String: Any])
        stored["group-by-length"] = nil
        let old = String(decoding: try JSONSerialization.data(withJSONObject: stored), as: UTF8.self)
        XCTAssertNoThrow(try FineTuningRun.checkResumable(stored: old, current: a, folder: URL(fileURLWithPath: "/tmp/x")))
        var grouped = a
        grouped.groupByLength = true
        XCTAssertThrowsError(
            try FineTuningRun.checkResumable(stored: old, current: grouped, folder: URL(fileURLWithPath: "/tmp/x"))
        ) {
            XCTAssertTrue("\($0)".contains("--group-by-length"), "\($0)")
        }
    }

    func testARunMovedWithItsCheckoutStillResumes() throws {
        var a = RunConfiguration()
        a.model = "/checkout-a/models/all-MiniLM-L6-v2"; a.task = "rte"; a.outputDir = "/tmp/x"
        for path in ["/checkout-b/models/all-MiniLM-L6-v2", "models/all-MiniLM-L6-v2/", "sentence-transformers/all-MiniLM-L6-v2"]
        {
            var moved = a
            moved.model = path
            XCTAssertNoThrow(
                try FineTuningRun.checkResumable(stored: a.json, current: moved, folder: URL(fileURLWithPath: "/tmp/x")), path)
        }
        var other = a
        other.model = "/checkout-a/models/bert-base-uncased"
        XCTAssertThrowsError(
            try FineTuningRun.checkResumable(stored: a.json, current: other, folder: URL(fileURLWithPath: "/tmp/x"))
        ) {
            XCTAssertTrue("\($0)".contains("--model"), "\($0)")
        }
    }
}
