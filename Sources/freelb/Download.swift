import ArgumentParser
import Foundation
import FreeLBData

/// `freelb download glue|arc|commonsenseqa`: the official files, checked against pinned sha256.
struct Download: ParsableCommand {
    enum Collection: String, ExpressibleByArgument, CaseIterable {
        case glue, arc, commonsenseqa

        var taskNames: [String] {
            switch self {
            case .glue: return TaskRegistry.glueScoreTasks
            case .arc: return ["arc-easy", "arc-challenge"]
            case .commonsenseqa: return ["commonsenseqa"]
            }
        }
    }

    static let configuration = CommandConfiguration(
        abstract: "Download GLUE, ARC or CommonsenseQA from their official URLs into a --data-dir layout.",
        discussion: """
            Every file with a pinned sha256 is checked before it is stored; a mismatch stops with both hashes and \
            writes nothing. Files land in a staging folder inside the data dir and are renamed into place, so a failed \
            download leaves no partial file. Files already present are kept. Offline, copy the official files from \
            another machine and pass their folder as --data-dir to the other commands instead.
            """)

    @Argument(help: "glue | arc | commonsenseqa") var collection: Collection
    @Option(
        parsing: .upToNextOption, help: "Only these tasks of the collection (e.g. --tasks rte mrpc or rte,mrpc). (default: all)")
    var tasks: [String] = []
    @Option(help: "Where to store the files (the --data-dir of the other commands). (default: FREELB_DATA_DIR, else ./data)")
    var dataDir: String?
    @Option(help: "Seconds without data before a request fails.") var timeout: Double = 60

    func selectedTasks() throws -> [TaskSpec] {
        let requested = tasks.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() } }
        let names = requested.isEmpty ? collection.taskNames : requested
        return try names.map { name in
            guard collection.taskNames.contains(name) else {
                throw ValidationError(
                    "--tasks \(name): not a task of \(collection.rawValue) (\(collection.taskNames.joined(separator: ", ")))")
            }
            return try TaskRegistry.task(named: name)
        }
    }

    func validate() throws {
        _ = try selectedTasks()
        if !(timeout.isFinite && timeout > 0) { throw ValidationError("--timeout \(timeout): must be a number > 0") }
    }

    func run() throws {
        let environment = ProcessInfo.processInfo.environment["FREELB_DATA_DIR"].flatMap { $0.isEmpty ? nil : $0 }
        let folder = URL(fileURLWithPath: dataDir ?? environment ?? "data", isDirectory: true)
        let downloader = DatasetDownloader(
            cacheDir: folder, timeout: timeout,
            log: { FileHandle.standardError.write(Data("\($0)\n".utf8)) })
        do {
            for task in try selectedTasks() { try downloader.download(task: task) }
        } catch { fail(error) }
        print(folder.path)
    }
}
