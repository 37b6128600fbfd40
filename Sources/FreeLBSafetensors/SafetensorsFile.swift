import Foundation
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A plain named float tensor: row-major `values`, `values.count == shape.reduce(1, *)`.
public struct NamedTensor: Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]

    public init(name: String, shape: [Int], values: [Float]) {
        self.name = name
        self.shape = shape
        self.values = values
    }

    public var elementCount: Int { shape.reduce(1, *) }
}

/// Header entry of one tensor.
public struct SafetensorsTensorInfo: Equatable, Sendable {
    public let name: String
    public let dtype: SafetensorsDtype
    public let shape: [Int]
    /// Byte range inside the data buffer (after the header), `[begin, end)`.
    public let dataOffsets: Range<Int>

    public var elementCount: Int { shape.reduce(1, *) }
}

/// Read-only, memory-mapped `.safetensors` file.
///
/// Layout: `u64 little-endian N`, `N` bytes of UTF-8 JSON
/// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {String: String}}`,
/// then the data buffer; offsets are relative to the buffer start.
/// Opening validates the whole header (see `SafetensorsError`); tensor bytes are only touched when read.
public final class SafetensorsFile: @unchecked Sendable {
    /// Header lengths above this are rejected as corrupt (the reference implementation uses 100 MB).
    public static let maxHeaderBytes = 100_000_000

    public let url: URL
    /// `__metadata__`, empty when absent.
    public let metadata: [String: String]
    /// Tensor names, sorted.
    public let names: [String]
    private let infos: [String: SafetensorsTensorInfo]

    private let base: UnsafeRawPointer?  // mmap'ed region (nil when fileSize == 0)
    private let fileSize: Int
    private let dataStart: Int  // 8 + N

    private var path: String { url.path }

