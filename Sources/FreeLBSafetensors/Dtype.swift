/// The dtype names of the safetensors format (`"F32"`, `"BF16"`, ...).
public enum SafetensorsDtype: String, CaseIterable, Sendable {
    case bool = "BOOL"
    case u8 = "U8", i8 = "I8"
    case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"
    case u16 = "U16", i16 = "I16", f16 = "F16", bf16 = "BF16"
    case u32 = "U32", i32 = "I32", f32 = "F32"
    case u64 = "U64", i64 = "I64", f64 = "F64"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .bool, .u8, .i8, .f8e4m3, .f8e5m2: return 1
        case .u16, .i16, .f16, .bf16: return 2
        case .u32, .i32, .f32: return 4
        case .u64, .i64, .f64: return 8
        }
    }

    /// Dtypes that `SafetensorsFile.floats` converts to Float32 (F64 is narrowed).
    public var isReadableAsFloat: Bool {
        switch self {
        case .f32, .f16, .bf16, .f64: return true
        default: return false
        }
    }

    /// Dtypes that `SafetensorsFile.integers` widens to Int64.
    public var isReadableAsInteger: Bool {
        switch self {
        case .bool, .u8, .i8, .u16, .i16, .u32, .i32, .i64: return true
        default: return false
        }
    }
}

/// IEEE 754 binary16 bits -> Float32, exact (every half is representable as a float).
/// Handles signed zero, subnormals (value = m * 2^-24), infinities and NaN (payload kept).
@inlinable
public func float16BitsToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exp = UInt32((h >> 10) & 0x1F)
    let man = UInt32(h & 0x03FF)
    if exp == 0 {
        if man == 0 { return Float(bitPattern: sign) }  // +-0
        // subnormal half: m * 2^-24, exact in float
        let v = Float(man) * 0x1p-24
        return sign != 0 ? -v : v
    }
    if exp == 0x1F {  // inf / NaN
        return Float(bitPattern: sign | 0x7F80_0000 | (man << 13))
    }
    // normal: rebias exponent 15 -> 127
    return Float(bitPattern: sign | ((exp + 112) << 23) | (man << 13))
}

/// bfloat16 bits -> Float32 (the upper 16 bits of a float), exact.
@inlinable
public func bfloat16BitsToFloat(_ b: UInt16) -> Float {
    Float(bitPattern: UInt32(b) << 16)
}
