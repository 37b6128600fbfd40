// BLAS bridge: OpenBLAS (cblas) on Linux, Accelerate on macOS. Row-major single precision only.
#if canImport(Accelerate)
    import Accelerate
#else
    import COpenBLAS
#endif

public enum BLAS {
    /// C[m, n] = alpha · op(A) · op(B) + beta · C, row-major.
    /// op(A) is [m, k] (A stored [k, m] when `transA`), op(B) is [k, n] (B stored [n, k] when `transB`).
    @inline(__always)
    public static func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        #if canImport(Accelerate)
            cblas_sgemm(
                CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        #else
            cblas_sgemm(
                CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
        #endif
    }

    /// Threads BLAS may use for one call. Accelerate manages its own threads.
    public static func setThreadCount(_ count: Int) {
        #if !canImport(Accelerate)
            openblas_set_num_threads(Int32(max(1, count)))
        #endif
    }

    public static var threadCount: Int {
        #if canImport(Accelerate)
            return ComputeThreads.count
        #else
            return Int(openblas_get_num_threads())
        #endif
    }
}
