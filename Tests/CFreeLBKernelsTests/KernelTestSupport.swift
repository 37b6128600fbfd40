// Shared helpers for the C kernel tests: deterministic inputs, ISA variants, error measures.
import CFreeLBKernels
import XCTest

/// splitmix64: deterministic test inputs without Foundation randomness.
struct TestRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    mutating func float(_ lo: Float, _ hi: Float) -> Float {
        lo + (hi - lo) * Float(next() >> 40) / Float(1 << 24)
    }
    mutating func floats(_ n: Int, _ lo: Float = -1, _ hi: Float = 1) -> [Float] {
        (0..<n).map { _ in float(lo, hi) }
    }
}

/// Element counts that exercise empty-ish, sub-vector, vector + tail and long inputs.
let oddSizes = [1, 7, 17, 1000, 4099]
/// [rows, cols] shapes for the row kernels: tails (7), BERT hidden (384), sequence length (128).
let rowShapes: [(rows: Int, cols: Int)] = [(3, 7), (5, 384), (13, 128), (4, 33)]

/// Runs `body` once per kernel variant this CPU has ("avx512", "avx2", "generic"), then restores the
/// best one. Every variant must meet the same tolerances.
func forEachISA(_ body: (String) throws -> Void) rethrows {
    defer { _ = flb_kernel_select_isa(nil) }
    for isa in ["avx512", "avx2", "generic"] where flb_kernel_select_isa(isa) == 1 {
        try body(isa)
    }
}

/// max_i |got_i − want_i| / max(floor, |want_i|)
func maxScaledError(_ got: [Float], _ want: [Double], floor: Double) -> (error: Double, index: Int) {
    var worst = 0.0, at = -1
    for i in 0..<want.count {
        let e = abs(Double(got[i]) - want[i]) / max(floor, abs(want[i]))
        if e > worst || e.isNaN { worst = e.isNaN ? .infinity : e; at = i }
    }
    return (worst, at)
}
