// The two versions of δ's random streams (docs/method.md §3). v1 draws δ0 from the run's sequential generator,
// so the numbers an example gets depend on the batch it is in; v2 keys them by (draw, global element index),
// so a rank holding a slice of a batch draws exactly what one process holding the whole batch would.
import Foundation
import FreeLBTensor

/// How δ's random numbers are drawn. v1 reproduces every run made before v2 existed (the default); v2 is what
/// data-parallel training (mpirun -np N > 1) uses, and gives the same run for every N.
public enum RandomStreams: String, Codable, CaseIterable, Sendable {
    case v1, v2
}

/// Counter-based random numbers for one draw: value i is a function of (`seed`, `offset` + i) alone
/// (SplitMix64 of the counter), so any slice of a draw can be computed without the rest.
public struct KeyedStream: Sendable {
    /// One value per draw from the run's generator (the same on every rank).
    public let seed: UInt64
    /// The global index of this process's first element: first example in the global batch × elements per example.
    public let offset: Int

    public init(seed: UInt64, offset: Int) {
        self.seed = seed
        self.offset = offset
    }

    @inline(__always) func bits(_ counter: UInt64) -> UInt64 {
        var z = seed &+ (counter &+ 1) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// U[0, 1) with 24 random bits, element i.
    @inline(__always) public func uniform(_ i: Int) -> Float {
        Float(bits(UInt64(offset + i)) >> 40) * (1.0 / 16_777_216.0)
    }

    /// N(0, 1) (Box–Muller on counters 2k and 2k+1, k the global element index), element i.
    public func normal(_ i: Int) -> Float {
        let k = UInt64(offset + i) &* 2
        let u1 = max(Double(bits(k) >> 11) * (1.0 / 9_007_199_254_740_992.0), 1e-300)
        let u2 = Double(bits(k + 1) >> 11) * (1.0 / 9_007_199_254_740_992.0)
        return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
    }

    /// U(low, high) values of `shape`.
    public func uniform(_ shape: [Int], low: Float, high: Float) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        let width = high - low
        for i in 0..<t.count { t.data[i] = low + width * uniform(i) }
        return t
    }

    /// N(0, 1) values of `shape`.
    public func normal(_ shape: [Int]) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        for i in 0..<t.count { t.data[i] = normal(i) }
        return t
    }
}
