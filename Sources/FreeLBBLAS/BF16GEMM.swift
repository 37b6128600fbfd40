// bf16 GEMMs (bf16 inputs, fp32 accumulation and output) on oneDNN's matmul, opened at run time.
import CFreeLBDNNL

/// Why bf16 products cannot run here (no AVX512-BF16, no oneDNN).
public struct BF16Unavailable: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { "bf16 precision is unavailable: \(reason)" }
    public init(reason: String) { self.reason = reason }
}

public enum BF16GEMM {
    /// True when this CPU executes AVX512-BF16 instructions natively.
    public static var cpuSupportsBF16: Bool { flb_cpu_has_avx512_bf16() != 0 }

    private static let loadResult: Result<Void, BF16Unavailable> = {
        var reason = [CChar](repeating: 0, count: 512)
        if flb_bf16_load(&reason, Int32(reason.count)) == 0 { return .success(()) }
        return .failure(BF16Unavailable(reason: String(cString: reason)))
    }()

    /// Loads oneDNN once; throws `BF16Unavailable` with the reason when bf16 products cannot run.
    public static func load() throws { try loadResult.get() }

    public static var isAvailable: Bool { (try? loadResult.get()) != nil }

    /// C[m, n] = op(A) op(B) (+ C when `accumulate`, + `bias`[n] on every row when given; not both), row-major;
    /// A, B bf16 bit patterns, C and the bias fp32. op(A) is
    /// [m, k] (A stored [k, m] when `transA`), op(B) is [k, n] (B stored [n, k] when `transB`).
    /// Single-threaded in the calling thread. Call `load()` first.
    @inline(__always)
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<UInt16>, lda: Int, b: UnsafePointer<UInt16>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, bias: UnsafePointer<Float>? = nil
    ) {
        let status = flb_bf16_gemm(
            transA ? 1 : 0, transB ? 1 : 0, m, n, k, a, lda, b, ldb, c, ldc, accumulate ? 1 : 0, bias)
        precondition(status == 0, "oneDNN bf16 matmul \(m)×\(k)×\(n) failed with status \(status)")
    }

    /// oneDNN's implementation for a product shape (e.g. "brg:avx512_core_bf16"), for benchmarks and tests.
    public static func implementation(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, lda: Int, ldb: Int, ldc: Int
    ) -> String {
        var name = [CChar](repeating: 0, count: 256)
        flb_bf16_gemm_implementation(transA ? 1 : 0, transB ? 1 : 0, m, n, k, lda, ldb, ldc, &name, Int32(name.count))
        return String(cString: name)
    }

    /// dst = src rounded to bf16 (nearest, ties to even).
    @inline(__always)
    public static func round(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<UInt16>, count: Int) {
        flb_f32_to_bf16(src, dst, count)
    }

    /// dst = src widened to fp32 (exact).
    public static func widen(_ src: UnsafePointer<UInt16>, into dst: UnsafeMutablePointer<Float>, count: Int) {
        flb_bf16_to_f32(src, dst, count)
    }
}
