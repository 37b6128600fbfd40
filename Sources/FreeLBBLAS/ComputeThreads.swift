// Thread count for elementwise kernels and BLAS, and a parallel-for over index ranges.
import Foundation
#if canImport(Glibc)
    import Glibc
#endif

public enum ComputeThreads {
    /// `FREELB_NUM_THREADS`, else every core.
    public static let defaultCount: Int = {
        if let text = ProcessInfo.processInfo.environment["FREELB_NUM_THREADS"], let value = Int(text), value > 0 {
            return value
        }
        return ProcessInfo.processInfo.activeProcessorCount
    }()

    /// The engine splits GEMMs over its own threads and keeps BLAS single-threaded, unless
    /// `FREELB_GEMM_SPLIT=0` asks for BLAS's own threading instead.
    public static let splitsGEMMs = ProcessInfo.processInfo.environment["FREELB_GEMM_SPLIT"] != "0"

    nonisolated(unsafe) public private(set) static var count: Int = {
        BLAS.setThreadCount(splitsGEMMs ? 1 : defaultCount)
        return defaultCount
    }()

    /// Sets the engine's thread count (BLAS gets 1 thread when the engine splits GEMMs itself).
    public static func setCount(_ newCount: Int) {
        count = max(1, newCount)
        BLAS.setThreadCount(splitsGEMMs ? 1 : count)
    }

    /// Runs `body(range)` over `0..<total` split into at most `count` contiguous chunks of at least
    /// `minChunk` items each. Runs inline when one chunk suffices.
    @inline(__always)
    public static func parallelFor(_ total: Int, minChunk: Int = 16384, _ body: (Range<Int>) -> Void) {
        if total <= 0 { return }
        let chunks = min(count, max(1, total / max(1, minChunk)))
        if chunks <= 1 {
            body(0..<total)
            return
        }
        let per = (total + chunks - 1) / chunks
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let start = chunk * per
                let end = min(total, start + per)
                if start < end { body(start..<end) }
            }
        }
    }
}
