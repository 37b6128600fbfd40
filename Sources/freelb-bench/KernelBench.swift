// `kernels` subcommand: GEMMs (GemmBench.swift) and GB/s of the C kernels at BERT-small sizes,
// on 1 thread and on ComputeThreads.count threads (rows / elements split with parallelFor).
import CFreeLBKernels
import FreeLBBLAS
import Foundation

struct KernelBenchOptions {
    var json = false
    var reps = 7
    var numpy = true

    struct BadArgument: Error, CustomStringConvertible {
        var description: String
    }

    init(arguments: [String]) throws {
        var i = 0
        while i < arguments.count {
            switch arguments[i] {
            case "--json": json = true
            case "--no-numpy": numpy = false
            case "--reps":
                guard i + 1 < arguments.count, let n = Int(arguments[i + 1]), n > 0 else {
                    throw BadArgument(description: "--reps needs a positive integer")
                }
                reps = n
                i += 1
            default: throw BadArgument(description: "unknown option '\(arguments[i])'")
            }
            i += 1
        }
    }
}

func runKernelBench(_ options: KernelBenchOptions) {
    var reporter = Reporter(json: options.json)
    let threads = ComputeThreads.count
    reporter.say(
        "freelb-bench kernels: \(threads) compute threads, C kernels: \(String(cString: flb_kernel_isa())), "
            + "median of \(options.reps) after 3 warm-ups")
    var numpy: NumpyPeer?
    if options.numpy {
        do { numpy = try NumpyPeer(reps: options.reps) } catch let why as NumpyUnavailable {
            reporter.say("numpy comparison skipped: \(why.reason)")
        } catch {
            reporter.say("numpy comparison skipped: \(error)")
        }
    }
    runGemmBench(reps: options.reps, reporter: &reporter, numpy: numpy)
    numpy = nil  // ends the python process before the kernel timings
    runElementwiseBench(reps: options.reps, reporter: &reporter)
}

/// Pointer box so chunks of a parallelFor can write disjoint ranges.
struct Ptr: @unchecked Sendable {
    let p: UnsafeMutablePointer<Float>
    init(_ p: UnsafeMutablePointer<Float>) { self.p = p }
}

/// Times `body(range)` over `0..<total` items on 1 thread and on `threads` threads; `bytes` is the
/// traffic of the whole range (reads + writes).
private func measureBoth(
    _ group: String, _ name: String, total: Int, elementsPerItem: Int = 1, bytes: Double, reps: Int,
    reporter: inout Reporter, _ body: (Range<Int>) -> Void
) {
    let threads = ComputeThreads.count
    for n in Set([1, threads]).sorted() {
        let t: Double
        if n == 1 {
            t = medianSeconds(reps: reps) { body(0..<total) }
        } else {
            t = medianSeconds(reps: reps) { ComputeThreads.parallelFor(total, minChunk: max(1, total / n)) { body($0) } }
        }
        reporter.emit(
            Measurement(
                group: group, name: name, threads: n, value: bytes / t / 1e9, unit: "GB/s",
                medianMs: t * 1e3,
                note: String(format: "%.3f ns/element per thread", t * 1e9 * Double(n) / Double(total * elementsPerItem))))
    }
}

