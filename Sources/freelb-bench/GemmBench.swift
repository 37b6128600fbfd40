// GEMM GFLOP/s at the shapes a BERT-small layer uses (hidden 384, FFN 1536, 4096 tokens), and the
// per-head attention GEMMs on the [B, T, H] layout; numpy at the same shapes for a same-run ratio.
import FreeLBBLAS
import Foundation

let gemmTokens = 4096
let gemmLayerShapes: [(k: Int, n: Int)] = [(384, 384), (384, 1536), (1536, 384)]
// Attention: B = 32, heads = 12, T = 128, head dim 32, H = 384.
let attnBatch = 32, attnHeads = 12, attnT = 128, attnDh = 32
var attnH: Int { attnHeads * attnDh }

/// Linear layer Y[M,N] = X[M,K]·Wᵀ (W [N,K]) and its backward, named by the layer's (M, K, N).
func linearGemmName(_ kind: String, m: Int, k: Int, n: Int) -> String { "\(kind) \(m)x\(k)x\(n)" }

func runGemmBench(reps: Int, reporter: inout Reporter, numpy: NumpyPeer?) {
    let threads = ComputeThreads.count
    BLAS.setThreadCount(threads)
    let m = gemmTokens
    for (k, n) in gemmLayerShapes {
        let x = makeBuffer(m * k, seed: 1), w = makeBuffer(n * k, seed: 2), dy = makeBuffer(m * n, seed: 3)
        let y = makeBuffer(m * n, seed: 4), dx = makeBuffer(m * k, seed: 5), dw = makeBuffer(n * k, seed: 6)
        defer { [x, w, dy, y, dx, dw].forEach { $0.deallocate() } }
        let flops = 2.0 * Double(m) * Double(k) * Double(n)
        let cases: [(String, String, () -> Void)] = [
            (
                "fwd", "Y = X·Wᵀ (N,T)",
                {
                    BLAS.sgemm(
                        transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a: x, lda: k, b: w, ldb: k, beta: 0, c: y, ldc: n
                    )
                }
            ),
            (
                "dX", "dX = dY·W (N,N)",
                {
                    BLAS.sgemm(
                        transA: false, transB: false, m: m, n: k, k: n, alpha: 1, a: dy, lda: n, b: w, ldb: k, beta: 0, c: dx,
                        ldc: k)
                }
            ),
            (
                "dW", "dW = dYᵀ·X (T,N)",
                {
                    BLAS.sgemm(
                        transA: true, transB: false, m: n, n: k, k: m, alpha: 1, a: dy, lda: n, b: x, ldb: k, beta: 0, c: dw,
                        ldc: k)
                }
            )
        ]
        for (kind, formula, body) in cases {
            let name = linearGemmName(kind, m: m, k: k, n: n)
            let np = numpy?.gflops(name)  // numpy first, then Swift, back to back
            let t = medianSeconds(reps: reps, body)
            let rate = flops / t / 1e9
            var note = formula
            if let np {
                note += String(format: "  numpy %.1f, Swift/numpy %.2f", np, rate / np)
            }
            reporter.emit(
                Measurement(
                    group: "GEMM (OpenBLAS, M×K×N of the Linear layer)", name: name,
                    threads: threads, value: rate, unit: "GFLOP/s", medianMs: t * 1e3, note: note))
        }
    }
    runAttentionGemmBench(reps: reps, reporter: &reporter, numpy: numpy)
    BLAS.setThreadCount(threads)
}

/// Per-head GEMMs with strided pointers into [B, T, H] (lda = H), no copies:
/// scores[b,h] = Q_bh·K_bhᵀ / context_bh = P[b,h]·V_bh. Mode "split": BLAS on 1 thread, heads split
/// over ComputeThreads.parallelFor; mode "blas-mt": heads in sequence, OpenBLAS threads each GEMM.
func runAttentionGemmBench(reps: Int, reporter: inout Reporter, numpy: NumpyPeer?) {
    let threads = ComputeThreads.count
    let b = attnBatch, heads = attnHeads, t = attnT, dh = attnDh, h = attnH
    let q = makeBuffer(b * t * h, seed: 11), kk = makeBuffer(b * t * h, seed: 12), v = makeBuffer(b * t * h, seed: 13)
    let scores = makeBuffer(b * heads * t * t, seed: 14), ctx = makeBuffer(b * t * h, seed: 15)
    defer { [q, kk, v, scores, ctx].forEach { $0.deallocate() } }
    let flops = 2.0 * Double(t * t * dh) * Double(b * heads)

    func scoresHead(_ i: Int) {
        let bi = i / heads, hi = i % heads
        let off = bi * t * h + hi * dh
        BLAS.sgemm(
            transA: false, transB: true, m: t, n: t, k: dh, alpha: 1, a: q + off, lda: h, b: kk + off, ldb: h,
            beta: 0, c: scores + i * t * t, ldc: t)
    }
    func contextHead(_ i: Int) {
        let bi = i / heads, hi = i % heads
        let off = bi * t * h + hi * dh
        BLAS.sgemm(
            transA: false, transB: false, m: t, n: dh, k: t, alpha: 1, a: scores + i * t * t, lda: t, b: v + off, ldb: h,
            beta: 0, c: ctx + off, ldc: h)
    }
    for (name, head) in [
        ("attn scores Q·Kᵀ [384 heads, 128x32x128]", scoresHead), ("attn context P·V [384 heads, 128x128x32]", contextHead)
    ] {
        let np = numpy?.gflops(name.hasPrefix("attn scores") ? "attn scores" : "attn context")
        BLAS.setThreadCount(1)
        let tSplit = medianSeconds(reps: reps) {
            ComputeThreads.parallelFor(b * heads, minChunk: 1) { range in for i in range { head(i) } }
        }
        BLAS.setThreadCount(threads)
        let tBlas = medianSeconds(reps: reps) { for i in 0..<(b * heads) { head(i) } }
        var note = String(format: "heads over threads, BLAS 1 thread; %.2f× OpenBLAS-threaded", tBlas / tSplit)
        if let np { note += String(format: "; numpy matmul %.1f", np) }
        reporter.emit(
            Measurement(
                group: "attention GEMMs (strided heads, lda = 384)", name: name + " split",
                threads: threads, value: flops / tSplit / 1e9, unit: "GFLOP/s", medianMs: tSplit * 1e3, note: note))
        reporter.emit(
            Measurement(
                group: "attention GEMMs (strided heads, lda = 384)", name: name + " blas-mt",
                threads: threads, value: flops / tBlas / 1e9, unit: "GFLOP/s", medianMs: tBlas * 1e3,
                note: "heads in sequence, OpenBLAS threads each GEMM"))
    }
}

