import Foundation
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The sha256 a downloaded file must have. `official`: the hash of the official file, recorded
/// independently; a mismatch fails the download. `provisional`: the hash of a faithful copy whose byte
/// identity with the official file is not proven; a mismatch is logged and the file kept.
public enum PinnedChecksum: Sendable, Equatable {
    case official(String)
    case provisional(String)

    public var sha256: String {
        switch self {
        case .official(let hex), .provisional(let hex): return hex
        }
    }
}

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
///
/// Every fetch lands in a staging folder inside the cache (`.freelb-download-*`): archives are extracted
/// there, every file with a pinned checksum is verified there, and only then is each file renamed into
/// place. A failure (network, checksum, unzip) removes the staging folder, so no partial file survives.
public struct DatasetDownloader: Sendable {
    public var cacheDir: URL
    public var timeout: TimeInterval
    /// Overrides the canonical URLs (tests point this at an unreachable address).
    public var sources: @Sendable (TaskSpec) -> [DownloadSource]
    /// Expected sha256 per file, keyed by its path under the cache dir (`officialChecksums` by default).
    public var checksums: [String: PinnedChecksum]
    /// The lowercase hex sha256 of a file (`systemSHA256` by default).
    public var sha256: @Sendable (URL) throws -> String
    public var log: @Sendable (String) -> Void

    /// `$FREELB_DATA_DIR`, else `~/.cache/freelb/data`.
    public static var defaultCacheDir: URL {
        if let env = ProcessInfo.processInfo.environment["FREELB_DATA_DIR"], !env.isEmpty {
            return URL(fileURLWithPath: env, isDirectory: true)
        }
        return FileManager.default.homeDirectoryForCurrentUser
            .appendingPathComponent(".cache/freelb/data", isDirectory: true)
    }

    public init(
        cacheDir: URL = DatasetDownloader.defaultCacheDir, timeout: TimeInterval = 60,
        sources: @escaping @Sendable (TaskSpec) -> [DownloadSource] = DatasetDownloader.canonicalSources,
        checksums: [String: PinnedChecksum] = DatasetDownloader.officialChecksums,
        sha256: @escaping @Sendable (URL) throws -> String = DatasetDownloader.systemSHA256,
        log: @escaping @Sendable (String) -> Void = { print($0) }
    ) {
        self.cacheDir = cacheDir
        self.timeout = timeout
        self.sources = sources
        self.checksums = checksums
        self.sha256 = sha256
        self.log = log
    }

