import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One file to fetch: `url` saved at `destination` (relative to the cache dir); zips are extracted into
/// `extractTo` (relative; only `members` when given, as unzip patterns) and deleted.
public struct DownloadSource: Sendable, Equatable {
    public var url: URL
    public var destination: String
    public var extractTo: String?
    public var members: [String]

    public init(url: URL, destination: String, extractTo: String? = nil, members: [String] = []) {
        self.url = url
        self.destination = destination
        self.extractTo = extractTo
        self.members = members
    }
}

/// Downloads GLUE, ARC and CommonsenseQA from their canonical public URLs into a cache laid out as
/// `<cache>/glue/<Task>/`, `<cache>/arc/ARC-V1-Feb2018-2/<ARC-Easy|ARC-Challenge>/`, `<cache>/commonsenseqa/`,
/// which is a valid `--data-dir`. Files already present are not fetched again.
public struct DatasetDownloader: Sendable {
    public var cacheDir: URL
    public var timeout: TimeInterval
    /// Overrides the canonical URLs (tests point this at an unreachable address).
    public var sources: @Sendable (TaskSpec) -> [DownloadSource]
    public var log: @Sendable (String) -> Void

    /// `$FREELB_DATA_DIR`, else `~/.cache/freelb/data`.
    public static var defaultCacheDir: URL {
        if let env = ProcessInfo.processInfo.environment["FREELB_DATA_DIR"], !env.isEmpty {
            return URL(fileURLWithPath: env, isDirectory: true)
        }
        return FileManager.default.homeDirectoryForCurrentUser
            .appendingPathComponent(".cache/freelb/data", isDirectory: true)
    }

    public init(cacheDir: URL = DatasetDownloader.defaultCacheDir, timeout: TimeInterval = 60,
                sources: @escaping @Sendable (TaskSpec) -> [DownloadSource] = DatasetDownloader.canonicalSources,
                log: @escaping @Sendable (String) -> Void = { print($0) }) {
        self.cacheDir = cacheDir
        self.timeout = timeout
        self.sources = sources
        self.log = log
    }

    private static let glueBase = "https://dl.fbaipublicfiles.com/glue/data/"
    private static let mrpcDevIds = "https://firebasestorage.googleapis.com/v0/b/mtl-sentence-representations.appspot.com/o/data%2Fmrpc_dev_ids.tsv?alt=media&token=ec5c0836-31d5-48f4-b431-7480817f1adc"

    /// The URLs of nyu-mll/GLUE-baselines `download_glue_data.py` (2020 version), AI2's ARC zip and the
    /// CommonsenseQA release bucket (its misspelled name "commensenseqa" is the canonical one).
    public static let canonicalSources: @Sendable (TaskSpec) -> [DownloadSource] = { task in
        func u(_ s: String) -> URL { URL(string: s)! }  // constant, well-formed literals
        func glueZip(_ zip: String) -> [DownloadSource] {
            [DownloadSource(url: u(glueBase + zip), destination: "glue/\(zip)", extractTo: "glue")]
        }
        switch task.name {
        case "cola": return glueZip("CoLA.zip")
        case "sst2": return glueZip("SST-2.zip")
        case "qqp": return glueZip("QQP-clean.zip")
        case "stsb": return glueZip("STS-B.zip")
        case "mnli": return glueZip("MNLI.zip")
        case "qnli": return glueZip("QNLIv2.zip")
        case "rte": return glueZip("RTE.zip")
        case "wnli": return glueZip("WNLI.zip")
        case "ax": return [DownloadSource(url: u(glueBase + "AX.tsv"), destination: "glue/diagnostic/diagnostic.tsv")]
        case "mrpc":
            let senteval = "https://dl.fbaipublicfiles.com/senteval/senteval_data/"
            return [
                DownloadSource(url: u(senteval + "msr_paraphrase_train.txt"), destination: "glue/MRPC/msr_paraphrase_train.txt"),
                DownloadSource(url: u(senteval + "msr_paraphrase_test.txt"), destination: "glue/MRPC/msr_paraphrase_test.txt"),
                DownloadSource(url: u(mrpcDevIds), destination: "glue/MRPC/dev_ids.tsv"),
            ]
        case "arc-easy", "arc-challenge":
            return [DownloadSource(url: u("https://ai2-public-datasets.s3.amazonaws.com/arc/ARC-V1-Feb2018.zip"),
                                   destination: "arc/ARC-V1-Feb2018.zip", extractTo: "arc",
                                   // Both ARC sets (so the second task needs no download), not the 1.4 GB corpus.
                                   members: ["ARC-V1-Feb2018-2/ARC-Easy/*", "ARC-V1-Feb2018-2/ARC-Challenge/*"])]
        case "commonsenseqa":
            return ["train_rand_split.jsonl", "dev_rand_split.jsonl", "test_rand_split_no_answers.jsonl"].map {
                DownloadSource(url: u("https://s3.amazonaws.com/commensenseqa/" + $0), destination: "commonsenseqa/" + $0)
            }
        default: return []
        }
    }