// numpy: the same GEMMs (X @ W.T, dY @ W, dY.T @ X into preallocated outputs) and the batched
// attention matmuls, timed the same way (3 warm-ups, median of reps). The script serves one
// measurement per request line on stdin and answers "name<TAB>GFLOP/s", so numpy and Swift run
// each shape back to back and see the same machine load.
private let numpyScript = """
    import sys, time
    import numpy as np
    reps = int(sys.argv[1])
    rng = np.random.default_rng(0)
    cases = {}
    M = \(gemmTokens)
    for K, N in \(gemmLayerShapes.map { "(\($0.k), \($0.n))" }.joined(separator: ", ")),:
        x = rng.standard_normal((M, K), dtype=np.float32); w = rng.standard_normal((N, K), dtype=np.float32)
        dy = rng.standard_normal((M, N), dtype=np.float32)
        y = np.empty((M, N), np.float32); dx = np.empty((M, K), np.float32); dw = np.empty((N, K), np.float32)
        fl = 2.0 * M * K * N
        cases[f"fwd {M}x{K}x{N}"] = ((lambda x=x, w=w, y=y: np.matmul(x, w.T, out=y)), fl)
        cases[f"dX {M}x{K}x{N}"] = ((lambda dy=dy, w=w, dx=dx: np.matmul(dy, w, out=dx)), fl)
        cases[f"dW {M}x{K}x{N}"] = ((lambda dy=dy, x=x, dw=dw: np.matmul(dy.T, x, out=dw)), fl)
    B, Hd, T, D = \(attnBatch), \(attnHeads), \(attnT), \(attnDh)
    q = rng.standard_normal((B, T, Hd, D), dtype=np.float32).transpose(0, 2, 1, 3)
    k = rng.standard_normal((B, T, Hd, D), dtype=np.float32).transpose(0, 2, 3, 1)
    v = rng.standard_normal((B, T, Hd, D), dtype=np.float32).transpose(0, 2, 1, 3)
    s = np.empty((B, Hd, T, T), np.float32); c = np.empty((B, Hd, T, D), np.float32)
    fl = 2.0 * T * T * D * B * Hd
    cases["attn scores"] = ((lambda: np.matmul(q, k, out=s)), fl)
    cases["attn context"] = ((lambda: np.matmul(s, v, out=c)), fl)
    print("ready", flush=True)
    for line in sys.stdin:
        name = line.strip()
        if name not in cases:
            print(name + "\\tnan", flush=True); continue
        f, flops = cases[name]
        f(); f(); f()
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
        ts.sort()
        print(name + "\\t" + repr(flops / ts[len(ts) // 2] / 1e9), flush=True)
    """

/// Path of an executable named `name` on PATH.
func findOnPath(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for dir in path.split(separator: ":") {
        let candidate = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

/// A python3 + numpy child process that times one named GEMM per request.
final class NumpyPeer {
    private let process = Process()
    private let input = Pipe(), output = Pipe(), errors = Pipe()
    private var buffered = Data()

    /// Starts python3 from PATH; fails with the reason when python3 or numpy is missing.
    init(reps: Int) throws {
        guard let python = findOnPath("python3") else { throw NumpyUnavailable(reason: "python3 not found on PATH") }
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", numpyScript, "\(reps)"]
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        do { try process.run() } catch { throw NumpyUnavailable(reason: "cannot run \(python): \(error)") }
        guard readLine() == "ready" else {
            process.waitUntilExit()
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw NumpyUnavailable(
                reason: "python3 + numpy failed: "
                    + (message.split(separator: "\n").last.map(String.init) ?? "exit \(process.terminationStatus)"))
        }
    }

    private func readLine() -> String? {
        while true {
            if let nl = buffered.firstIndex(of: 10) {
                let line = String(decoding: buffered[buffered.startIndex..<nl], as: UTF8.self)
                buffered.removeSubrange(buffered.startIndex...nl)
                return line
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { return nil }
            buffered.append(chunk)
        }
    }

    /// numpy's GFLOP/s for the measurement `name`, or nil if the peer failed.
    /// OpenBLAS worker threads spin for a while after each call (in both processes), so each side
    /// gets a quiet pause before it is timed.
    func gflops(_ name: String) -> Double? {
        usleep(300_000)
        input.fileHandleForWriting.write(Data((name + "\n").utf8))
        guard let line = readLine() else { return nil }
        usleep(300_000)
        let parts = line.split(separator: "\t")
        guard parts.count == 2, parts[0] == name[...], let value = Double(parts[1]), value.isFinite else { return nil }
        return value
    }

    deinit {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}

struct NumpyUnavailable: Error { var reason: String }
