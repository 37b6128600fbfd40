// Resumable checkpoints: model (HF layout), optimizer moments and trainer state, written into a
// `checkpoint-<step>.partial` folder that is fsync'ed and renamed, then published through the
// atomically replaced `latest` file. A crash at any point leaves the previous checkpoint loadable.
import Foundation
import FreeLBModels
import FreeLBNN
import FreeLBSafetensors
import FreeLBTensor

/// Everything besides tensors that an exact resume needs.
public struct TrainerStateRecord: Codable, Equatable {
    public var globalStep: Int
    public var optimizerScalars: [String: Double]
    public var perturbationGenerator: SeededGenerator
    public var dropoutGenerator: SeededGenerator
    /// Best value of the main dev metric so far, and its step.
    public var bestMetric: Double?
    public var bestStep: Int?
    /// The run configuration (JSON) the checkpoint was trained with.
    public var configuration: String?
    /// Wall seconds spent on the run up to this checkpoint, summed over the processes that trained it.
    /// Nil in checkpoints written before this was recorded.
    public var wallSeconds: Double?

    public init(
        globalStep: Int, optimizerScalars: [String: Double], perturbationGenerator: SeededGenerator,
        dropoutGenerator: SeededGenerator, bestMetric: Double? = nil, bestStep: Int? = nil, configuration: String? = nil,
        wallSeconds: Double? = 0
    ) {
        self.globalStep = globalStep
        self.optimizerScalars = optimizerScalars
        self.perturbationGenerator = perturbationGenerator
        self.dropoutGenerator = dropoutGenerator
        self.bestMetric = bestMetric
        self.bestStep = bestStep
        self.configuration = configuration
        self.wallSeconds = wallSeconds
    }
}

public enum Checkpointing {
    static let latestFile = "latest"

    /// Writes a checkpoint of `state` under `runDirectory` and publishes it. Older checkpoints are removed.
    public static func save(
        _ state: TrainingState, record: TrainerStateRecord, extraFiles: [URL] = [],
        in runDirectory: URL
    ) throws {
        let fm = FileManager.default
        // A second save at the same step (the end of a run right after an evaluation, or an interruption there)
        // goes to a fresh name: deleting the published folder first would leave `latest` naming a missing or
        // half-deleted checkpoint if the process died in between.
        var name = "checkpoint-\(record.globalStep)"
        var suffix = 0
        while fm.fileExists(atPath: runDirectory.appendingPathComponent(name).path) {
            suffix += 1
            name = "checkpoint-\(record.globalStep)-\(suffix)"
        }
        let final = runDirectory.appendingPathComponent(name)
        let partial = runDirectory.appendingPathComponent(name + ".partial")
        try? fm.removeItem(at: partial)
        try fm.createDirectory(at: partial, withIntermediateDirectories: true)
        try state.model.save(to: partial)
        let exported = state.optimizer.exportState()
        let moments = exported.tensors.map { NamedTensor(name: $0.key, shape: $0.value.shape, values: $0.value.scalars) }
        try SafetensorsWriter.write(
            moments, metadata: ["format": "freelb-optimizer"], to: partial.appendingPathComponent("optimizer.safetensors"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(record).write(to: partial.appendingPathComponent("trainer_state.json"), options: .atomic)
        for file in extraFiles where fm.fileExists(atPath: file.path) {
            try fm.copyItem(at: file, to: partial.appendingPathComponent(file.lastPathComponent))
        }
        try syncDirectory(partial)
        try fm.moveItem(at: partial, to: final)
        try syncDirectory(runDirectory)
        try Data(name.utf8).write(to: runDirectory.appendingPathComponent(latestFile), options: .atomic)
        try syncDirectory(runDirectory)
        // Remove superseded checkpoints (only after `latest` points at the new one).
        for item in (try? fm.contentsOfDirectory(atPath: runDirectory.path)) ?? []
        where item.hasPrefix("checkpoint-") && item != name {
            try? fm.removeItem(at: runDirectory.appendingPathComponent(item))
        }
    }

    /// The published checkpoint folder; nil when the run has none (no `latest` file). A `latest` that
    /// does not name a complete checkpoint is an error: starting over would delete the checkpoints.
    public static func latest(in runDirectory: URL) throws -> URL? {
        let file = runDirectory.appendingPathComponent(latestFile)
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        func corrupt(_ problem: String) -> RunError {
            RunError(
                "\(file.path): \(problem); the run folder is damaged. Repair `latest` to name one of its checkpoint-<step> "
                    + "folders, or remove it to start the run over (this deletes its checkpoints)")
        }
        guard let data = try? Data(contentsOf: file), data.count <= 4096,
            let name = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines)
        else {
            throw corrupt("cannot be read as a short UTF-8 text")
        }
        guard name.hasPrefix("checkpoint-"), !name.contains("/"), !name.hasSuffix(".partial") else {
            throw corrupt("'\(name.prefix(80))' is not a checkpoint folder name")
        }
        let url = runDirectory.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.appendingPathComponent("trainer_state.json").path) else {
            throw corrupt("names \(name), which has no trainer_state.json")
        }
        return url
    }