func runElementwiseBench(reps: Int, reporter: inout Reporter) {
    let group = "C kernels (bytes read + written)"
    // GELU on the FFN activation [4096, 1536].
    let n = 4096 * 1536
    let x = makeBuffer(n, lo: -4, hi: 4, seed: 21), dy = makeBuffer(n, seed: 22), y = Ptr(makeBuffer(n, seed: 23))
    defer { x.deallocate(); dy.deallocate(); y.p.deallocate() }
    measureBoth(group, "gelu erf forward [4096x1536]", total: n, bytes: 8.0 * Double(n), reps: reps, reporter: &reporter) { r in
        flb_gelu_erf_forward(x + r.lowerBound, y.p + r.lowerBound, r.count)
    }
    measureBoth(group, "gelu erf backward [4096x1536]", total: n, bytes: 12.0 * Double(n), reps: reps, reporter: &reporter) { r in
        flb_gelu_erf_backward(x + r.lowerBound, dy + r.lowerBound, y.p + r.lowerBound, r.count)
    }
    measureBoth(group, "gelu tanh forward [4096x1536]", total: n, bytes: 8.0 * Double(n), reps: reps, reporter: &reporter) { r in
        flb_gelu_tanh_forward(x + r.lowerBound, y.p + r.lowerBound, r.count)
    }
    measureBoth(group, "gelu tanh backward [4096x1536]", total: n, bytes: 12.0 * Double(n), reps: reps, reporter: &reporter) {
        r in
        flb_gelu_tanh_backward(x + r.lowerBound, dy + r.lowerBound, y.p + r.lowerBound, r.count)
    }
    measureBoth(group, "dropout mask p=0.9 [4096x1536]", total: n, bytes: 4.0 * Double(n), reps: reps, reporter: &reporter) { r in
        flb_bernoulli_mask(1234, UInt64(r.lowerBound), 0.9, 1 / 0.9, y.p + r.lowerBound, r.count)
    }

    // Softmax over attention scores [32·12·128, 128], key mask [32, 128] shared by 12·128 rows.
    let sCols = attnT, sRows = attnBatch * attnHeads * attnT, rowsPerMask = attnHeads * attnT
    let scores = makeBuffer(sRows * sCols, lo: -8, hi: 8, seed: 31), probs = Ptr(makeBuffer(sRows * sCols, seed: 32))
    let dprobs = makeBuffer(sRows * sCols, seed: 33), dscores = Ptr(makeBuffer(sRows * sCols, seed: 34))
    let mask = makeBuffer(attnBatch * sCols, seed: 35)
    for i in 0..<(attnBatch * sCols) { mask[i] = (i % sCols) < 100 ? 0 : -1e30 }  // last 28 keys padded
    defer { [scores, dprobs, mask].forEach { $0.deallocate() }; probs.p.deallocate(); dscores.p.deallocate() }
    let sBytes = Double(sRows * sCols) * 4
    measureBoth(
        group, "softmax forward, masked [49152x128]", total: sRows, elementsPerItem: sCols, bytes: 2 * sBytes, reps: reps,
        reporter: &reporter
    ) { r in
        // A chunk may start inside a mask block: call per mask block so row / rows_per_mask stays aligned.
        var row = r.lowerBound
        while row < r.upperBound {
            let end = min(r.upperBound, (row / rowsPerMask + 1) * rowsPerMask)
            flb_softmax_forward(
                scores + row * sCols, probs.p + row * sCols, end - row, sCols, 0.176_776_7,
                mask + (row / rowsPerMask) * sCols, rowsPerMask)
            row = end
        }
    }
    measureBoth(
        group, "softmax backward [49152x128]", total: sRows, elementsPerItem: sCols, bytes: 3 * sBytes, reps: reps,
        reporter: &reporter
    ) { r in
        flb_softmax_backward(
            probs.p + r.lowerBound * sCols, dprobs + r.lowerBound * sCols, dscores.p + r.lowerBound * sCols,
            r.count, sCols, 0.176_776_7)
    }

    // LayerNorm over hidden states [4096, 384].
    let lRows = 4096, lCols = 384
    let lx = makeBuffer(lRows * lCols, lo: -2, hi: 3, seed: 41), ly = Ptr(makeBuffer(lRows * lCols, seed: 42))
    let gamma = makeBuffer(lCols, lo: 0.5, hi: 1.5, seed: 43), beta = makeBuffer(lCols, seed: 44)
    let mean = Ptr(makeBuffer(lRows, seed: 45)), rstd = Ptr(makeBuffer(lRows, seed: 46))
    let ldy = makeBuffer(lRows * lCols, seed: 47), ldx = Ptr(makeBuffer(lRows * lCols, seed: 48))
    defer { [lx, gamma, beta, ldy].forEach { $0.deallocate() }; [ly, mean, rstd, ldx].forEach { $0.p.deallocate() } }
    let lBytes = Double(lRows * lCols) * 4
    measureBoth(
        group, "layernorm forward [4096x384]", total: lRows, elementsPerItem: lCols, bytes: 2 * lBytes, reps: reps,
        reporter: &reporter
    ) { r in
        let o = r.lowerBound * lCols
        flb_layernorm_forward(lx + o, gamma, beta, ly.p + o, mean.p + r.lowerBound, rstd.p + r.lowerBound, r.count, lCols, 1e-12)
    }
    measureBoth(
        group, "layernorm backward [4096x384]", total: lRows, elementsPerItem: lCols, bytes: 3 * lBytes, reps: reps,
        reporter: &reporter
    ) { r in
        // Each chunk accumulates its own dgamma / dbeta (the engine reduces per-thread partials).
        var partial = [Float](repeating: 0, count: 2 * lCols)
        partial.withUnsafeMutableBufferPointer { buf in
            let o = r.lowerBound * lCols
            flb_layernorm_backward(
                lx + o, gamma, mean.p + r.lowerBound, rstd.p + r.lowerBound, ldy + o, ldx.p + o,
                buf.baseAddress!, buf.baseAddress! + lCols, r.count, lCols)
        }
    }
}
