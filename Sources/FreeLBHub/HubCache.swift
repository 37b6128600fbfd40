import Foundation
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Settings read from the environment, as `huggingface_hub` reads them.
public struct HubEnvironment: Sendable {
    /// `HF_HUB_CACHE`, else `HUGGINGFACE_HUB_CACHE`, else `$HF_HOME/hub`, else
    /// `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`.
    public var cacheDirectory: URL
    /// The variable that switched downloads off (`HF_HUB_OFFLINE` or `TRANSFORMERS_OFFLINE` set to 1/true/yes/on).
    public var offlineVariable: String?
    /// `HF_ENDPOINT`, else https://huggingface.co.
    public var endpoint: URL
    /// `HOME`, else the account's home folder (expands `~`).
    public var homeDirectory: String

    public init(_ env: [String: String]) {
        let home = env["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        homeDirectory = home
        func expand(_ p: String) -> String {
            if p == "~" { return home }
            if p.hasPrefix("~/") { return home + p.dropFirst(1) }
            return p
        }
        func nonEmpty(_ k: String) -> String? { env[k].flatMap { $0.isEmpty ? nil : expand($0) } }
        let hub: String
        if let c = nonEmpty("HF_HUB_CACHE") ?? nonEmpty("HUGGINGFACE_HUB_CACHE") {
            hub = c
        } else {
            let hfHome = nonEmpty("HF_HOME") ?? ((nonEmpty("XDG_CACHE_HOME") ?? home + "/.cache") + "/huggingface")
            hub = hfHome + "/hub"
        }
        cacheDirectory = URL(fileURLWithPath: hub, isDirectory: true)
        offlineVariable = ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"].first { k in
            guard let v = env[k]?.trimmingCharacters(in: .whitespaces).lowercased() else { return false }
            return ["1", "true", "yes", "on"].contains(v)
        }
        endpoint = nonEmpty("HF_ENDPOINT").flatMap { URL(string: $0) } ?? URL(string: "https://huggingface.co")!
    }
}

/// One model repository inside the cache:
/// `models--ORG--NAME/{refs/<revision>, blobs/<etag>, snapshots/<commit>/<file> -> ../../blobs/<etag>, .no_exist/<commit>/<file>}`.
struct HubRepoCache {
    let root: URL  // .../hub/models--ORG--NAME

    init(cacheDirectory: URL, modelID: String) {
        root = cacheDirectory.appendingPathComponent(
            "models--" + modelID.replacingOccurrences(of: "/", with: "--"), isDirectory: true)
    }

    var blobs: URL { root.appendingPathComponent("blobs", isDirectory: true) }
    func ref(_ revision: String) -> URL { root.appendingPathComponent("refs/" + revision) }
    func snapshot(_ commit: String) -> URL { root.appendingPathComponent("snapshots/" + commit, isDirectory: true) }
    func noExist(_ commit: String, _ file: String) -> URL { root.appendingPathComponent(".no_exist/\(commit)/\(file)") }

    /// The commit a revision names: itself if it is a 40-hex hash, else the content of `refs/<revision>`.
    func commit(for revision: String) -> String? {
        if isCommitHash(revision) { return revision }
        guard let s = try? String(contentsOf: ref(revision), encoding: .utf8) else { return nil }
        let c = s.trimmingCharacters(in: .whitespacesAndNewlines)
        return isSafeComponent(c) ? c : nil
    }

    /// Link `snapshots/<commit>/<file>` to `blobs/<etag>` with a relative symlink, replacing atomically.
    func link(commit: String, file: String, blob: String) throws {
        let dst = snapshot(commit).appendingPathComponent(file)
        try makeDirectory(dst.deletingLastPathComponent())
        let depth = file.split(separator: "/").count  // file "a/b" sits one level deeper
        let target = String(repeating: "../", count: depth + 1) + "blobs/" + blob
        let tmp = dst.path + ".tmp-link-\(getpid())"
        unlink(tmp)
        guard symlink(target, tmp) == 0 else { throw HubError.fileSystem(path: tmp, reason: "symlink: " + errnoText()) }
        guard rename(tmp, dst.path) == 0 else {
            unlink(tmp)
            throw HubError.fileSystem(path: dst.path, reason: "rename: " + errnoText())
        }
    }

    func markMissing(commit: String, file: String) throws {
        let u = noExist(commit, file)
        try makeDirectory(u.deletingLastPathComponent())
        try writeAtomically(Data(), to: u)
    }
}

// MARK: - Small file-system helpers

func errnoText() -> String { String(cString: strerror(errno)) }

func isCommitHash(_ s: String) -> Bool {
    s.utf8.count == 40 && s.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
}

/// A value safe to use as one path component (commit hashes, ETags): [A-Za-z0-9._-], not starting with '.'.
func isSafeComponent(_ s: String) -> Bool {
    guard !s.isEmpty, s.utf8.count <= 128, !s.hasPrefix(".") else { return false }
    return s.utf8.allSatisfy { c in
        (48...57).contains(c) || (65...90).contains(c) || (97...122).contains(c) || c == 45 || c == 46 || c == 95
    }
}

func makeDirectory(_ url: URL) throws {
    do {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    } catch {
        throw HubError.fileSystem(path: url.path, reason: "cannot create folder: \(error.localizedDescription)")
    }
}

/// Temporary file in the same folder, fsync, rename.
func writeAtomically(_ data: Data, to url: URL) throws {
    let tmp = url.path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw HubError.fileSystem(path: tmp, reason: errnoText()) }
    var ok = data.withUnsafeBytes { b -> Bool in
        var off = 0
        while off < b.count {
            let n = write(fd, b.baseAddress! + off, b.count - off)
            if n < 0 { if errno == EINTR { continue }; return false }
            off += n
        }
        return true
    }
    ok = ok && fsync(fd) == 0
    close(fd)
    guard ok, rename(tmp, url.path) == 0 else {
        let reason = errnoText()
        unlink(tmp)
        throw HubError.fileSystem(path: url.path, reason: reason)
    }
}

func fileSize(_ path: String) -> Int64? {
    var st = stat()
    guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
    return Int64(st.st_size)
}