    /// sha256 of the files as the canonical sources deliver them (after extraction for archives, after the
    /// GLUE script's conversion for MRPC). They were computed over verified copies of the official files;
    /// `provisional` marks copies rebuilt from another release whose byte identity is not proven.
    /// MNLI, QQP and QNLI train have no pin (no verified copy was available): they are downloaded unchecked.
    public static let officialChecksums: [String: PinnedChecksum] = [
        "arc/ARC-V1-Feb2018-2/ARC-Challenge/ARC-Challenge-Dev.csv": .official(
            "7cca661024b42cb3aba5f0ac88cdac526e3c9d1097e5c78f94574e2c67441ed6"),
        "arc/ARC-V1-Feb2018-2/ARC-Challenge/ARC-Challenge-Dev.jsonl": .official(
            "55224364abd2477f66a9a57c5cbef109fb71d83019aa5e37aec0e7ab757746ca"),
        "arc/ARC-V1-Feb2018-2/ARC-Challenge/ARC-Challenge-Test.csv": .official(
            "02d2a8f204df6755c2a9464f914455140dc15b1e189bf932bc62f521e509ee19"),
        "arc/ARC-V1-Feb2018-2/ARC-Challenge/ARC-Challenge-Test.jsonl": .official(
            "9fa8ffb3e3a1f88cb302d53dd95aae81e39209ad9bcf974376b319d8fd35717c"),
        "arc/ARC-V1-Feb2018-2/ARC-Challenge/ARC-Challenge-Train.csv": .official(
            "361d178277a13d8a6ddc279b0a5bb3d997e00ade75f9bffd4e09701f476896ae"),
        "arc/ARC-V1-Feb2018-2/ARC-Challenge/ARC-Challenge-Train.jsonl": .official(
            "e02837c53ee86f6d73c259f91c77725c5062ef4531130b7f473a9d9b01118a77"),
        "arc/ARC-V1-Feb2018-2/ARC-Easy/ARC-Easy-Dev.csv": .official(
            "3feca4e9933d73fd911754882a7415af38143449640f9a3f70f53171a2d72d67"),
        "arc/ARC-V1-Feb2018-2/ARC-Easy/ARC-Easy-Dev.jsonl": .official(
            "f4364b808a68df6bf500ce1070fb0105d40cacd2391c210deb00ff83ba75d1f4"),
        "arc/ARC-V1-Feb2018-2/ARC-Easy/ARC-Easy-Test.csv": .official(
            "a34b48662c4bf713ee6fb7af7786a17880bb7e7e448a1c72c952b4150edee0d7"),
        "arc/ARC-V1-Feb2018-2/ARC-Easy/ARC-Easy-Test.jsonl": .official(
            "ce32a0774b4beb1977d2c6b16dda5dd2b24fdc9c7f506882c452678676bd09be"),
        "arc/ARC-V1-Feb2018-2/ARC-Easy/ARC-Easy-Train.csv": .official(
            "6e3b7ab5de9e07718c987fb90319343b0b6a74332f562841029510a53518bea4"),
        "arc/ARC-V1-Feb2018-2/ARC-Easy/ARC-Easy-Train.jsonl": .official(
            "c62e5482d8c01f2d5a7f24239ac9db3b12f9e47267c4e3f088c6ffe41d5545ef"),
        "commonsenseqa/dev_rand_split.jsonl": .official("3210497fdaae614ac085d9eb873dd7f4d49b6f965a93adadc803e1229fd8a02a"),
        "commonsenseqa/test_rand_split_no_answers.jsonl": .official(
            "b426896d71a9cd064cf01cfaf6e920817c51701ef66028883ac1af2e73ad5f29"),
        "commonsenseqa/train_rand_split.jsonl": .official("58ffa3c8472410e24b8c43f423d89c8a003d8284698a6ed7874355dedd09a2fb"),
        "glue/CoLA/dev.tsv": .provisional("fc08f7ca16084543d9222d75eee13f094d738c3a20d874384417f1766197b716"),
        "glue/CoLA/test.tsv": .provisional("3b4df85f7a9a0633574b38d181e18090ac961a24b18fb6bcd74999ddea8ad0b8"),
        "glue/CoLA/train.tsv": .official("cb368ebeb9f27d7ad03720d27ddc95687a311bdb100781a2fe59a5f5b1bc0624"),
        "glue/MRPC/dev.tsv": .official("9e8f284788040f7c9ecde2e1b3c07237c756f926bd9ef8548ef5d34b56f69f17"),
        "glue/MRPC/dev_ids.tsv": .official("971d7767d81b997fd9060ade0ec23c4fc31cbb226a55d1bd4a1bac474eb81dc7"),
        "glue/MRPC/msr_paraphrase_test.txt": .official("a04e271090879aaba6423d65b94950c089298587d9c084bf9cd7439bd785f784"),
        "glue/MRPC/msr_paraphrase_train.txt": .official("60a9b09084528f0673eedee2b69cb941920f0b8cd0eeccefc464a98768457f89"),
        "glue/MRPC/test.tsv": .official("aee460ceda833926b8ab2ad952d399f5cf8bc9335cff19afcac03dc449558622"),
        "glue/MRPC/train.tsv": .official("69abcedee3cf738c6ce58d772e43e1b7cdf5b4edee4aceda459c0d9f4e5599f3"),
        "glue/QNLI/dev.tsv": .official("ac19409dcb04631eaaa094bdebdcf621086bc352503dfb6a1a648b614986f4fd"),
        "glue/QNLI/test.tsv": .official("6d856264e292fa7a7bc7b8e182efa1454ffd9532733c12ad813017dd5b377a5a"),
        "glue/RTE/dev.tsv": .provisional("80230dfa1347282e7b532b06a1004a76a710087541189bf874223ddf0e3819fb"),
        "glue/RTE/test.tsv": .provisional("6e33f09b5c2bfd5fd5fde217070f3dd49e484e33b9752b5864cf36fc421a213f"),
        "glue/RTE/train.tsv": .provisional("41e3a9b063433392343fad9e962cf2f58b681c78d8f71592f4186f0837246c5c"),
        "glue/SST-2/dev.tsv": .official("54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0"),
        "glue/SST-2/test.tsv": .official("69a938605609b3e6663b4487918fe1565eb293734e6e520d0366d1d412fd2a13"),
        "glue/SST-2/train.tsv": .official("48eac26399f8456935f81dd9e3a745c1430adb6c62e233ccfe22db4a0d15d1d1"),
        "glue/STS-B/LICENSE.txt": .provisional("3dfc3217395f8c5dd05c5f8995f25fe2f8fd258e6dd770b3de480749caee8c70"),
        "glue/STS-B/dev.tsv": .official("fe7dc0632a5033562f3cadff991f6e8d9b9b6311861660e78c3c82eb7db67f59"),
        "glue/STS-B/readme.txt": .provisional("e9488363d211c32ca5e912954f16eb9233cfed1b5b4b0475d0d812d35d7c8ef1"),
        "glue/STS-B/test.tsv": .official("16b4223d7d44a644fbc10f1b449472cfe81e1715fb07cf44023b0aa88ce856eb"),
        "glue/STS-B/train.tsv": .official("41c4d978b6162abdcada7e49a982211954cca5459c228db478af333124b257a2"),
        "glue/WNLI/dev.tsv": .official("cba00490596dd14be8cf53b4f53bb744abe3a7b89f81ab210528d80225338ed5"),
        "glue/WNLI/test.tsv": .provisional("ff0296817e235bf6f7a230c5f6781bd6ee228a45445f6510831fdef6f2a04766"),
        "glue/WNLI/train.tsv": .provisional("9a88e9d54b6861cc796a088e9acf4f5f65064a9ef65ae6fa7a688b28391e5c9a")
    ]

