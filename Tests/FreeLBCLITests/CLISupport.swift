// Support for the CLI tests: locating the `freelb` binary, running it, generating a tiny BERT and
// GLUE-layout tasks in a temporary folder, and comparing safetensors files bit for bit.
import Foundation
import XCTest
import FreeLBModels
import FreeLBSafetensors
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

struct CLINotFound: Error, CustomStringConvertible {
    let tried: [String]
    var description: String {
        "the `freelb` executable was not found; build it first (`swift build --product freelb`) or set FREELB_CLI to its path. Looked at: "
            + tried.joined(separator: ", ")
    }
}

/// What a finished CLI process left behind.
struct CLIResult {
    var status: Int32
    /// true when the process ended through a signal (then `status` is the signal number).
    var signalled: Bool
    var stdout: String
    var stderr: String
    var seconds: Double

    var stdoutLines: [String] { stdout.split(separator: "\n").map(String.init) }
    var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }
}

enum CLI {
    /// The `freelb` executable: $FREELB_CLI, else next to the test bundle (SwiftPM puts all products of a
    /// configuration in one folder), else `<package>/.build/{debug,release}/freelb` from this file's path.
    static func executable() throws -> URL {
        let fm = FileManager.default
        var candidates: [URL] = []
        if let path = ProcessInfo.processInfo.environment["FREELB_CLI"], !path.isEmpty {
            candidates.append(URL(fileURLWithPath: path))
        }
        // Linux: arguments[0] is the .xctest executable in the products folder; macOS: the bundle is there.
        let argument0 = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        candidates.append(argument0.deletingLastPathComponent().appendingPathComponent("freelb"))
        for bundle in Bundle.allBundles where bundle.bundleURL.pathExtension == "xctest" {
            candidates.append(bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("freelb"))
        }
        candidates.append(Bundle.main.bundleURL.appendingPathComponent("freelb"))
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("freelb"))
        var folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        for _ in 0..<4 {
            folder = folder.deletingLastPathComponent()
            for configuration in ["debug", "release"] {
                candidates.append(folder.appendingPathComponent(".build/\(configuration)/freelb"))
            }
        }
        for url in candidates where fm.isExecutableFile(atPath: url.path) {
            var isDirectory: ObjCBool = false
            if fm.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue { return url }
        }
        throw CLINotFound(tried: candidates.map(\.path))
    }

    /// Runs `freelb arguments…` to completion (killed after `timeout` seconds) and captures its output.
    static func run(_ arguments: [String], in directory: URL? = nil, timeout: Double = 120) throws -> CLIResult {
        let process = try start(arguments, in: directory)
        let started = Date()
        let deadline = DispatchTime.now() + timeout
        let finished = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            process.process.waitUntilExit(); finished.signal()
        }
        if finished.wait(timeout: deadline) == .timedOut {
            kill(process.process.processIdentifier, SIGKILL)
            process.process.waitUntilExit()
        }
        return process.result(seconds: Date().timeIntervalSince(started))
    }

    /// Starts `freelb arguments…`; stdout is a pipe read with `nextLine()`, stderr goes to a file.
    static func start(_ arguments: [String], in directory: URL? = nil) throws -> RunningCLI {
        try RunningCLI(executable: executable(), arguments: arguments, directory: directory)
    }
}

/// A started `freelb` process whose stdout can be read line by line.
final class RunningCLI {
    let process = Process()
    private let stdoutPipe = Pipe()
    private let stderrFile: URL
    private var buffer = Data()
    private var collected = Data()
    private var reachedEnd = false

