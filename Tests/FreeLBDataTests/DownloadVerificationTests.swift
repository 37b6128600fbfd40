import Foundation
import XCTest
@testable import FreeLBData
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `DatasetDownloader` against a loopback HTTP server: pinned checksums, atomic placement, cut transfers.
final class DownloadVerificationTests: XCTestCase {
    /// CommonsenseQA-shaped bodies and their sha256 (computed with Python's hashlib).
    static let bodies: [(name: String, body: [UInt8], sha256: String)] = [
        ("train_rand_split.jsonl", split("train"), "cf474412847d161f4b075ed97c53cda47784895882566c8e153fc7bb49a3778d"),
        ("dev_rand_split.jsonl", split("dev"), "847a2a691ff68e3d34c075b9524ba294b5660aef95fa92acd5e94949c77f5675"),
        ("test_rand_split_no_answers.jsonl", split("test"), "9de82f49a1ee137efbd0f15e22cdab029c3888abe15013b144cbca7d8578a78e")
    ]

    static func split(_ name: String) -> [UInt8] {
        Array(String(repeating: "{\"split\": \"\(name)\"}\n", count: 200).utf8)
    }

    /// A downloader for commonsenseqa whose three files come from `server`, pinned with `pins`.
    func downloader(
        _ server: LoopbackFileServer, into dir: URL, pins: [String: PinnedChecksum],
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) -> DatasetDownloader {
        let base = server.baseURL
        return DatasetDownloader(
            cacheDir: dir, timeout: 10,
            sources: { _ in
                Self.bodies.map {
                    DownloadSource(url: base.appendingPathComponent($0.name), destination: "commonsenseqa/" + $0.name)
                }
            }, checksums: pins, log: log)
    }

    static var officialPins: [String: PinnedChecksum] {
        Dictionary(uniqueKeysWithValues: bodies.map { ("commonsenseqa/" + $0.name, .official($0.sha256)) })
    }

    /// Everything below `dir`, relative, sorted (hidden staging folders included).
    func contents(_ dir: URL) -> [String] {
        (FileManager.default.enumerator(atPath: dir.path)?.allObjects as? [String] ?? []).sorted()
    }

