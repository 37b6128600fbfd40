import Foundation
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Finds the folder holding a model's files: a local folder, the Hugging Face cache, or a download.
///
/// 1. `nameOrPath` is an existing folder: returned as is.
/// 2. The cache (`HubEnvironment.cacheDirectory`): `refs/<revision>` names a commit and
///    `snapshots/<commit>/` holds every requested file, or a `.no_exist` marker for it: returned
///    without any network access.
/// 3. Unless offline, each file is fetched from `{endpoint}/{id}/resolve/{revision}/{file}`
///    (`revision` is pinned to the commit from the first response), into `blobs/<etag>` through
///    `<blob>.incomplete` (resumed with a Range request, size- and SHA-256-checked, renamed atomically),
///    then linked from `snapshots/<commit>/`, and `refs/<revision>` is written last.
/// 4. Offline, or the Hub unreachable: a snapshot with config.json and a weights file is still
///    used; otherwise a `HubError` says what was tried and how to fix it.
public struct ModelLocator: Sendable {
    public static let defaultFiles = [
        "config.json", "model.safetensors", "tokenizer.json", "vocab.txt", "vocab.json", "merges.txt",
        "tokenizer_config.json", "special_tokens_map.json"
    ]

    public var environment: HubEnvironment
    public var endpoint: URL
    /// Idle timeout of one HTTP request, seconds.
    public var timeout: TimeInterval = 60
    /// Transfer attempts per file (each retry resumes from the partial file).
    public var maxAttempts = 3

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, endpoint: URL? = nil) {
        self.environment = HubEnvironment(environment)
        self.endpoint = endpoint ?? self.environment.endpoint
    }

    /// Convenience: `ModelLocator(environment:endpoint:).resolve(...)`.
    public static func resolve(
        _ nameOrPath: String, revision: String = "main", files: [String] = defaultFiles,
        environment: [String: String] = ProcessInfo.processInfo.environment, endpoint: URL? = nil
    ) throws -> URL {
        try ModelLocator(environment: environment, endpoint: endpoint).resolve(nameOrPath, revision: revision, files: files)
    }

    /// `config.json` is required, and at least one `*.safetensors` file when the list names any.
    static func isRequired(_ file: String) -> Bool { file == "config.json" }
    static func isWeights(_ file: String) -> Bool { file.hasSuffix(".safetensors") }

    public func resolve(_ nameOrPath: String, revision: String = "main", files: [String] = defaultFiles) throws -> URL {
        // 1. Local folder.
        let home = environment.homeDirectory
        let expanded = nameOrPath == "~" ? home : nameOrPath.hasPrefix("~/") ? home + nameOrPath.dropFirst(1) : nameOrPath
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: expanded, isDirectory: &isDir) {
            if isDir.boolValue { return URL(fileURLWithPath: expanded, isDirectory: true).standardizedFileURL }
            throw HubError.notAFolder(path: expanded)
        }
        if expanded.hasPrefix("/") || expanded.hasPrefix(".") || nameOrPath.hasPrefix("~") {
            throw HubError.localPathNotFound(path: expanded)
        }
        try Self.validate(modelID: nameOrPath)
        try Self.validate(revision: revision, files: files, model: nameOrPath)

        // 2. Cache.
        let repo = HubRepoCache(cacheDirectory: environment.cacheDirectory, modelID: nameOrPath)
        let cached = cacheState(repo, revision: revision, files: files)
        if let c = cached, c.complete, c.usable { return c.folder }

        // 3./4. Offline or download.
        if let variable = environment.offlineVariable {
            if let c = cached, c.usable { return c.folder }
            var tried = [repo.ref(revision).path]
            if let c = cached { tried.append(c.folder.path) }
            throw HubError.offlineCacheMiss(
                model: nameOrPath, revision: revision, cache: environment.cacheDirectory.path, tried: tried, variable: variable)
        }
        do {
            return try download(nameOrPath, revision: revision, files: files, repo: repo)
        } catch let HubError.hubUnreachable(model, rev, url, reason, cache) {
            if let c = cached, c.usable { return c.folder }  // stale but usable cache beats no model
            throw HubError.hubUnreachable(model: model, revision: rev, url: url, reason: reason, cache: cache)
        }
    }

    // MARK: - Cache lookup

    struct CacheState {
        var folder: URL
        var complete: Bool  // every file present or known missing
        var usable: Bool  // config.json and a weights file present
    }

    func cacheState(_ repo: HubRepoCache, revision: String, files: [String]) -> CacheState? {
        guard let commit = repo.commit(for: revision) else { return nil }
        let folder = repo.snapshot(commit)
        var complete = true
        var present = Set<String>()
        for f in files {
            // fileExists follows the symlink: a link to a missing blob counts as absent.
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent(f).path) {
                present.insert(f)
            } else if !FileManager.default.fileExists(atPath: repo.noExist(commit, f).path) {
                complete = false
            }
        }
        let weights = files.filter(Self.isWeights)
        let usable =
            files.filter(Self.isRequired).allSatisfy(present.contains)
            && (weights.isEmpty || weights.contains(where: present.contains))
        return CacheState(folder: folder, complete: complete, usable: usable)
    }

    // MARK: - Download

    func fileURL(_ model: String, _ revision: String, _ file: String) -> URL {
        let rev =
            revision.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._")))
            ?? revision
        let path = file.split(separator: "/").map {
            $0.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/")))
                ?? String($0)
        }.joined(separator: "/")
        // Built as a string: appendingPathComponent would encode the '%' of an already-encoded revision again.
        var base = endpoint.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        let text = "\(base)/\(model)/resolve/\(rev)/\(path)"
        return URL(string: text) ?? endpoint.appendingPathComponent(model)  // model, rev and path are validated/encoded
    }

    private func download(_ model: String, revision: String, files: [String], repo: HubRepoCache) throws -> URL {
        // Commit first (from config.json's HEAD), then every file at that commit.
        var ordered = files.filter(Self.isRequired) + files.filter { !Self.isRequired($0) }
        if ordered.isEmpty { ordered = ["config.json"] }
        var commit: String? = isCommitHash(revision) ? revision : nil
        var found: [(file: String, blob: String)] = []
        var missing: [String] = []
        for file in ordered {
            let url = fileURL(model, commit ?? revision, file)
            let head: HTTPTransfer.Head
            switch HTTPTransfer.head(url, timeout: timeout) {
            case .failure(let f):
                throw HubError.hubUnreachable(
                    model: model, revision: revision, url: url.absoluteString, reason: f.reason,
                    cache: environment.cacheDirectory.path)
            case .success(let h):
                head = h
            }
            if head.status == 404 && !Self.isRequired(file) {
                missing.append(file)
                continue
            }
            guard head.status < 400 else {
                let msg = head.header("x-error-message") ?? head.header("x-error-code") ?? ""
                throw HubError.httpStatus(url: url.absoluteString, status: head.status, message: msg)
            }
            if commit == nil {
                let c = head.header("x-repo-commit")
                guard let c, isSafeComponent(c) else {
                    throw HubError.badServerHeader(url: url.absoluteString, header: "X-Repo-Commit", value: c)
                }
                commit = c
            }
            // GET at the pinned commit, so a push between requests cannot mix two versions.
            let blob = try fetchBlob(url: fileURL(model, commit ?? revision, file), head: head, repo: repo)
            found.append((file, blob))
        }
        guard let commit else {  // unreachable: config.json is fetched first and required
            throw HubError.badServerHeader(
                url: fileURL(model, revision, "config.json").absoluteString, header: "X-Repo-Commit", value: nil)
        }
        let weights = files.filter(Self.isWeights)
        if !weights.isEmpty && !weights.contains(where: { w in found.contains { $0.file == w } }) {
            throw HubError.noWeightsFile(model: model, revision: revision, tried: weights)
        }
        // Everything verified: publish the snapshot, then the ref.
        for f in found { try repo.link(commit: commit, file: f.file, blob: f.blob) }
        for f in missing { try repo.markMissing(commit: commit, file: f) }
        if revision != commit {
            try makeDirectory(repo.ref(revision).deletingLastPathComponent())
            try writeAtomically(Data(commit.utf8), to: repo.ref(revision))
        }
        return repo.snapshot(commit)
    }

    /// Downloads one file into `blobs/<name>` (unless already there) and returns `<name>`.
    private func fetchBlob(url: URL, head: HTTPTransfer.Head, repo: HubRepoCache) throws -> String {
        // LFS files: X-Linked-Etag / X-Linked-Size on the redirect; others: ETag / Content-Length.
        let rawEtag = head.header("x-linked-etag") ?? head.header("etag")
        let etag = rawEtag.map { e -> String in
            var s = e.trimmingCharacters(in: .whitespaces)
            if s.hasPrefix("W/") { s.removeFirst(2) }
            return s.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        if let etag, !isSafeComponent(etag) {
            throw HubError.badServerHeader(url: url.absoluteString, header: "ETag", value: rawEtag)
        }
        let sizeText = head.header("x-linked-size") ?? head.header("content-length")
        let size = sizeText.flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) }
        let sha256 = etag.flatMap { e -> String? in
            let l = e.lowercased()
            return l.utf8.count == 64 && l.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) ? l : nil
        }
        try makeDirectory(repo.blobs)

        if let etag {
            let blob = repo.blobs.appendingPathComponent(etag)
            if let s = fileSize(blob.path), size == nil || s == size { return etag }  // already downloaded
        }
        // Without an ETag the blob is named by its SHA-256 after download.
        let partialName = etag ?? "nohash-" + SHA256.hex(SHA256.hash(Data(url.absoluteString.utf8)))
        let partial = repo.blobs.appendingPathComponent(partialName + ".incomplete")

        var attempts = 0
        var lastReason = ""
        transfer: while true {
            var have = fileSize(partial.path) ?? 0
            if let size, have > size {  // longer than the file: cannot be a prefix of it
                truncate(partial.path, 0)
                have = 0
            }
            if let size, have == size, have > 0 { break transfer }
            if attempts == maxAttempts {
                throw HubError.downloadFailed(url: url.absoluteString, attempts: attempts, bytesSoFar: have, reason: lastReason)
            }
            attempts += 1
            switch HTTPTransfer.get(url, into: partial, offset: have, timeout: timeout) {
            case .completed:
                let got = fileSize(partial.path) ?? 0
                if size == nil || got == size { break transfer }
                lastReason = "connection closed after \(got) of \(size ?? -1) bytes"
                continue
            case .httpStatus(416, let h):
                // "bytes */N": the remote file has N bytes. If our partial file already holds all of them,
                // the announced size was wrong; otherwise the partial file does not fit: start over.
                let total = h.header("content-range").flatMap { Int64($0.split(separator: "/").last ?? "") }
                if let total, total == have, let size, size != have {
                    throw HubError.sizeMismatch(url: url.absoluteString, expected: size, actual: have)
                }
                truncate(partial.path, 0)
                lastReason = "HTTP 416 on resume at byte \(have)"
                continue
            case .httpStatus(let status, let h):
                throw HubError.httpStatus(url: url.absoluteString, status: status, message: h.header("x-error-message") ?? "")
            case .transportError(let reason):
                lastReason = reason
                continue
            }
        }

        let digest: String
        do { digest = try SHA256.hexDigest(ofFile: partial) } catch {
            throw HubError.fileSystem(path: partial.path, reason: "cannot read back: \(error.localizedDescription)")
        }
        if let sha256, digest != sha256 {
            unlink(partial.path)
            throw HubError.checksumMismatch(url: url.absoluteString, expected: sha256, actual: digest)
        }
        let name = etag ?? digest
        let blob = repo.blobs.appendingPathComponent(name)
        // fsync the data, then publish it under its final name.
        let fd = open(partial.path, O_RDONLY)
        if fd >= 0 { _ = fsync(fd); close(fd) }
        guard rename(partial.path, blob.path) == 0 else {
            throw HubError.fileSystem(path: blob.path, reason: "rename: " + errnoText())
        }
        return name
    }

    // MARK: - Validation

    static func validate(modelID id: String) throws {
        let parts = id.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { throw HubError.invalidModelID(id, reason: "more than one '/'") }
        for p in parts {
            guard !p.isEmpty, p.count <= 96 else { throw HubError.invalidModelID(id, reason: "empty or overlong name part") }
            guard
                p.utf8.allSatisfy({ c in
                    (48...57).contains(c) || (65...90).contains(c) || (97...122).contains(c) || c == 45 || c == 46 || c == 95
                })
            else {
                throw HubError.invalidModelID(id, reason: "only letters, digits, '-', '_' and '.' are allowed")
            }
            guard !p.contains("--"), !p.contains(".."), !p.hasPrefix("."), !p.hasSuffix(".") else {
                throw HubError.invalidModelID(id, reason: "'--', '..' and leading/trailing '.' are not allowed")
            }
        }
    }

    static func validate(revision: String, files: [String], model: String) throws {
        let revParts = revision.split(separator: "/", omittingEmptySubsequences: false)
        if revision.isEmpty || revParts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) {
            throw HubError.invalidModelID(model, reason: "invalid revision '\(revision)'")
        }
        for f in files {
            let parts = f.split(separator: "/", omittingEmptySubsequences: false)
            if f.isEmpty || parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) {
                throw HubError.invalidModelID(model, reason: "invalid file name '\(f)'")
            }
        }
    }
}