    init(executable: URL, arguments: [String], directory: URL?) throws {
        process.executableURL = executable
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        stderrFile = FileManager.default.temporaryDirectory.appendingPathComponent("freelb-cli-stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        process.standardOutput = stdoutPipe
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    deinit { try? FileManager.default.removeItem(at: stderrFile) }

    var pid: pid_t { process.processIdentifier }

    /// The next line of stdout (without the newline), or nil at end of output.
    func nextLine() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = buffer[buffer.startIndex..<newline]
                buffer = Data(buffer[(newline + 1)...])
                return String(decoding: line, as: UTF8.self)
            }
            if reachedEnd {
                guard !buffer.isEmpty else { return nil }
                defer { buffer = Data() }
                return String(decoding: buffer, as: UTF8.self)
            }
            let chunk = stdoutPipe.fileHandleForReading.availableData
            if chunk.isEmpty { reachedEnd = true } else { buffer.append(chunk); collected.append(chunk) }
        }
    }

    /// Reads stdout until a JSON line satisfies `predicate`; returns it (nil if the output ended first).
    func waitForJSONLine(_ predicate: ([String: Any]) -> Bool) -> [String: Any]? {
        while let line = nextLine() {
            if let object = jsonObject(line), predicate(object) { return object }
        }
        return nil
    }

    func signal(_ number: Int32) { kill(pid, number) }

    /// Drains stdout, waits for the exit and returns everything.
    func finish() -> CLIResult {
        let started = Date()
        while nextLine() != nil {}
        process.waitUntilExit()
        return result(seconds: Date().timeIntervalSince(started))
    }

    func result(seconds: Double) -> CLIResult {
        if !reachedEnd { while nextLine() != nil {} }
        let stderr = (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? ""
        return CLIResult(
            status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
            stdout: String(decoding: collected, as: UTF8.self), stderr: stderr, seconds: seconds)
    }
}

/// Parses one JSON object line (nil for anything else).
func jsonObject(_ line: String) -> [String: Any]? {
    guard let data = line.data(using: .utf8) else { return nil }
    return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
}

/// Reads a JSON object file, failing the test with the file's name if it is not one.
func readJSONObject(_ url: URL, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
    let data = try Data(contentsOf: url)
    guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
        XCTFail("\(url.path): not a JSON object", file: file, line: line)
        throw CocoaError(.fileReadCorruptFile)
    }
    return object
}

