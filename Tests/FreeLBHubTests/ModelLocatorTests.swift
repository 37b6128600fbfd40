import Foundation
import XCTest
import FreeLBHub

/// Download, cache and offline behaviour against `LoopbackHTTPServer` (127.0.0.1 only; never the internet:
/// every test passes an explicit `environment` and a loopback `endpoint`).
final class ModelLocatorTests: XCTestCase {
    var tmp: URL!
    var server: LoopbackHTTPServer?

    let model = "org/tiny"
    let commit = "0123456789abcdef0123456789abcdef01234567"
    let config = Array(#"{"model_type":"bert","hidden_size":32}"#.utf8)
    let vocab = Array("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n".utf8)
    /// 200 kB of deterministic bytes standing in for model.safetensors (an LFS file).
    lazy var weights: [UInt8] = {
        var x: UInt32 = 12345
        return (0..<200_000).map { _ in
            x = x &* 1_664_525 &+ 1_013_904_223; return UInt8(x >> 24)
        }
    }()
    var weightsSHA: String { SHA256.hex(SHA256.hash(weights)) }
    var cdnPath: String { "/cdn/\(weightsSHA)" }

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("freelb-hub-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        server?.stop()
        try? FileManager.default.removeItem(at: tmp)
    }

    /// Routes shaped like the Hub: small files served directly with a git-style ETag; the LFS file
    /// answers 302 with `X-Linked-Etag` (its sha256) and `X-Linked-Size`, pointing at a CDN path.
    func hubRoutes(linkedEtag: String? = nil) -> [String: LoopbackHTTPServer.Route] {
        var r: [String: LoopbackHTTPServer.Route] = [:]
        for rev in ["main", commit] {
            let base = "/\(model)/resolve/\(rev)/"
            r[base + "config.json"] = .init(
                body: config,
                headers: ["ETag": "\"\(String(SHA256.hex(SHA256.hash(config)).prefix(40)))\"", "X-Repo-Commit": commit])
            r[base + "vocab.txt"] = .init(
                body: vocab,
                headers: ["ETag": "\"\(String(SHA256.hex(SHA256.hash(vocab)).prefix(40)))\"", "X-Repo-Commit": commit])
            r[base + "model.safetensors"] = .init(
                status: 302,
                headers: [
                    "Location": cdnPath, "X-Repo-Commit": commit,
                    "X-Linked-Etag": "\"\(linkedEtag ?? weightsSHA)\"", "X-Linked-Size": "\(weights.count)"
                ])
        }
        r[cdnPath] = .init(body: weights, headers: ["ETag": "\"cdn\""])
        return r
    }

    func startServer(_ routes: [String: LoopbackHTTPServer.Route]) throws -> LoopbackHTTPServer {
        let s = try LoopbackHTTPServer(routes: routes, lifetime: 30)
        server = s
        return s
    }

    var hfHome: URL { tmp.appendingPathComponent("hf") }
    var env: [String: String] { ["HF_HOME": hfHome.path, "HOME": tmp.appendingPathComponent("home").path] }
    var repoDir: URL { hfHome.appendingPathComponent("hub/models--org--tiny") }

    func locator(_ env: [String: String], _ s: LoopbackHTTPServer?) -> ModelLocator {
        var l = ModelLocator(environment: env, endpoint: s?.baseURL ?? URL(string: "http://127.0.0.1:9")!)
        l.timeout = 10
        return l
    }

    func files(in dir: URL) -> [String] {
        (FileManager.default.enumerator(atPath: dir.path)?.allObjects as? [String] ?? []).sorted()
    }

    // MARK: - Download + cache

    func testDownloadsIntoHFHomeCacheWithBlobsSymlinksRefAndNoExistMarkers() throws {
        let s = try startServer(hubRoutes())
        let folder = try locator(env, s).resolve(model)

        XCTAssertEqual(folder.path, repoDir.appendingPathComponent("snapshots/\(commit)").path, "HF_HOME/hub layout")
        XCTAssertEqual(try [UInt8](Data(contentsOf: folder.appendingPathComponent("config.json"))), config)
        XCTAssertEqual(try [UInt8](Data(contentsOf: folder.appendingPathComponent("vocab.txt"))), vocab)
        XCTAssertEqual(try [UInt8](Data(contentsOf: folder.appendingPathComponent("model.safetensors"))), weights)
        // snapshot entries are relative symlinks into blobs/, the LFS blob named by its sha256
        XCTAssertEqual(
            try FileManager.default.destinationOfSymbolicLink(atPath: folder.appendingPathComponent("model.safetensors").path),
            "../../blobs/\(weightsSHA)")
        XCTAssertEqual(try String(contentsOf: repoDir.appendingPathComponent("refs/main"), encoding: .utf8), commit)
        XCTAssertTrue(
            FileManager.default.fileExists(atPath: repoDir.appendingPathComponent(".no_exist/\(commit)/tokenizer.json").path))
        XCTAssertFalse(
            files(in: repoDir).contains { $0.hasSuffix(".incomplete") || $0.contains(".tmp-") }, "\(files(in: repoDir))")

        // Only loopback requests; revision pinned to the commit after the first HEAD; the LFS GET went to the CDN path.
        let log = s.log
        XCTAssertEqual(log.first, .init(method: "HEAD", path: "/org/tiny/resolve/main/config.json", range: nil))
        XCTAssertTrue(
            log.dropFirst().allSatisfy { $0.path.hasPrefix("/org/tiny/resolve/\(commit)/") || $0.path == cdnPath }, "\(log)")
        XCTAssertEqual(log.filter { $0.method == "GET" && $0.path == cdnPath }.count, 1)
    }

    func testSecondResolveUsesTheCacheWithoutNetwork() throws {
        let s = try startServer(hubRoutes())
        let first = try locator(env, s).resolve(model)
        s.stop()
        let requests = s.log.count
        // Server stopped: any network access would fail. Also offline, and by commit hash.
        XCTAssertEqual(try locator(env, s).resolve(model), first)
        XCTAssertEqual(try locator(env.merging(["HF_HUB_OFFLINE": "1"]) { $1 }, nil).resolve(model), first)
        XCTAssertEqual(try locator(env, nil).resolve(model, revision: commit), first)
        XCTAssertEqual(s.log.count, requests)
    }

    func testResumesACutDownloadWithARangeRequest() throws {
        var routes = hubRoutes()
        routes[cdnPath]?.cutGets = 1  // first GET: half the body, then the connection is closed
        let s = try startServer(routes)
        let folder = try locator(env, s).resolve(model)
        XCTAssertEqual(try [UInt8](Data(contentsOf: folder.appendingPathComponent("model.safetensors"))), weights)
        let gets = s.log.filter { $0.method == "GET" && $0.path == cdnPath }
        XCTAssertEqual(gets.count, 2, "\(s.log)")
        XCTAssertNil(gets[0].range)
        // The first transfer may have delivered up to the cut point (100000 bytes); the resume starts where the file ends.
        let resumeAt = gets[1].range.flatMap { Int($0.dropFirst(6).dropLast()) }
        XCTAssertNotNil(resumeAt, "second GET must be a Range request: \(gets[1])")
        XCTAssertTrue((1...100_000).contains(resumeAt ?? -1), "resumed at \(resumeAt ?? -1)")
    }

    func testResumesAPartialFileLeftByAnEarlierProcess() throws {
        let s = try startServer(hubRoutes())
        let blobs = repoDir.appendingPathComponent("blobs")
        try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
        try Data(weights[0..<70_000]).write(to: blobs.appendingPathComponent("\(weightsSHA).incomplete"))
        let folder = try locator(env, s).resolve(model)
        XCTAssertEqual(try [UInt8](Data(contentsOf: folder.appendingPathComponent("model.safetensors"))), weights)
        XCTAssertEqual(s.log.filter { $0.path == cdnPath }.map(\.range), ["bytes=70000-"])
    }

    func testChecksumMismatchIsRejectedAndNothingIsPublished() throws {
        let wrong = String(repeating: "ab", count: 32)  // a valid-looking sha256 that is not the content's
        let s = try startServer(hubRoutes(linkedEtag: wrong))
        XCTAssertThrowsError(try locator(env, s).resolve(model)) { error in
            guard case let .checksumMismatch(url, expected, actual)? = error as? HubError else { return XCTFail("\(error)") }
            XCTAssertTrue(url.hasSuffix("/model.safetensors"))
            XCTAssertEqual(expected, wrong)
            XCTAssertEqual(actual, weightsSHA)
        }
        XCTAssertEqual(files(in: repoDir.appendingPathComponent("snapshots")), [], "no snapshot entries")
        XCTAssertFalse(FileManager.default.fileExists(atPath: repoDir.appendingPathComponent("refs/main").path))
        XCTAssertFalse(files(in: repoDir.appendingPathComponent("blobs")).contains { $0.hasPrefix(wrong) }, "bad bytes discarded")
    }

    func testSizeIsCheckedAgainstXLinkedSize() throws {
        var routes = hubRoutes()
        routes["/\(model)/resolve/\(commit)/model.safetensors"]?.headers["X-Linked-Size"] = "\(weights.count + 10)"
        let s = try startServer(routes)
        XCTAssertThrowsError(try locator(env, s).resolve(model)) { error in
            // The server has fewer bytes than announced: the resume from byte 200000 gets 416 "bytes */200000".
            guard case let .sizeMismatch(url, expected, actual)? = error as? HubError else { return XCTFail("\(error)") }
            XCTAssertTrue(url.hasSuffix("/model.safetensors"))
            XCTAssertEqual([expected, actual], [200_010, 200_000])
        }
        XCTAssertEqual(s.log.filter { $0.path == cdnPath }.map(\.range), [nil, "bytes=200000-"])
        XCTAssertEqual(files(in: repoDir.appendingPathComponent("snapshots")), [])
    }

    func testRevisionWithSlashIsPercentEncodedInTheURLAndNestedUnderRefs() throws {
        // huggingface_hub quotes the revision with safe="": refs/pr/1 -> refs%2Fpr%2F1.
        var routes: [String: LoopbackHTTPServer.Route] = [:]
        for (path, route) in hubRoutes() where path.contains("/resolve/main/") {
            routes[path.replacingOccurrences(of: "/resolve/main/", with: "/resolve/refs%2Fpr%2F1/")] = route
        }
        for (path, route) in hubRoutes() where !path.contains("/resolve/main/") { routes[path] = route }
        let s = try startServer(routes)
        let folder = try locator(env, s).resolve(model, revision: "refs/pr/1", files: ["config.json", "model.safetensors"])
        XCTAssertEqual(folder.lastPathComponent, commit)
        XCTAssertEqual(s.log.first?.path, "/org/tiny/resolve/refs%2Fpr%2F1/config.json")
        XCTAssertEqual(try String(contentsOf: repoDir.appendingPathComponent("refs/refs/pr/1"), encoding: .utf8), commit)
    }

    // MARK: - Offline and errors

    func testOfflineWithEmptyCacheGivesAnErrorThatSaysHowToFixIt() throws {
        for variable in ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"] {
            XCTAssertThrowsError(try locator(env.merging([variable: "1"]) { $1 }, nil).resolve(model)) { error in
                guard case let .offlineCacheMiss(m, rev, cache, tried, v)? = error as? HubError else {
                    return XCTFail("\(error)")
                }
                XCTAssertEqual([m, rev, cache, v], [model, "main", hfHome.appendingPathComponent("hub").path, variable])
                XCTAssertEqual(tried, [repoDir.appendingPathComponent("refs/main").path])
                let text = "\(error)"
                for needle in [
                    "offline", "pass a local folder", "unset \(variable)", "pre-populate the cache",
                    "huggingface-cli download org/tiny"
                ] {
                    XCTAssertTrue(text.contains(needle), "'\(needle)' missing from: \(text)")
                }
            }
        }
    }