    /// Makes every split of `task` available under `cacheDir` and returns `cacheDir` (use it as `--data-dir`).
    /// Offline or on any network failure: `downloadFailed`, whose message says how to use `--data-dir` instead.
    @discardableResult
    public func download(task: TaskSpec) throws -> URL {
        if task.splits.allSatisfy({ (try? task.file(for: $0, dataDir: cacheDir)) != nil }) {
            log("\(task.displayName): already in \(cacheDir.path)")
            return cacheDir
        }
        let list = sources(task)
        guard !list.isEmpty else {
            throw DataError(.unknownTask, field: "task", "no download source for task \(task.name)")
        }
        for source in list {
            let dest = cacheDir.appendingPathComponent(source.destination)
            if !FileManager.default.fileExists(atPath: dest.path) {
                log("downloading \(source.url.absoluteString)")
                try fetch(source.url, to: dest, task: task)
            }
            if let sub = source.extractTo {
                try DatasetDownloader.unzip(dest, into: cacheDir.appendingPathComponent(sub), members: source.members,
                                            task: task)
                try? FileManager.default.removeItem(at: dest)
            }
        }
        if task.name == "mrpc" {
            let dir = cacheDir.appendingPathComponent("glue/MRPC")
            try GLUEReader.formatMRPC(trainSource: dir.appendingPathComponent("msr_paraphrase_train.txt"),
                                      testSource: dir.appendingPathComponent("msr_paraphrase_test.txt"),
                                      devIds: dir.appendingPathComponent("dev_ids.tsv"), into: dir)
        }
        log("\(task.displayName): ready in \(cacheDir.path)")
        return cacheDir
    }

    /// The hint appended to every download failure.
    public static func offlineHint(task: TaskSpec) -> String {
        let example: String
        switch task.type {
        case .multipleChoice: example = task.name == "commonsenseqa" ? "commonsenseqa/train_rand_split.jsonl"
            : "arc/\(task.displayName)/\(task.displayName)-Train.jsonl"
        default: example = "glue/\(task.directories[0])/\(task.fileNames[.train] ?? task.fileNames[.test] ?? "train.tsv")"
        }
        return "If this machine is offline, copy the official files from another machine and point at that folder "
            + "with --data-dir <folder> (expected layout: <folder>/\(example)); nothing needs converting."
    }

    private final class Box: @unchecked Sendable {
        var location: URL?
        var response: URLResponse?
        var error: Error?
    }

    private func fetch(_ url: URL, to dest: URL, task: TaskSpec) throws {
        func fail(_ reason: String) -> DataError {
            DataError(.downloadFailed, file: url.absoluteString,
                      "could not download \(task.displayName): \(reason). "
                      + DatasetDownloader.offlineHint(task: task))
        }
        let config = URLSessionConfiguration.ephemeral
        config.timeoutIntervalForRequest = timeout
        config.timeoutIntervalForResource = max(timeout, 600)
        let session = URLSession(configuration: config)
        defer { session.finishTasksAndInvalidate() }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("freelb-\(UUID().uuidString)")
        let t = session.downloadTask(with: url) { location, response, error in
            // The temporary file is deleted when this handler returns: move it now.
            if let location { box.location = (try? FileManager.default.moveItem(at: location, to: tmp)).map { tmp } }
            box.response = response
            box.error = error
            done.signal()
        }
        t.resume()
        done.wait()
        if let error = box.error { throw fail(error.localizedDescription) }
        if let http = box.response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
            try? FileManager.default.removeItem(at: tmp)
            throw fail("HTTP status \(http.statusCode)")
        }
        guard let location = box.location else { throw fail("no data received") }
        do {
            try FileManager.default.createDirectory(at: dest.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? FileManager.default.removeItem(at: dest)
            try FileManager.default.moveItem(at: location, to: dest)
        } catch {
            throw DataError(.unreadable, file: dest.path, "cannot store download: \(error.localizedDescription)")
        }
    }

    /// Extracts with the system `unzip` (Foundation has no zip reader on Linux).
    static func unzip(_ zip: URL, into dir: URL, members: [String] = [], task: TaskSpec) throws {
        guard let tool = ["/usr/bin/unzip", "/bin/unzip", "/usr/local/bin/unzip", "/opt/homebrew/bin/unzip"]
            .first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw DataError(.unzipUnavailable, file: zip.path,
                            "the 'unzip' program is needed to extract \(zip.lastPathComponent) but was not found; "
                            + "install it (e.g. apt-get install unzip) or extract the archive into \(dir.path) yourself. "
                            + offlineHint(task: task))
        }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = ["-o", "-q", zip.path] + members + ["-d", dir.path]
        do { try p.run() } catch {
            throw DataError(.unzipUnavailable, file: zip.path, "cannot run \(tool): \(error.localizedDescription)")
        }
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw DataError(.unreadable, file: zip.path, "unzip failed with status \(p.terminationStatus)")
        }
    }
}