    private static let glueBase = "https://dl.fbaipublicfiles.com/glue/data/"
    private static let mrpcDevIds =
        "https://firebasestorage.googleapis.com/v0/b/mtl-sentence-representations.appspot.com/o/data%2Fmrpc_dev_ids.tsv?alt=media&token=ec5c0836-31d5-48f4-b431-7480817f1adc"

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
                DownloadSource(url: u(mrpcDevIds), destination: "glue/MRPC/dev_ids.tsv")
            ]
        case "arc-easy", "arc-challenge":
            return [
                DownloadSource(
                    url: u("https://ai2-public-datasets.s3.amazonaws.com/arc/ARC-V1-Feb2018.zip"),
                    destination: "arc/ARC-V1-Feb2018.zip", extractTo: "arc",
                    // Both ARC sets (so the second task needs no download), not the 1.4 GB corpus.
                    members: ["ARC-V1-Feb2018-2/ARC-Easy/*", "ARC-V1-Feb2018-2/ARC-Challenge/*"])
            ]
        case "commonsenseqa":
            return ["train_rand_split.jsonl", "dev_rand_split.jsonl", "test_rand_split_no_answers.jsonl"].map {
                DownloadSource(url: u("https://s3.amazonaws.com/commensenseqa/" + $0), destination: "commonsenseqa/" + $0)
            }
        default: return []
        }
    }

    /// Makes every split of `task` available under `cacheDir` and returns `cacheDir` (use it as `--data-dir`).
    /// Offline or on any network failure: `downloadFailed`, whose message says how to use `--data-dir` instead.
    /// A file whose sha256 differs from its official pin fails the download, and nothing is written.
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
        let staging = cacheDir.appendingPathComponent(".freelb-download-\(UUID().uuidString)", isDirectory: true)
        defer { try? FileManager.default.removeItem(at: staging) }
        do {
            try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        } catch {
            throw DataError(.unreadable, file: cacheDir.path, "cannot create the download folder: \(error.localizedDescription)")
        }
        var staged: [(file: URL, destination: String, url: URL)] = []
        for (index, source) in list.enumerated() {
            if source.extractTo == nil,
                FileManager.default.fileExists(atPath: cacheDir.appendingPathComponent(source.destination).path)
            {
                continue
            }
            log("downloading \(source.url.absoluteString)")
            let fetched = staging.appendingPathComponent("fetch-\(index)")
            try fetch(source.url, to: fetched, task: task)
            guard let sub = source.extractTo else {
                staged.append((fetched, source.destination, source.url))
                continue
            }
            let unpacked = staging.appendingPathComponent("unzip-\(index)", isDirectory: true)
            try DatasetDownloader.unzip(fetched, into: unpacked, members: source.members, task: task)
            for relative in DatasetDownloader.regularFiles(under: unpacked) {
                staged.append((unpacked.appendingPathComponent(relative), sub + "/" + relative, source.url))
            }
        }
        try verify(staged, task: task)
        if task.name == "mrpc" {  // the GLUE script's conversion of the verified sources, verified in turn
            func input(_ name: String) -> URL {
                staged.first { $0.destination == "glue/MRPC/\(name)" }?.file
                    ?? cacheDir.appendingPathComponent("glue/MRPC/\(name)")
            }
            let formatted = staging.appendingPathComponent("mrpc", isDirectory: true)
            try GLUEReader.formatMRPC(
                trainSource: input("msr_paraphrase_train.txt"), testSource: input("msr_paraphrase_test.txt"),
                devIds: input("dev_ids.tsv"), into: formatted)
            let converted = DatasetDownloader.regularFiles(under: formatted).map {
                (file: formatted.appendingPathComponent($0), destination: "glue/MRPC/\($0)", url: list[0].url)
            }
            try verify(converted, task: task)
            staged += converted
        }
        for item in staged {
            try DatasetDownloader.moveIntoPlace(item.file, cacheDir.appendingPathComponent(item.destination))
        }
        log("\(task.displayName): ready in \(cacheDir.path)")
        return cacheDir
    }

    /// Checks every staged file that has a pin: an official pin must match; a provisional one only warns.
    private func verify(_ staged: [(file: URL, destination: String, url: URL)], task: TaskSpec) throws {
        for item in staged {
            guard let pin = checksums[item.destination] else { continue }
            let actual: String
            do { actual = try sha256(item.file) } catch {
                throw DataError(.unreadable, file: item.destination, "cannot compute its sha256: \(error)")
            }
            guard actual != pin.sha256 else { continue }
            switch pin {
            case .official:
                throw DataError(
                    .downloadFailed, file: item.destination,
                    "checksum mismatch for \(item.destination) from \(item.url.absoluteString): expected sha256 "
                        + "\(pin.sha256), got \(actual); nothing was written to \(cacheDir.path). "
                        + DatasetDownloader.offlineHint(task: task))
            case .provisional:
                log(
                    "note: \(item.destination) has sha256 \(actual), not \(pin.sha256) as the reference copy; kept, "
                        + "because that copy is not proven byte-identical to the official file")
            }
        }
    }

    /// Paths (relative, sorted) of the regular files below `dir`.
    static func regularFiles(under dir: URL) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: dir.path) else { return [] }
        var files: [String] = []
        while let relative = walker.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent(relative).path, isDirectory: &isDirectory),
                !isDirectory.boolValue
            {
                files.append(relative)
            }
        }
        return files.sorted()
    }

    /// rename(2) into place: atomic on the same file system (the staging folder lies inside the cache), and
    /// it replaces an older file without a moment in which neither exists.
    static func moveIntoPlace(_ file: URL, _ destination: URL) throws {
        do {
            try FileManager.default.createDirectory(
                at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw DataError(.unreadable, file: destination.path, "cannot create its folder: \(error.localizedDescription)")
        }
        guard rename(file.path, destination.path) == 0 else {
            throw DataError(.unreadable, file: destination.path, "cannot store download: \(String(cString: strerror(errno)))")
        }
    }

    /// The sha256 of a file from the system tool (`sha256sum`, or `shasum -a 256` on macOS), which is
    /// present wherever `unzip` is; FreeLBData has no hash of its own.
    public static let systemSHA256: @Sendable (URL) throws -> String = { file in
        let tools = [("/usr/bin/sha256sum", [String]()), ("/bin/sha256sum", []), ("/usr/bin/shasum", ["-a", "256"])]
        guard let found = tools.first(where: { FileManager.default.isExecutableFile(atPath: $0.0) }) else {
            throw DataError(.unzipUnavailable, file: file.path, "neither sha256sum nor shasum was found to check the download")
        }
        let (tool, options) = found
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = options + [file.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0, let hex = text.split(separator: " ").first, hex.count == 64 else {
            throw DataError(.unreadable, file: file.path, "\(tool) failed with status \(process.terminationStatus)")
        }
        return hex.lowercased()
    }

    /// The hint appended to every download failure.
    public static func offlineHint(task: TaskSpec) -> String {
        let example: String
        switch task.type {
        case .multipleChoice:
            example =
                task.name == "commonsenseqa"
                ? "commonsenseqa/train_rand_split.jsonl"
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

    /// GETs `url` into `dest` (a staging path); a transfer shorter than its Content-Length is a failure.
    private func fetch(_ url: URL, to dest: URL, task: TaskSpec) throws {
        func fail(_ reason: String) -> DataError {
            DataError(
                .downloadFailed, file: url.absoluteString,
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
        let tmp = dest.appendingPathExtension("part")
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
        let expected = box.response?.expectedContentLength ?? -1
        let received = ((try? FileManager.default.attributesOfItem(atPath: location.path))?[.size] as? NSNumber)?.int64Value ?? -1
        if expected >= 0 && received != expected {
            try? FileManager.default.removeItem(at: location)
            throw fail("the connection closed after \(received) of \(expected) bytes")
        }
        do {
            try FileManager.default.moveItem(at: location, to: dest)
        } catch {
            throw DataError(.unreadable, file: dest.path, "cannot store download: \(error.localizedDescription)")
        }
    }

    /// Extracts with the system `unzip` (Foundation has no zip reader on Linux).
    static func unzip(_ zip: URL, into dir: URL, members: [String] = [], task: TaskSpec) throws {
        guard
            let tool = ["/usr/bin/unzip", "/bin/unzip", "/usr/local/bin/unzip", "/opt/homebrew/bin/unzip"]
                .first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else {
            throw DataError(
                .unzipUnavailable, file: zip.path,
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