    func testTransferThatKeepsBeingCutFailsAfterMaxAttemptsAndKeepsThePartialFile() throws {
        var routes = hubRoutes()
        routes[cdnPath]?.cutGets = 5
        let s = try startServer(routes)
        var l = locator(env, s)
        l.maxAttempts = 2
        XCTAssertThrowsError(try l.resolve(model)) { error in
            guard case let .downloadFailed(_, attempts, bytes, _)? = error as? HubError else { return XCTFail("\(error)") }
            XCTAssertEqual(attempts, 2)
            XCTAssertGreaterThan(bytes, 0)
        }
        XCTAssertTrue(
            FileManager.default.fileExists(atPath: repoDir.appendingPathComponent("blobs/\(weightsSHA).incomplete").path))
        XCTAssertEqual(files(in: repoDir.appendingPathComponent("snapshots")), [])
        // A later call resumes and completes once the server behaves.
        s.setRoute(cdnPath, .init(body: weights))
        XCTAssertEqual(
            try [UInt8](Data(contentsOf: try locator(env, s).resolve(model).appendingPathComponent("model.safetensors"))), weights
        )
    }

    func testUnreachableHubWithEmptyCacheNamesTheURL() throws {
        let s = try LoopbackHTTPServer(routes: [:], lifetime: 5)
        let deadEndpoint = s.baseURL
        s.stop()  // the port is now closed: connection refused
        var l = ModelLocator(environment: env, endpoint: deadEndpoint)
        l.timeout = 5
        XCTAssertThrowsError(try l.resolve(model)) { error in
            guard case let .hubUnreachable(_, _, url, _, _)? = error as? HubError else { return XCTFail("\(error)") }
            XCTAssertEqual(url, deadEndpoint.absoluteString + "/org/tiny/resolve/main/config.json")
            XCTAssertTrue("\(error)".contains("pass a local folder"))
        }
    }