    func testSystemSHA256MatchesAKnownDigest() throws {
        let d = try TempDir()
        let file = try d.write("abc", "abc")
        XCTAssertEqual(
            try DatasetDownloader.systemSHA256(file), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    func testAGoodDownloadIsVerifiedAndPlaced() throws {
        let server = try LoopbackFileServer(
            routes: Dictionary(uniqueKeysWithValues: Self.bodies.map { ("/" + $0.name, $0.body) }))
        defer { server.stop() }
        let d = try TempDir()
        XCTAssertEqual(
            try downloader(server, into: d.url, pins: Self.officialPins).download(task: TaskRegistry.commonsenseQA), d.url)
        for (name, body, _) in Self.bodies {
            XCTAssertEqual(try Data(contentsOf: d.url.appendingPathComponent("commonsenseqa/" + name)), Data(body), name)
        }
        XCTAssertEqual(
            contents(d.url), ["commonsenseqa"] + Self.bodies.map { "commonsenseqa/" + $0.name }.sorted(),
            "no staging folder or partial file is left")
    }

    func testAChecksumMismatchNamesTheFileAndBothHashesAndWritesNothing() throws {
        let server = try LoopbackFileServer(
            routes: Dictionary(uniqueKeysWithValues: Self.bodies.map { ("/" + $0.name, $0.body) }))
        defer { server.stop() }
        let d = try TempDir()
        var pins = Self.officialPins
        let wrong = String(repeating: "0", count: 64)
        pins["commonsenseqa/dev_rand_split.jsonl"] = .official(wrong)
        XCTAssertThrowsError(try downloader(server, into: d.url, pins: pins).download(task: TaskRegistry.commonsenseQA)) {
            error in
            guard let e = error as? DataError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.kind, .downloadFailed)
            for part in ["commonsenseqa/dev_rand_split.jsonl", wrong, Self.bodies[1].sha256, "--data-dir"] {
                XCTAssertTrue(e.description.contains(part), "names \(part): \(e)")
            }
        }
        XCTAssertEqual(contents(d.url), [], "the files that did match are not kept either")
    }

    func testAProvisionalPinOnlyWarns() throws {
        let server = try LoopbackFileServer(
            routes: Dictionary(uniqueKeysWithValues: Self.bodies.map { ("/" + $0.name, $0.body) }))
        defer { server.stop() }
        let d = try TempDir()
        var pins = Self.officialPins
        pins["commonsenseqa/train_rand_split.jsonl"] = .provisional(String(repeating: "1", count: 64))
        let lines = LockedLines()
        try downloader(server, into: d.url, pins: pins, log: { lines.append($0) }).download(task: TaskRegistry.commonsenseQA)
        XCTAssertTrue(
            FileManager.default.fileExists(atPath: d.url.appendingPathComponent("commonsenseqa/train_rand_split.jsonl").path))
        XCTAssertTrue(
            lines.all.contains { $0.contains("train_rand_split.jsonl") && $0.contains(Self.bodies[0].sha256) }, "\(lines.all)")
    }

    func testAConnectionDroppedHalfwayLeavesNoPartialFile() throws {
        var routes = Dictionary(uniqueKeysWithValues: Self.bodies.map { ("/" + $0.name, $0.body) })
        routes["/test_rand_split_no_answers.jsonl"] = nil
        let server = try LoopbackFileServer(
            routes: routes, cutHalfway: ["/test_rand_split_no_answers.jsonl": Self.bodies[2].body])
        defer { server.stop() }
        let d = try TempDir()
        // Without a pin the length check alone must catch the cut.
        XCTAssertThrowsError(try downloader(server, into: d.url, pins: [:]).download(task: TaskRegistry.commonsenseQA)) { error in
            XCTAssertEqual((error as? DataError)?.kind, .downloadFailed, "\(error)")
            XCTAssertTrue("\(error)".contains("test_rand_split_no_answers.jsonl"), "names the URL: \(error)")
        }
        XCTAssertEqual(contents(d.url), [], "no partial file and no staging folder")
    }

    func testArchivesAreExtractedVerifiedAndPlaced() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/zip") else {
            throw XCTSkip("SKIPPED: /usr/bin/zip not available to build a test archive")
        }
        let d = try TempDir()
        let rows = "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n"
        for split in ["train", "dev", "test"] { try d.write("src/RTE/\(split).tsv", rows) }
        let zip = Process()
        zip.executableURL = URL(fileURLWithPath: "/usr/bin/zip")
        zip.currentDirectoryURL = d.url.appendingPathComponent("src")
        zip.arguments = ["-q", "-r", d.url.appendingPathComponent("RTE.zip").path, "RTE"]
        try zip.run()
        zip.waitUntilExit()
        let server = try LoopbackFileServer(routes: [
            "/RTE.zip": Array(try Data(contentsOf: d.url.appendingPathComponent("RTE.zip")))
        ])
        defer { server.stop() }
        let cache = d.url.appendingPathComponent("cache")
        let rowsHash = try DatasetDownloader.systemSHA256(d.url.appendingPathComponent("src/RTE/train.tsv"))
        func rte(_ pin: PinnedChecksum) -> DatasetDownloader {
            DatasetDownloader(
                cacheDir: cache, timeout: 10,
                sources: { _ in
                    [
                        DownloadSource(
                            url: server.baseURL.appendingPathComponent("RTE.zip"), destination: "glue/RTE.zip", extractTo: "glue")
                    ]
                }, checksums: ["glue/RTE/dev.tsv": pin], log: { _ in })
        }
        XCTAssertThrowsError(try rte(.official(String(repeating: "a", count: 64))).download(task: TaskRegistry.rte))
        XCTAssertEqual(contents(cache), [], "a bad member leaves nothing")
        try rte(.official(rowsHash)).download(task: TaskRegistry.rte)
        XCTAssertEqual(contents(cache), ["glue", "glue/RTE", "glue/RTE/dev.tsv", "glue/RTE/test.tsv", "glue/RTE/train.tsv"])
    }

    /// The GLUE script's MRPC conversion, run on the real sources, gives files with the official pins.
    func testMRPCConversionOfTheRealSourcesMatchesTheOfficialPins() throws {
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let sources =
            ProcessInfo.processInfo.environment["FREELB_SHARED_DATA"].map { URL(fileURLWithPath: $0) }
            ?? package.deletingLastPathComponent().appendingPathComponent("shared/data")
        let mrpc = sources.appendingPathComponent("glue/MRPC")
        guard FileManager.default.fileExists(atPath: mrpc.appendingPathComponent("msr_paraphrase_train.txt").path) else {
            throw XCTSkip("SKIPPED: the MRPC sources are not at \(mrpc.path) (set FREELB_SHARED_DATA)")
        }
        let d = try TempDir()
        try GLUEReader.formatMRPC(
            trainSource: mrpc.appendingPathComponent("msr_paraphrase_train.txt"),
            testSource: mrpc.appendingPathComponent("msr_paraphrase_test.txt"),
            devIds: mrpc.appendingPathComponent("dev_ids.tsv"), into: d.url)
        for name in ["msr_paraphrase_train.txt", "msr_paraphrase_test.txt", "dev_ids.tsv"] {
            XCTAssertEqual(
                try DatasetDownloader.systemSHA256(mrpc.appendingPathComponent(name)),
                DatasetDownloader.officialChecksums["glue/MRPC/\(name)"]?.sha256, name)
        }
        for name in ["train.tsv", "dev.tsv", "test.tsv"] {
            XCTAssertEqual(
                try DatasetDownloader.systemSHA256(d.url.appendingPathComponent(name)),
                DatasetDownloader.officialChecksums["glue/MRPC/\(name)"]?.sha256, name)
        }
    }
}

