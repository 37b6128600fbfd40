// Float32 row-major tensors. A tensor owns (or shares, for reshapes) a 64-byte aligned buffer.
import Foundation
import FreeLBBLAS

/// Aligned float buffer shared by a tensor and its reshaped views. Buffers come from `BufferCache`,
/// so the same-shaped activations of successive passes and steps reuse memory instead of faulting in
/// fresh pages.
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    let capacity: Int

    public init(count: Int) {
        self.count = count
        (pointer, capacity) = BufferCache.shared.take(count)
    }

    deinit { BufferCache.shared.give(pointer, capacity: capacity) }
}

/// Free lists of float buffers by size class (powers of two split into 4 steps, ≤ 19% slack),
/// holding at most `limitBytes` (default 1 GiB, `FREELB_BUFFER_CACHE_MB`); beyond that buffers are freed.
public final class BufferCache: @unchecked Sendable {
    public static let shared = BufferCache()
    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var cachedBytes = 0
    private let lock = NSLock()
    public var limitBytes: Int = {
        if let text = ProcessInfo.processInfo.environment["FREELB_BUFFER_CACHE_MB"], let mb = Int(text) { return mb << 20 }
        return 1 << 30
    }()

    /// The size class (in floats) that holds `count` floats.
    static func sizeClass(_ count: Int) -> Int {
        let n = max(16, count)
        let high = Int.bitWidth - 1 - n.leadingZeroBitCount  // 2^high ≤ n
        if high < 3 { return 16 }
        let step = 1 << (high - 2)
        return (n + step - 1) / step * step
    }

    func take(_ count: Int) -> (UnsafeMutablePointer<Float>, Int) {
        let capacity = Self.sizeClass(count)
        lock.lock()
        if var list = free[capacity], let p = list.popLast() {
            free[capacity] = list
            cachedBytes -= capacity * 4
            lock.unlock()
            return (p, capacity)
        }
        lock.unlock()
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, capacity * MemoryLayout<Float>.stride) == 0, let raw else {
            fatalError("out of memory allocating \(capacity * 4) bytes")
        }
        return (raw.bindMemory(to: Float.self, capacity: capacity), capacity)
    }

    func give(_ pointer: UnsafeMutablePointer<Float>, capacity: Int) {
        lock.lock()
        if cachedBytes + capacity * 4 <= limitBytes {
            free[capacity, default: []].append(pointer)
            cachedBytes += capacity * 4
            lock.unlock()
            return
        }
        lock.unlock()
        Foundation.free(pointer)
    }

    /// Returns every cached buffer to the system.
    public func trim() {
        lock.lock()
        for (_, list) in free { for p in list { Foundation.free(p) } }
        free = [:]
        cachedBytes = 0
        lock.unlock()
    }
}

@inline(__always)
func shapeCheck(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, line: UInt = #line
) {
    if !condition() { preconditionFailure("shape error: \(message())", file: file, line: line) }
}

public final class Tensor: CustomStringConvertible {
    public let shape: [Int]
    public let count: Int
    public let storage: TensorStorage
    /// True for leaves that collect gradients and for every op output computed from one.
    public internal(set) var requiresGrad: Bool
    /// Accumulated gradient of a leaf (nil until the first backward that reaches it).
    public var grad: Tensor?
    /// Human-readable name (parameter path) for diagnostics.
    public var name: String?
    var node: GradNode?
    var gradSlot: Tensor?
    /// bf16 copy for mixed-precision products (see `bf16Copy()`).
    var bf16Cache: BF16Copy?

    public init(storage: TensorStorage, shape: [Int], requiresGrad: Bool = false) {
        let count = shape.reduce(1, *)
        precondition(count <= storage.count, "shape \(shape) exceeds storage of \(storage.count)")
        self.shape = shape
        self.count = count
        self.storage = storage
        self.requiresGrad = requiresGrad
    }

    /// Uninitialised tensor (contents undefined).
    public convenience init(uninitializedShape shape: [Int]) {
        self.init(storage: TensorStorage(count: shape.reduce(1, *)), shape: shape)
    }

    public convenience init(zeros shape: [Int], requiresGrad: Bool = false) {
        self.init(repeating: 0, shape: shape, requiresGrad: requiresGrad)
    }

    public convenience init(repeating value: Float, shape: [Int], requiresGrad: Bool = false) {
        self.init(uninitializedShape: shape)
        self.requiresGrad = requiresGrad
        fill(value)
    }

    public convenience init(shape: [Int], values: [Float], requiresGrad: Bool = false) {
        precondition(values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
        self.init(uninitializedShape: shape)
        self.requiresGrad = requiresGrad
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { data.update(from: base, count: count) }
        }
    }

    public convenience init(scalar: Float) { self.init(shape: [], values: [scalar]) }

    public var data: UnsafeMutablePointer<Float> { storage.pointer }
    public var rank: Int { shape.count }
    public var isLeaf: Bool { node == nil }
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }
    public var item: Float {
        precondition(count == 1, "item() needs one element, shape is \(shape)")
        return data[0]
    }
    public func dim(_ axis: Int) -> Int { shape[axis < 0 ? shape.count + axis : axis] }

    public subscript(flat index: Int) -> Float {
        get { data[index] }
        set {
            bf16Cache = nil
            data[index] = newValue
        }
    }

    public func fill(_ value: Float) {
        bf16Cache = nil
        let p = data
        ComputeThreads.parallelFor(count, minChunk: 1 << 16) { r in
            (p + r.lowerBound).initialize(repeating: value, count: r.count)
        }
    }

    public func copy(from other: Tensor) {
        precondition(other.count == count, "copy: \(other.shape) into \(shape)")
        bf16Cache = nil
        data.update(from: other.data, count: count)
    }

    /// A new leaf holding a copy of the values, outside any graph.
    public func detachedCopy(requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        t.copy(from: self)
        t.requiresGrad = requiresGrad
        return t
    }

    /// Same storage, no graph.
    public func detached() -> Tensor { Tensor(storage: storage, shape: shape) }

    /// Makes this tensor a gradient leaf (parameters, δ).
    @discardableResult
    public func requiringGrad(_ flag: Bool = true) -> Tensor {
        precondition(node == nil, "only leaves can be marked requiresGrad")
        requiresGrad = flag
        return self
    }

    public func zeroGrad() { grad = nil }

    public var description: String {
        let preview = scalars.prefix(8).map { String(format: "%.5g", $0) }.joined(separator: ", ")
        return "Tensor\(shape)[\(preview)\(count > 8 ? ", …" : "")]"
    }
}