    /// Restores model weights, optimizer state and RNG states from a checkpoint folder.
    public static func restore(_ state: TrainingState, from checkpoint: URL) throws -> TrainerStateRecord {
        let record = try JSONDecoder().decode(
            TrainerStateRecord.self,
            from: Data(contentsOf: checkpoint.appendingPathComponent("trainer_state.json")))
        try state.model.loadWeights(from: checkpoint.appendingPathComponent("model.safetensors"))
        let file = try SafetensorsFile(url: checkpoint.appendingPathComponent("optimizer.safetensors"))
        var tensors: [String: Tensor] = [:]
        for name in file.names {
            let t = try file.tensor(name)
            tensors[name] = Tensor(shape: t.shape, values: t.values)
        }
        try state.optimizer.importState(OptimizerState(scalars: record.optimizerScalars, tensors: tensors))
        state.globalStep = record.globalStep
        state.perturbationGenerator = record.perturbationGenerator
        state.model.dropoutController.generatorState = record.dropoutGenerator
        return record
    }

    /// Replaces `directory` by what `write` puts into a fresh sibling folder (a crash leaves either the
    /// old or the new folder complete; a stale `.old` or `.partial` sibling is cleaned up next time).
    public static func replaceDirectory(_ directory: URL, _ write: (URL) throws -> Void) throws {
        let fm = FileManager.default
        let partial = directory.appendingPathExtension("partial")
        let old = directory.appendingPathExtension("old")
        try? fm.removeItem(at: partial)
        try fm.createDirectory(at: partial, withIntermediateDirectories: true)
        try write(partial)
        try syncDirectory(partial)
        try? fm.removeItem(at: old)
        if fm.fileExists(atPath: directory.path) { try fm.moveItem(at: directory, to: old) }
        try fm.moveItem(at: partial, to: directory)
        try? fm.removeItem(at: old)
        try syncDirectory(directory.deletingLastPathComponent())
    }

    /// Puts back `directory` from `directory.old` if a crash happened between the two renames.
    public static func recoverDirectory(_ directory: URL) {
        let fm = FileManager.default
        let old = directory.appendingPathExtension("old")
        if !fm.fileExists(atPath: directory.path), fm.fileExists(atPath: old.path) { try? fm.moveItem(at: old, to: directory) }
        try? fm.removeItem(at: directory.appendingPathExtension("partial"))
    }

    static func syncDirectory(_ url: URL) throws {
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { return }
        defer { close(fd) }
        if let items = try? FileManager.default.contentsOfDirectory(atPath: url.path) {
            for item in items {
                let f = open(url.appendingPathComponent(item).path, O_RDONLY)
                if f >= 0 { fsync(f); close(f) }
            }
        }
        fsync(fd)
    }
}

/// An exclusive lock on a run folder for the life of the process that holds it (`flock` on `.lock`,
/// which records the owner's pid). The kernel drops the lock when its owner dies, so a stale `.lock`
/// file never blocks a rerun; it is reported instead.
public final class RunFolderLock {
    public let url: URL
    private let descriptor: Int32
    /// The pid recorded by an earlier owner that is no longer running (nil: the lock file was new or clean).
    public let stalePid: Int32?

    public init(folder: URL) throws {
        url = folder.appendingPathComponent(".lock")
        let fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw RunError("\(url.path): cannot create the run folder's lock file (\(String(cString: strerror(errno))))")
        }
        let recorded = Self.recordedPid(fd)
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            let owner = recorded.map { "process \($0)" } ?? "another process"
            throw RunError(
                "\(folder.path) is in use by \(owner) (locked through \(url.lastPathComponent)); "
                    + "wait for it to finish, or choose another --output-dir")
        }
        descriptor = fd
        stalePid = recorded.flatMap { $0 != getpid() && $0 > 0 ? $0 : nil }
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    deinit {
        _ = ftruncate(descriptor, 0)
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }

    private static func recordedPid(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
