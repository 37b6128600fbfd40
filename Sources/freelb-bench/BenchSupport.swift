// Timing and reporting shared by the benchmark subcommands.
import Foundation

/// Monotonic seconds.
@inline(__always) func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Runs `body` `warmup` times, then `reps` timed times; returns the median seconds.
func medianSeconds(warmup: Int = 3, reps: Int, _ body: () -> Void) -> Double {
    for _ in 0..<warmup { body() }
    var times: [Double] = []
    times.reserveCapacity(reps)
    for _ in 0..<reps {
        let t0 = now()
        body()
        times.append(now() - t0)
    }
    times.sort()
    return times[times.count / 2]
}

/// One measured rate: GFLOP/s for GEMMs, GB/s (bytes read + written) for kernels.
struct Measurement {
    var group: String
    var name: String
    var threads: Int
    /// The rate, in `unit` (GFLOP/s or GB/s)
    var value: Double
    var unit: String
    /// The median wall time of one call, in milliseconds
    var medianMs: Double
    var note: String = ""

    var json: String {
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        }
        return "{\"group\":\"\(esc(group))\",\"name\":\"\(esc(name))\",\"threads\":\(threads),"
            + "\"value\":\(String(format: "%.3f", value)),\"unit\":\"\(unit)\","
            + "\"median_ms\":\(String(format: "%.4f", medianMs)),\"note\":\"\(esc(note))\"}"
    }
}

/// Prints measurements as they arrive: a table row, or one JSON line.
struct Reporter {
    var json: Bool
    private var lastGroup = ""

    init(json: Bool) { self.json = json }

    mutating func emit(_ m: Measurement) {
        if json {
            print(m.json)
        } else {
            if m.group != lastGroup {
                print("\n== \(m.group)")
                print(
                    pad("name", 44) + pad("threads", 8, right: true) + pad("rate", 12, right: true) + "  unit      "
                        + pad("median ms", 10, right: true) + "  note")
                lastGroup = m.group
            }
            print(
                pad(m.name, 44) + pad("\(m.threads)", 8, right: true) + pad(String(format: "%.1f", m.value), 12, right: true)
                    + "  " + pad(m.unit, 8) + "  " + pad(String(format: "%.3f", m.medianMs), 10, right: true) + "  " + m.note)
        }
        fflush(stdout)
    }

    func say(_ line: String) {
        if !json { print(line); fflush(stdout) }
    }
}

func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
    if s.count >= width { return s }
    let fill = String(repeating: " ", count: width - s.count)
    return right ? fill + s : s + fill
}

/// Deterministic float buffer in [lo, hi), owned by the caller (deallocate when done).
func makeBuffer(_ count: Int, lo: Float = -1, hi: Float = 1, seed: UInt64 = 1) -> UnsafeMutablePointer<Float> {
    let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, count))
    var state = seed &* 0x9E37_79B9_7F4A_7C15
    for i in 0..<count {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        p[i] = lo + (hi - lo) * Float(state >> 40) / Float(1 << 24)
    }
    return p
}