final class LockedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
}

/// HTTP/1.1 on 127.0.0.1 for download tests: GET of a fixed body per path (404 otherwise), or for the paths
/// in `cutHalfway` a full Content-Length with only half the body before the connection closes.
final class LoopbackFileServer: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let routes: [String: [UInt8]]
    private let cutHalfway: [String: [UInt8]]
    private let stopped = NSLock()
    private var isStopped = false

    var baseURL: URL { URL(string: "http://127.0.0.1:\(port)")! }

    init(routes: [String: [UInt8]], cutHalfway: [String: [UInt8]] = [:]) throws {
        self.routes = routes
        self.cutHalfway = cutHalfway
        #if canImport(Glibc)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ready = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 8) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard fd >= 0, ready else { throw XCTSkip("SKIPPED: cannot listen on 127.0.0.1") }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        Thread.detachNewThread { [self] in serve() }
    }

    /// Stops accepting; the accept thread then exits.
    func stop() {
        stopped.lock()
        isStopped = true
        stopped.unlock()
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func serve() {
        while true {
            let connection = accept(listener, nil, nil)
            stopped.lock()
            let done = isStopped
            stopped.unlock()
            if connection < 0 || done { return }
            Thread.detachNewThread { [self] in answer(connection) }
        }
    }

    private func answer(_ connection: Int32) {
        defer { close(connection) }
        var request: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !String(decoding: request, as: UTF8.self).contains("\r\n\r\n") {
            let n = recv(connection, &chunk, chunk.count, 0)
            if n <= 0 { return }
            request += chunk[0..<n]
        }
        let path = String(String(decoding: request, as: UTF8.self).split(separator: " ").dropFirst().first ?? "")
        if let body = routes[path] {
            send(connection, "HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n", body)
        } else if let body = cutHalfway[path] {
            send(
                connection, "HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n",
                Array(body.prefix(body.count / 2)))
        } else {
            send(connection, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", [])
        }
    }

    private func send(_ connection: Int32, _ head: String, _ body: [UInt8]) {
        let bytes = Array(head.utf8) + body
        var offset = 0
        while offset < bytes.count {
            #if canImport(Glibc)
                let n = bytes[offset...].withUnsafeBytes { Glibc.send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            #else
                let n = bytes[offset...].withUnsafeBytes { Darwin.send(connection, $0.baseAddress, $0.count, 0) }
            #endif
            if n <= 0 { return }
            offset += n
        }
    }
}