/// A fresh empty folder under the system temporary directory, removed when the test ends.
func temporaryDirectory(_ test: XCTestCase, _ name: String = #function) throws -> URL {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("freelb-cli-tests-\(safe)-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

// MARK: - A generated task and a tiny model

/// A tiny BERT with a WordPiece vocabulary of whole words, and GLUE-layout tasks whose label is a rule
/// on the words (SST-2: 1 iff the sentence contains "good"; RTE: entailment iff both sentences contain "good").
enum TinyTask {
    static let specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    static let words = [
        "good", "bad", "movie", "film", "plot", "actor", "story", "scene", "music", "the", "a", "an",
        "is", "was", "very", "quite", "not", "really", "long", "short", "funny", "dull", "and", "but",
        "with", "of", "in", "on", "it", "this", "that", "ending", "cast", "script", "dialogue", "pace",
        "camera", "light", "sound", "end"
    ]
    static var vocabulary: [String] { specials + words }

    /// hidden 16, 1 layer, 2 heads, intermediate 32, dropout 0.1 (so that resume must restore the dropout RNG),
    /// positions 16 (= the tests' --max-seq-length).
    static func configuration() -> ModelConfiguration {
        ModelConfiguration(
            modelType: .bert, vocabSize: vocabulary.count, hiddenSize: 16, numHiddenLayers: 1,
            numAttentionHeads: 2, intermediateSize: 32, hiddenDropoutProb: 0.1, attentionProbsDropoutProb: 0.1,
            maxPositionEmbeddings: 16, typeVocabSize: 2, initializerRange: 0.2, numLabels: 2)
    }

    /// Writes config.json, model.safetensors, vocab.txt and tokenizer_config.json into `folder`.
    static func writeModel(to folder: URL, seed: UInt64 = 7) throws {
        let model = TransformerClassifier(config: configuration(), kind: .classification, seed: seed)
        model.initializeWeights(seed: seed)
        try model.save(to: folder)
        try Data((vocabulary.joined(separator: "\n") + "\n").utf8).write(to: folder.appendingPathComponent("vocab.txt"))
        try Data(#"{"do_lower_case": true, "model_max_length": 16}"#.utf8)
            .write(to: folder.appendingPathComponent("tokenizer_config.json"))
    }

    /// A deterministic sentence of 3–8 words; `good` decides whether "good" is among them.
    static func sentence(_ generator: inout SplitMix, good: Bool) -> String {
        let fillers = words.filter { $0 != "good" }
        let length = 3 + Int(generator.next() % 6)
        var chosen = (0..<length).map { _ in fillers[Int(generator.next() % UInt64(fillers.count))] }
        if good { chosen[Int(generator.next() % UInt64(length))] = "good" }
        // Capitalise the first word to exercise do_lower_case.
        chosen[0] = chosen[0].prefix(1).uppercased() + chosen[0].dropFirst()
        return chosen.joined(separator: " ")
    }

    /// SST-2 layout under `dataDir/SST-2/`: train/dev `sentence\tlabel`, test `index\tsentence`.
    static func writeSST2(to dataDir: URL, train: Int, dev: Int, test: Int, seed: UInt64 = 1) throws {
        let folder = dataDir.appendingPathComponent("SST-2")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var g = SplitMix(seed: seed)
        func labelled(_ n: Int) -> String {
            "sentence\tlabel\n"
                + (0..<n).map { i in
                    let good = i % 2 == 0
                    return "\(sentence(&g, good: good))\t\(good ? 1 : 0)\n"
                }.joined()
        }
        try Data(labelled(train).utf8).write(to: folder.appendingPathComponent("train.tsv"))
        try Data(labelled(dev).utf8).write(to: folder.appendingPathComponent("dev.tsv"))
        let testText = "index\tsentence\n" + (0..<test).map { "\($0)\t\(sentence(&g, good: $0 % 3 == 0))\n" }.joined()
        try Data(testText.utf8).write(to: folder.appendingPathComponent("test.tsv"))
    }

    /// RTE layout under `dataDir/RTE/`: `index\tsentence1\tsentence2\tlabel` (test without label).
    static func writeRTE(to dataDir: URL, train: Int, dev: Int, test: Int, seed: UInt64 = 2) throws {
        let folder = dataDir.appendingPathComponent("RTE")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var g = SplitMix(seed: seed)
        func rows(_ n: Int, labelled: Bool) -> String {
            (labelled ? "index\tsentence1\tsentence2\tlabel\n" : "index\tsentence1\tsentence2\n")
                + (0..<n).map { i in
                    let entailed = i % 2 == 0
                    let a = sentence(&g, good: entailed || i % 4 == 1)
                    let b = sentence(&g, good: entailed)
                    return "\(i)\t\(a)\t\(b)" + (labelled ? "\t\(entailed ? "entailment" : "not_entailment")" : "") + "\n"
                }.joined()
        }
        try Data(rows(train, labelled: true).utf8).write(to: folder.appendingPathComponent("train.tsv"))
        try Data(rows(dev, labelled: true).utf8).write(to: folder.appendingPathComponent("dev.tsv"))
        try Data(rows(test, labelled: false).utf8).write(to: folder.appendingPathComponent("test.tsv"))
    }
}

/// SplitMix64: a tiny deterministic generator for the fixtures.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

// MARK: - Comparing checkpoints

/// All tensors of a safetensors file as name → (shape, float bit patterns).
func tensorBits(_ url: URL) throws -> [String: (shape: [Int], bits: [UInt32])] {
    let file = try SafetensorsFile(url: url)
    var result: [String: (shape: [Int], bits: [UInt32])] = [:]
    for name in file.names {
        let t = try file.tensor(name)
        result[name] = (t.shape, t.values.map(\.bitPattern))
    }
    return result
}

/// Names of tensors whose shape or any bit differs between two safetensors files (plus names only in one).
func differingTensors(_ a: URL, _ b: URL) throws -> [String] {
    let x = try tensorBits(a), y = try tensorBits(b)
    return Set(x.keys).union(y.keys).sorted().filter { name in
        guard let p = x[name], let q = y[name] else { return true }
        return p.shape != q.shape || p.bits != q.bits
    }
}
