// `freelb <command> --help` documents every flag with its default, and says which convention --adv-steps
// follows. The expected flags and defaults of `train` come from `RunConfiguration` itself, so the help
// cannot drift from what a run actually uses.
import Foundation
import XCTest
import FreeLB

final class HelpTests: XCTestCase {
    /// The OPTIONS section of an ArgumentParser help text: flag name (without "--") → its description
    /// with continuation lines joined. A flag's synopsis is its "-x,", "--flag" and "<value>" tokens.
    static func options(_ help: String) -> [String: String] {
        var result: [String: String] = [:]
        var current: String?
        var inOptions = false
        for line in help.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("OPTIONS:") { inOptions = true; continue }
            guard inOptions else { continue }
            if line.trimmingCharacters(in: .whitespaces).isEmpty || !line.hasPrefix(" ") { current = nil; continue }
            if line.hasPrefix("  -") {
                let tokens = line.split(separator: " ").map(String.init)
                let synopsis = tokens.prefix { $0.hasPrefix("-") || $0.hasPrefix("<") || $0 == "..." }
                guard let flag = synopsis.first(where: { $0.hasPrefix("--") }) else { current = nil; continue }
                let name = String(flag.dropFirst(2))
                result[name] = tokens.dropFirst(synopsis.count).joined(separator: " ")
                current = name
            } else if let name = current {
                result[name, default: ""] += (result[name]!.isEmpty ? "" : " ") + line.trimmingCharacters(in: .whitespaces)
            }
        }
        return result
    }

    /// "X" of "(default: X)" in a description.
    static func documentedDefault(_ description: String) -> String? {
        guard let open = description.range(of: "(default: ") else { return nil }
        guard let close = description[open.upperBound...].firstIndex(of: ")") else { return nil }
        return String(description[open.upperBound..<close])
    }

    func help(_ command: String) throws -> [String: String] {
        let result = try CLI.run([command, "--help"])
        XCTAssertEqual(result.status, 0, "freelb \(command) --help: \(result.stderr)")
        let options = Self.options(result.stdout)
        XCTAssertFalse(options.isEmpty, "no OPTIONS section in:\n\(result.stdout)")
        return options
    }

    /// Every setting of RunConfiguration as JSON (optionals set so that their keys appear) and the defaults.
    func configurationKeysAndDefaults() throws -> (keys: Set<String>, defaults: [String: Any]) {
        var all = RunConfiguration()
        all.maxSteps = 1; all.warmupSteps = 1; all.evalSteps = 1; all.trainLimit = 1; all.evalLimit = 1
        let keys = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(all)) as? [String: Any]).keys
        let defaults = try XCTUnwrap(
            JSONSerialization.jsonObject(with: JSONEncoder().encode(RunConfiguration())) as? [String: Any])
        return (Set(keys), defaults)
    }

    /// Checks that the training flags in `options` cover every RunConfiguration setting with its real default.
    func assertTrainingFlagsDocumented(_ options: [String: String], command: String) throws {
        let (keys, defaults) = try configurationKeysAndDefaults()
        for key in keys.sorted() {
            switch key {
            case "reuse-dropout-mask":  // on by default; the flag turns it off
                XCTAssertEqual(defaults[key] as? Bool, true)
                XCTAssertNotNil(options["no-reuse-dropout-mask"], "\(command): --no-reuse-dropout-mask is not documented")
            case "adv-clean-pass", "group-by-length":  // off by default; the flag turns it on
                XCTAssertEqual(defaults[key] as? Bool, false)
                XCTAssertNotNil(options[key], "\(command): --\(key) is not documented")
            case "model", "task", "output-dir":  // no default: the run needs them
                XCTAssertNotNil(options[key], "\(command): --\(key) is not documented")
            case "data-dir":  // the CLI resolves an absent --data-dir to ./data
                XCTAssertEqual(options[key].flatMap(Self.documentedDefault), "./data", "\(command): --data-dir")
            case "eval-steps":  // absent: once per epoch
                XCTAssertEqual(options[key].flatMap(Self.documentedDefault), "every epoch", "\(command): --eval-steps")
            default:
                let description = try XCTUnwrap(options[key], "\(command): --\(key) is not documented")
                guard let value = defaults[key] else {
                    // An optional setting without a default (--max-steps, --warmup-steps, limits) says what it does instead.
                    XCTAssertFalse(description.isEmpty, "\(command): --\(key) has no description")
                    continue
                }
                let shown = try XCTUnwrap(
                    Self.documentedDefault(description), "\(command): --\(key) shows no default: \(description)")
                if let number = value as? NSNumber, !(value is String) {
                    XCTAssertEqual(
                        Double(shown), number.doubleValue, "\(command): --\(key) shows default \(shown), the run uses \(number)")
                } else {
                    XCTAssertEqual(shown, value as? String, "\(command): --\(key) shows default \(shown), the run uses \(value)")
                }
            }
        }
    }

    func testTrainHelpDocumentsEveryFlagWithTheDefaultARunActuallyUses() throws {
        let options = try help("train")
        try assertTrainingFlagsDocumented(options, command: "train")
        // …and nothing else but these command-line-only flags.
        let (keys, _) = try configurationKeysAndDefaults()
        let extra = Set(options.keys).subtracting(keys).subtracting([
            "config", "preset", "threads", "json", "help", "no-reuse-dropout-mask"
        ])
        XCTAssertEqual(extra, [], "flags that no setting backs")
        XCTAssertEqual(
            options["threads"].flatMap(Self.documentedDefault),
            "FREELB_NUM_THREADS, else under mpirun the cores of this rank, else all cores")
    }

    func testTrainHelpSaysAdvStepsCountsFreeLBPassesKAndThatFairseqsNMeansNPlusOnePasses() throws {
        let description = try XCTUnwrap(try help("train")["adv-steps"])
        XCTAssertTrue(description.contains("FreeLB: K, the number of forward/backward passes per batch"), description)
        XCTAssertTrue(description.contains("FreeLB-K"), description)
        XCTAssertTrue(description.contains("fairseq script's --adv-steps N means K = N+1 passes"), description)
        // The other methods' readings of the same flag are spelled out too.
        for method in ["PGD:", "FreeAT:", "YOPO:"] {
            XCTAssertTrue(description.contains(method), "\(method) missing: \(description)")
        }
        XCTAssertEqual(Self.documentedDefault(description), "3")
        XCTAssertEqual(RunConfiguration().steps, 3)
    }

    func testExperimentHelpDocumentsTheGridFlagsAndEveryTrainingFlag() throws {
        let options = try help("experiment")
        for flag in ["tasks", "methods", "seeds"] { XCTAssertNotNil(options[flag], "--\(flag) is not documented") }
        try assertTrainingFlagsDocumented(options, command: "experiment")
        XCTAssertEqual(
            options["threads"].flatMap(Self.documentedDefault),
            "FREELB_NUM_THREADS, else under mpirun the cores of this rank, else all cores")
    }

    /// evaluate, predict and robustness: each option shows its default, except those listed as having none.
    func testEvaluatePredictAndRobustnessHelpShowEveryDefault() throws {
        let threads = "FREELB_NUM_THREADS or all cores"
        let shared = [
            "data-dir": "./data", "max-seq-length": "128", "batch-size": "64", "threads": threads, "precision": "fp32"
        ]
        let expected: [String: (defaults: [String: String], without: Set<String>)] = [
            "evaluate": (shared.merging(["split": "dev"]) { $1 }, ["model", "task", "limit", "help"]),
            "predict": (
                shared.merging(["split": "test"]) { $1 }, ["model", "task", "limit", "output-dir", "allow-untrained-head", "help"]
            ),
            "robustness": (
                [
                    "data-dir": "./data", "split": "dev", "max-seq-length": "128", "radius": "1.0", "max-steps": "2000",
                    "step-size": "5e-3", "batch-size": "32", "seed": "0", "threads": threads, "precision": "fp32"
                ],
                ["models", "anchor", "task", "limit", "output", "help"]
            )
        ]
        for (command, spec) in expected.sorted(by: { $0.key < $1.key }) {
            let options = try help(command)
            XCTAssertEqual(Set(options.keys), Set(spec.defaults.keys).union(spec.without), "\(command): documented flags")
            for (flag, value) in spec.defaults {
                XCTAssertEqual(options[flag].flatMap(Self.documentedDefault), value, "\(command) --\(flag)")
            }
        }
    }
}
