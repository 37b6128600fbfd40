// Threaded wrappers over the SIMD C kernels: split elements (or rows) over ComputeThreads.
import CFreeLBKernels
import FreeLBBLAS

enum Kernels {
    static let elementChunk = 1 << 15

    @inline(__always)
    static func elementwise(_ n: Int, _ body: (Int, Int) -> Void) {
        ComputeThreads.parallelFor(n, minChunk: elementChunk) { r in body(r.lowerBound, r.count) }
    }

    /// Splits rows so that each chunk holds at least ~elementChunk elements.
    @inline(__always)
    static func rowwise(_ rows: Int, _ cols: Int, _ body: (Int, Int) -> Void) {
        ComputeThreads.parallelFor(rows, minChunk: max(1, elementChunk / max(1, cols))) { r in
            body(r.lowerBound, r.count)
        }
    }

    static func addInPlace(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
        elementwise(n) { s, c in flb_add_inplace(y + s, x + s, c) }
    }
    static func scale(_ x: UnsafePointer<Float>, _ a: Float, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        elementwise(n) { s, c in flb_scale(x + s, a, y + s, c) }
    }
    static func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        elementwise(n) { s, c in flb_axpy(a, x + s, y + s, c) }
    }
    typealias Binary = (UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void
    static func binary(
        _ f: Binary, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        _ y: UnsafeMutablePointer<Float>, _ n: Int
    ) {
        elementwise(n) { s, c in f(a + s, b + s, y + s, c) }
    }
    typealias Unary = (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void
    static func unary(_ f: Unary, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        elementwise(n) { s, c in f(x + s, y + s, c) }
    }
    static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Double { flb_sum(x, n) }
}