    func testMissingConfigIs404AndMissingWeightsIsReported() throws {
        var routes = hubRoutes()
        routes["/\(model)/resolve/\(commit)/model.safetensors"] = nil
        let s = try startServer(routes)
        XCTAssertThrowsError(try locator(env, s).resolve(model)) {
            XCTAssertEqual($0 as? HubError, .noWeightsFile(model: model, revision: "main", tried: ["model.safetensors"]))
        }
        XCTAssertThrowsError(try locator(env, s).resolve("org/other")) { error in
            guard case .httpStatus(let url, 404, "EntryNotFound")? = error as? HubError else { return XCTFail("\(error)") }
            XCTAssertTrue(url.hasSuffix("/org/other/resolve/main/config.json"))
        }
        XCTAssertEqual(files(in: repoDir.appendingPathComponent("snapshots")), [])
    }

    // MARK: - Local folders, ids, environment

    func testExistingLocalFolderIsReturnedAsIs() throws {
        let local = tmp.appendingPathComponent("my-model")
        try FileManager.default.createDirectory(at: local, withIntermediateDirectories: true)
        XCTAssertEqual(try locator(env, nil).resolve(local.path).path, local.path)
        XCTAssertThrowsError(try locator(env, nil).resolve(tmp.appendingPathComponent("nope").path)) {
            XCTAssertEqual($0 as? HubError, .localPathNotFound(path: self.tmp.appendingPathComponent("nope").path))
        }
        let file = tmp.appendingPathComponent("model.safetensors")
        try Data([0]).write(to: file)
        XCTAssertThrowsError(try locator(env, nil).resolve(file.path)) {
            XCTAssertEqual($0 as? HubError, .notAFolder(path: file.path))
        }
        XCTAssertThrowsError(try locator(env, nil).resolve("a/b/c")) {
            guard case .invalidModelID? = $0 as? HubError else { return XCTFail() }
        }
        XCTAssertThrowsError(try locator(env, nil).resolve("org/na me")) {
            guard case .invalidModelID? = $0 as? HubError else { return XCTFail() }
        }
        XCTAssertThrowsError(try locator(env, nil).resolve(model, files: ["../../etc/passwd"])) {
            guard case .invalidModelID? = $0 as? HubError else { return XCTFail() }
        }
    }