    public init(url: URL) throws {
        self.url = url
        let path = url.path
        let fd = open(path, O_RDONLY)
        if fd < 0 { throw SafetensorsError.cannotOpen(file: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw SafetensorsError.cannotOpen(file: path, reason: String(cString: strerror(errno))) }
        if (st.st_mode & S_IFMT) != S_IFREG { throw SafetensorsError.cannotOpen(file: path, reason: "not a regular file") }
        let size = Int(st.st_size)
        guard size >= 8 else {
            throw SafetensorsError.truncated(file: path, fileSize: size, needed: 8, what: "the 8-byte header length")
        }
        guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else {
            throw SafetensorsError.cannotOpen(file: path, reason: "mmap: " + String(cString: strerror(errno)))
        }
        let raw = UnsafeRawPointer(map)
        // From here on, unmap on any throw.
        do {
            let n = raw.loadUnaligned(as: UInt64.self).littleEndian
            if n > UInt64(Self.maxHeaderBytes) || n > UInt64(size) {
                throw SafetensorsError.headerTooLarge(file: path, headerLength: n, fileSize: size, limit: Self.maxHeaderBytes)
            }
            let headerLen = Int(n)
            if 8 + headerLen > size {
                throw SafetensorsError.truncated(
                    file: path, fileSize: size, needed: 8 + headerLen, what: "the \(headerLen)-byte JSON header")
            }
            let header = Data(bytes: raw + 8, count: headerLen)
            let parsed = try Self.parseHeader(header, file: path, bufferSize: size - 8 - headerLen)
            self.metadata = parsed.metadata
            self.infos = parsed.infos
            self.names = parsed.infos.keys.sorted()
            self.dataStart = 8 + headerLen
        } catch {
            munmap(map, size)
            throw error
        }
        self.base = raw
        self.fileSize = size
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), fileSize) }
    }

    // MARK: - Queries

    public func contains(_ name: String) -> Bool { infos[name] != nil }

    public func info(_ name: String) throws -> SafetensorsTensorInfo {
        guard let i = infos[name] else { throw SafetensorsError.tensorNotFound(file: path, tensor: name) }
        return i
    }

    /// All tensors' headers, sorted by name.
    public var tensorInfos: [SafetensorsTensorInfo] { names.compactMap { infos[$0] } }

    /// Raw little-endian bytes of one tensor (a view into the mapping, valid while `self` lives).
    public func withRawBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let i = try info(name)
        guard let base else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return try body(UnsafeRawBufferPointer(start: base + dataStart + i.dataOffsets.lowerBound, count: i.dataOffsets.count))
    }

    // MARK: - Float reads

    /// Values widened (F16, BF16) or narrowed (F64) to Float32, row-major.
    public func floats(_ name: String) throws -> [Float] {
        let i = try info(name)
        let n = i.elementCount
        return try [Float](unsafeUninitializedCapacity: n) { buf, count in
            try self.readFloats(i, into: buf)
            count = n
        }
    }

    /// Same as `floats`, writing into caller storage of exactly `elementCount` floats (no extra copy).
    public func readFloats(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        try readFloats(try info(name), into: destination)
    }

    public func tensor(_ name: String) throws -> NamedTensor {
        NamedTensor(name: name, shape: try info(name).shape, values: try floats(name))
    }

    private func readFloats(_ i: SafetensorsTensorInfo, into dst: UnsafeMutableBufferPointer<Float>) throws {
        let n = i.elementCount
        guard dst.count == n else {
            throw SafetensorsError.destinationSizeMismatch(file: path, tensor: i.name, expected: n, actual: dst.count)
        }
        guard i.dtype.isReadableAsFloat else {
            throw SafetensorsError.unsupportedConversion(file: path, tensor: i.name, dtype: i.dtype.rawValue, to: "Float32")
        }
        guard n > 0, let base, let out = dst.baseAddress else { return }
        let src = base + dataStart + i.dataOffsets.lowerBound
        switch i.dtype {
        case .f32:
            #if _endian(little)
                memcpy(out, src, n * 4)
            #else
                for k in 0..<n {
                    out[k] = Float(bitPattern: src.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self).littleEndian)
                }
            #endif
        case .f16:
            for k in 0..<n { out[k] = float16BitsToFloat(src.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self).littleEndian) }
        case .bf16:
            for k in 0..<n {
                out[k] = bfloat16BitsToFloat(src.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self).littleEndian)
            }
        case .f64:
            for k in 0..<n {
                out[k] = Float(Double(bitPattern: src.loadUnaligned(fromByteOffset: 8 * k, as: UInt64.self).littleEndian))
            }
        default:
            break  // excluded by isReadableAsFloat
        }
    }

    // MARK: - Integer reads

    /// Integer / bool tensors (e.g. `embeddings.position_ids`, I64 `[1, 512]`) widened to Int64.
    public func integers(_ name: String) throws -> [Int64] {
        let i = try info(name)
        guard i.dtype.isReadableAsInteger else {
            throw SafetensorsError.unsupportedConversion(file: path, tensor: name, dtype: i.dtype.rawValue, to: "Int64")
        }
        let n = i.elementCount
        guard n > 0, let base else { return [] }
        let src = base + dataStart + i.dataOffsets.lowerBound
        return (0..<n).map { k -> Int64 in
            switch i.dtype {
            case .bool, .u8: return Int64(src.load(fromByteOffset: k, as: UInt8.self))
            case .i8: return Int64(src.load(fromByteOffset: k, as: Int8.self))
            case .u16: return Int64(src.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self).littleEndian)
            case .i16: return Int64(src.loadUnaligned(fromByteOffset: 2 * k, as: Int16.self).littleEndian)
            case .u32: return Int64(src.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self).littleEndian)
            case .i32: return Int64(src.loadUnaligned(fromByteOffset: 4 * k, as: Int32.self).littleEndian)
            default: return src.loadUnaligned(fromByteOffset: 8 * k, as: Int64.self).littleEndian
            }
        }
    }

    // MARK: - Header parsing

    struct ParsedHeader {
        var metadata: [String: String]
        var infos: [String: SafetensorsTensorInfo]
    }

    /// Validates every entry and that the byte ranges tile `[0, bufferSize)` exactly, as the
    /// reference implementation does (sorted by begin: each begins where the previous ended).
    static func parseHeader(_ header: Data, file: String, bufferSize: Int) throws -> ParsedHeader {
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: header, options: [])
        } catch {
            let preview = String(decoding: header.prefix(60), as: UTF8.self)
            throw SafetensorsError.invalidHeader(
                file: file, field: nil,
                reason: "not valid JSON (starts with \(preview.debugDescription)): \(error.localizedDescription)")
        }
        guard let top = json as? [String: Any] else {
            throw SafetensorsError.invalidHeader(file: file, field: nil, reason: "top level is not a JSON object")
        }
        var metadata: [String: String] = [:]
        var infos: [String: SafetensorsTensorInfo] = [:]
        for (name, value) in top {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else {
                    throw SafetensorsError.invalidHeader(file: file, field: name, reason: "must be an object of strings")
                }
                for (k, v) in m {
                    guard let s = v as? String else {
                        throw SafetensorsError.invalidHeader(
                            file: file, field: "__metadata__.\(k)", reason: "value is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            guard let entry = value as? [String: Any] else {
                throw SafetensorsError.invalidHeader(file: file, field: name, reason: "tensor entry is not an object")
            }
            guard let dtypeName = entry["dtype"] as? String else {
                throw SafetensorsError.invalidHeader(file: file, field: "\(name).dtype", reason: "missing or not a string")
            }
            guard let dtype = SafetensorsDtype(rawValue: dtypeName) else {
                throw SafetensorsError.unknownDtype(file: file, tensor: name, dtype: dtypeName)
            }
            let shape = try nonNegativeInts(entry["shape"], file: file, field: "\(name).shape")
            let offsets = try nonNegativeInts(entry["data_offsets"], file: file, field: "\(name).data_offsets")
            guard offsets.count == 2 else {
                throw SafetensorsError.invalidHeader(
                    file: file, field: "\(name).data_offsets", reason: "expected [begin, end], got \(offsets.count) numbers")
            }
            let (begin, end) = (offsets[0], offsets[1])
            if begin > end || end > bufferSize {
                throw SafetensorsError.offsetsOutOfBounds(
                    file: file, tensor: name, begin: begin, end: end, bufferSize: bufferSize)
            }
            var bytes = dtype.byteSize
            for d in shape {
                let (p, o) = bytes.multipliedReportingOverflow(by: d)
                if o {
                    throw SafetensorsError.invalidHeader(
                        file: file, field: "\(name).shape", reason: "element count overflows: \(shape)")
                }
                bytes = p
            }
            if bytes != end - begin {
                throw SafetensorsError.shapeByteMismatch(
                    file: file, tensor: name, shape: shape, dtype: dtypeName, expectedBytes: bytes, actualBytes: end - begin)
            }
            infos[name] = SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
        }
        // Contiguity: sorted by (begin, end, name), the ranges must tile the buffer.
        let sorted = infos.values.sorted {
            ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound, $0.name) < (
                $1.dataOffsets.lowerBound, $1.dataOffsets.upperBound, $1.name
            )
        }
        var cursor = 0
        var previous: String?
        for i in sorted {
            let b = i.dataOffsets.lowerBound
            if b < cursor {
                throw SafetensorsError.nonContiguousOffsets(
                    file: file, tensor: i.name,
                    reason:
                        "data_offsets [\(b), \(i.dataOffsets.upperBound)] overlap tensor '\(previous ?? "")' which ends at \(cursor)"
                )
            }
            if b > cursor {
                let after = previous.map { "after tensor '\($0)' (ends at \(cursor))" } ?? "at the start of the buffer"
                throw SafetensorsError.nonContiguousOffsets(
                    file: file, tensor: i.name, reason: "gap of \(b - cursor) bytes \(after): data_offsets begin at \(b)")
            }
            cursor = i.dataOffsets.upperBound
            previous = i.name
        }
        if cursor != bufferSize {
            throw SafetensorsError.nonContiguousOffsets(
                file: file, tensor: previous ?? "(none)",
                reason:
                    "tensors cover \(cursor) bytes but the data buffer has \(bufferSize) (trailing bytes after the last tensor)")
        }
        return ParsedHeader(metadata: metadata, infos: infos)
    }

    private static func nonNegativeInts(_ value: Any?, file: String, field: String) throws -> [Int] {
        guard let arr = value as? [Any] else {
            throw SafetensorsError.invalidHeader(file: file, field: field, reason: "missing or not an array")
        }
        return try arr.map { v in
            // JSONSerialization yields NSNumber; reject fractions, negatives and values past 2^53.
            guard let n = v as? NSNumber, !(v is String) else {
                throw SafetensorsError.invalidHeader(file: file, field: field, reason: "\(v) is not a non-negative integer")
            }
            let d = n.doubleValue
            guard d >= 0, d == d.rounded(), d < 9_007_199_254_740_992 else {
                throw SafetensorsError.invalidHeader(file: file, field: field, reason: "\(v) is not a non-negative integer")
            }
            let i = Int(d)
            return i
        }
    }
}
