import Foundation
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes F32 `.safetensors` files the way the reference implementation does:
/// tensors sorted by name and laid out contiguously in that order, `__metadata__` first,
/// compact JSON, header padded with spaces to a multiple of 8 bytes.
/// The write is atomic: a temporary file in the destination folder is written, fsync'ed and
/// renamed over `url`; on any failure the temporary is removed and `url` is untouched.
public enum SafetensorsWriter {
    public static func write(_ tensors: [NamedTensor], metadata: [String: String]? = nil, to url: URL) throws {
        let path = url.path
        let sorted = tensors.sorted { $0.name < $1.name }
        // Validate before touching the disk.
        var seen = Set<String>()
        for t in sorted {
            if t.name == "__metadata__" {
                throw SafetensorsError.invalidTensor(file: path, tensor: t.name, reason: "reserved name")
            }
            if !seen.insert(t.name).inserted {
                throw SafetensorsError.invalidTensor(file: path, tensor: t.name, reason: "duplicate name")
            }
            if t.shape.contains(where: { $0 < 0 }) {
                throw SafetensorsError.invalidTensor(file: path, tensor: t.name, reason: "negative dimension in shape \(t.shape)")
            }
            if t.elementCount != t.values.count {
                throw SafetensorsError.invalidTensor(
                    file: path, tensor: t.name,
                    reason: "shape \(t.shape) has \(t.elementCount) elements but values has \(t.values.count)")
            }
        }
        let header = headerBytes(sorted, metadata: metadata)

        try AtomicFile.write(to: url) { sink in
            var len = UInt64(header.count).littleEndian
            try withUnsafeBytes(of: &len) { try sink($0) }
            try header.withUnsafeBytes { try sink($0) }
            for t in sorted {
                #if _endian(little)
                    try t.values.withUnsafeBytes { try sink($0) }
                #else
                    let le = t.values.map { $0.bitPattern.littleEndian }
                    try le.withUnsafeBytes { try sink($0) }
                #endif
            }
        }
    }

    /// `{"__metadata__":{...},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},...}` + space padding.
    static func headerBytes(_ sorted: [NamedTensor], metadata: [String: String]?) -> [UInt8] {
        var s = "{"
        var first = true
        if let metadata, !metadata.isEmpty {
            s += "\"__metadata__\":{"
            s += metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",")
            s += "}"
            first = false
        }
        var offset = 0
        for t in sorted {
            if !first { s += "," }
            first = false
            let end = offset + 4 * t.values.count
            s +=
                "\(jsonString(t.name)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        s += "}"
        var bytes = Array(s.utf8)
        let pad = (8 - bytes.count % 8) % 8
        bytes += Array(repeating: UInt8(ascii: " "), count: pad)
        return bytes
    }

    /// JSON string literal with the escapes RFC 8259 requires.
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    out += String(format: "\\u%04x", u.value)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}

/// Write-to-temporary, fsync, rename. Shared by the writer; internal.
enum AtomicFile {
    typealias Sink = (UnsafeRawBufferPointer) throws -> Void

    static func write(to url: URL, _ body: (Sink) throws -> Void) throws {
        let path = url.path
        let dir = url.deletingLastPathComponent().path
        let tmp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        if fd < 0 {
            throw SafetensorsError.writeFailed(
                file: path, reason: "cannot create temporary \(tmp): \(String(cString: strerror(errno)))")
        }
        var ok = false
        defer {
            if !ok { unlink(tmp) }
        }
        do {
            try body { buf in
                guard var p = buf.baseAddress else { return }
                var left = buf.count
                while left > 0 {
                    let n = Glibc_write(fd, p, left)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw SafetensorsError.writeFailed(file: path, reason: String(cString: strerror(errno)))
                    }
                    p += n
                    left -= n
                }
            }
            if fsync(fd) != 0 {
                throw SafetensorsError.writeFailed(file: path, reason: "fsync: " + String(cString: strerror(errno)))
            }
        } catch {
            close(fd)
            throw error
        }
        if close(fd) != 0 { throw SafetensorsError.writeFailed(file: path, reason: "close: " + String(cString: strerror(errno))) }
        if rename(tmp, path) != 0 {
            throw SafetensorsError.writeFailed(file: path, reason: "rename from temporary: " + String(cString: strerror(errno)))
        }
        ok = true
        // Persist the rename itself (best effort).
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }
}

@inline(__always)
private func Glibc_write(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
        return Glibc.write(fd, p, n)
    #else
        return Darwin.write(fd, p, n)
    #endif
}