    func testCacheDirectoryPrecedenceMatchesHuggingFaceHub() {
        XCTAssertEqual(HubEnvironment(["HOME": "/h"]).cacheDirectory.path, "/h/.cache/huggingface/hub")
        XCTAssertEqual(HubEnvironment(["HOME": "/h", "XDG_CACHE_HOME": "/x"]).cacheDirectory.path, "/x/huggingface/hub")
        XCTAssertEqual(HubEnvironment(["HOME": "/h", "XDG_CACHE_HOME": "/x", "HF_HOME": "~/hf"]).cacheDirectory.path, "/h/hf/hub")
        XCTAssertEqual(HubEnvironment(["HOME": "/h", "HF_HOME": "/hf", "HF_HUB_CACHE": "/c"]).cacheDirectory.path, "/c")
        XCTAssertEqual(
            HubEnvironment(["HOME": "/h", "HF_HOME": "/hf", "HUGGINGFACE_HUB_CACHE": "/legacy"]).cacheDirectory.path, "/legacy")
        XCTAssertNil(HubEnvironment(["HF_HUB_OFFLINE": "0"]).offlineVariable)
        XCTAssertEqual(HubEnvironment(["HF_HUB_OFFLINE": "true"]).offlineVariable, "HF_HUB_OFFLINE")
        XCTAssertEqual(HubEnvironment(["TRANSFORMERS_OFFLINE": "1"]).offlineVariable, "TRANSFORMERS_OFFLINE")
        XCTAssertEqual(HubEnvironment([:]).endpoint.absoluteString, "https://huggingface.co")
        XCTAssertEqual(HubEnvironment(["HF_ENDPOINT": "http://127.0.0.1:1"]).endpoint.absoluteString, "http://127.0.0.1:1")
    }

    func testHubCacheSnapshotWrittenByHandIsFoundOffline() throws {
        // A cache populated elsewhere (HF_HUB_CACHE, real files instead of symlinks) is used as is.
        let cache = tmp.appendingPathComponent("hubcache")
        let snap = cache.appendingPathComponent("models--org--tiny/snapshots/\(commit)")
        try FileManager.default.createDirectory(at: snap, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(
            at: cache.appendingPathComponent("models--org--tiny/refs"), withIntermediateDirectories: true)
        try Data(commit.utf8).write(to: cache.appendingPathComponent("models--org--tiny/refs/main"))
        try Data(config).write(to: snap.appendingPathComponent("config.json"))
        try Data(weights).write(to: snap.appendingPathComponent("model.safetensors"))
        let e = ["HF_HUB_CACHE": cache.path, "HF_HUB_OFFLINE": "1", "HOME": tmp.path]
        XCTAssertEqual(try locator(e, nil).resolve(model).path, snap.path)
    }
}
