// Mixed precision as PyTorch's CPU autocast does it: with `.bf16`, linear layers and 2-D products round
// their inputs to bf16 and accumulate in fp32 (oneDNN's matmul); weights, gradients, optimizer state,
// softmax, LayerNorm, losses and δ stay fp32.
import FreeLBBLAS

/// The precision of the engine's matrix products.
public enum Precision: String, CaseIterable, Sendable, Codable {
    case fp32, bf16
}

public enum MixedPrecision {
    /// The precision new products use (process-wide; set before building a graph).
    nonisolated(unsafe) public private(set) static var precision: Precision = .fp32

    /// Switches the engine's products to `precision`. bf16 needs a CPU with AVX512-BF16 and oneDNN;
    /// without them this throws `BF16Unavailable` (the engine refuses rather than emulating).
    public static func setPrecision(_ newPrecision: Precision) throws {
        if newPrecision == .bf16 { try BF16GEMM.load() }
        precision = newPrecision
    }

    /// Runs `body` at `newPrecision`, then restores the previous precision.
    public static func withPrecision<R>(_ newPrecision: Precision, _ body: () throws -> R) throws -> R {
        let previous = precision
        try setPrecision(newPrecision)
        defer { precision = previous }
        return try body()
    }

    /// Whether bf16 can run here, and why not.
    public static var bf16Unavailability: BF16Unavailable? {
        do {
            try BF16GEMM.load()
            return nil
        } catch let error as BF16Unavailable { return error } catch { return BF16Unavailable(reason: "\(error)") }
    }

    nonisolated(unsafe) static var leafEpoch: UInt64 = 1
    nonisolated(unsafe) static var cachingLeaves = false

    /// Inside `body`, the bf16 copy of a leaf tensor (a weight) is made once and reused, so the K passes of a
    /// training step convert each weight once. Leaves must not change inside `body` except through an
    /// optimizer step, which calls `invalidateLeafCasts()`. Outside such a scope leaves are converted at
    /// every use; op outputs (immutable) are converted once either way.
    public static func cachingLeafCasts<R>(_ body: () throws -> R) rethrows -> R {
        let outer = cachingLeaves
        cachingLeaves = true
        leafEpoch &+= 1
        defer {
            cachingLeaves = outer
            leafEpoch &+= 1
        }
        return try body()
    }

    /// Drops every cached bf16 copy of a leaf (the optimizers call this after updating weights).
    public static func invalidateLeafCasts() { leafEpoch &+= 1 }
}

/// A tensor's values rounded to bf16 (bit patterns in a buffer of half the size).
final class BF16Copy {
    let storage: TensorStorage
    /// The leaf-cast epoch it was made in; 0 for op outputs, which never change.
    let epoch: UInt64

    init(rounding source: UnsafePointer<Float>, count: Int, epoch: UInt64) {
        storage = TensorStorage(count: (count + 1) / 2)
        self.epoch = epoch
        let destination = pointer
        Kernels.elementwise(count) { start, n in BF16GEMM.round(source + start, into: destination + start, count: n) }
    }

    /// A buffer for `count` bf16 values, filled by the caller.
    init(uninitializedCount count: Int) {
        storage = TensorStorage(count: (count + 1) / 2)
        epoch = 0
    }

    var pointer: UnsafeMutablePointer<UInt16> { UnsafeMutableRawPointer(storage.pointer).assumingMemoryBound(to: UInt16.self) }
}

extension Tensor {
    /// The bf16 copy used as a product's input: made on first use and kept with the tensor (op outputs), or
    /// for leaves only inside `MixedPrecision.cachingLeafCasts`.
    func bf16Copy() -> BF16Copy {
        let leaf = isLeaf
        if let cached = bf16Cache,
            !leaf || (MixedPrecision.cachingLeaves && cached.epoch == MixedPrecision.leafEpoch)
        {
            return cached
        }
        let copy = BF16Copy(rounding: data, count: count, epoch: leaf ? MixedPrecision.leafEpoch : 0)
        bf16Cache = (!leaf || MixedPrecision.cachingLeaves) ? copy : nil
        return copy
    }
}
