import Foundation

/// Everything that can go wrong reading or writing a `.safetensors` file.
/// Each case names the file and, where there is one, the tensor or header field.
public enum SafetensorsError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// The file could not be opened, stat'ed or mapped (errno text in `reason`).
    case cannotOpen(file: String, reason: String)
    /// Fewer bytes than the format needs (the 8-byte length prefix or the header itself).
    case truncated(file: String, fileSize: Int, needed: Int, what: String)
    /// The 8-byte header length is larger than the file or than `SafetensorsFile.maxHeaderBytes`.
    case headerTooLarge(file: String, headerLength: UInt64, fileSize: Int, limit: Int)
    /// The header is not UTF-8 JSON, not an object, or a field has the wrong type.
    case invalidHeader(file: String, field: String?, reason: String)
    /// `dtype` is not one of the safetensors dtype names.
    case unknownDtype(file: String, tensor: String, dtype: String)
    /// `data_offsets` reach past the byte buffer, or begin > end.
    case offsetsOutOfBounds(file: String, tensor: String, begin: Int, end: Int, bufferSize: Int)
    /// The product of `shape` times the dtype size differs from `end - begin`.
    case shapeByteMismatch(file: String, tensor: String, shape: [Int], dtype: String, expectedBytes: Int, actualBytes: Int)
    /// Tensor byte ranges overlap, leave a gap, or do not cover the buffer exactly.
    case nonContiguousOffsets(file: String, tensor: String, reason: String)
    /// The file has no tensor with this name.
    case tensorNotFound(file: String, tensor: String)
    /// Asked for floats from an integer/bool tensor (or vice versa).
    case unsupportedConversion(file: String, tensor: String, dtype: String, to: String)
    /// A destination buffer has the wrong element count.
    case destinationSizeMismatch(file: String, tensor: String, expected: Int, actual: Int)
    /// Writer input is invalid (duplicate name, values count != product(shape), reserved name).
    case invalidTensor(file: String, tensor: String, reason: String)
    /// A system call failed while writing (errno text in `reason`).
    case writeFailed(file: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(file, reason):
            return "\(file): cannot open safetensors file: \(reason)"
        case let .truncated(file, size, needed, what):
            return "\(file): truncated safetensors file: \(what) needs \(needed) bytes but the file has \(size)"
        case let .headerTooLarge(file, len, size, limit):
            return
                "\(file): header length \(len) is absurd (file size \(size) bytes, limit \(limit) bytes); not a safetensors file or corrupted"
        case let .invalidHeader(file, field, reason):
            return "\(file): invalid safetensors header\(field.map { " at '\($0)'" } ?? ""): \(reason)"
        case let .unknownDtype(file, tensor, dtype):
            return "\(file): tensor '\(tensor)': unknown dtype '\(dtype)'"
        case let .offsetsOutOfBounds(file, tensor, b, e, size):
            return
                "\(file): tensor '\(tensor)': data_offsets [\(b), \(e)] are outside the \(size)-byte data buffer (file truncated or header corrupted)"
        case let .shapeByteMismatch(file, tensor, shape, dtype, exp, act):
            return "\(file): tensor '\(tensor)': shape \(shape) of \(dtype) needs \(exp) bytes but data_offsets span \(act) bytes"
        case let .nonContiguousOffsets(file, tensor, reason):
            return "\(file): tensor '\(tensor)': \(reason)"
        case let .tensorNotFound(file, tensor):
            return "\(file): no tensor named '\(tensor)'"
        case let .unsupportedConversion(file, tensor, dtype, to):
            return "\(file): tensor '\(tensor)' has dtype \(dtype), which cannot be read as \(to)"
        case let .destinationSizeMismatch(file, tensor, exp, act):
            return "\(file): tensor '\(tensor)' has \(exp) elements but the destination holds \(act)"
        case let .invalidTensor(file, tensor, reason):
            return "\(file): cannot write tensor '\(tensor)': \(reason)"
        case let .writeFailed(file, reason):
            return "\(file): write failed: \(reason)"
        }
    }

    public var errorDescription: String? { description }
}
