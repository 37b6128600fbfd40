// NaN and infinity are never hidden by the kernels: a diverged value must reach the loss, where
// training detects it (issue 15). Compare-and-select min/max used to replace NaN by the bound.
import CFreeLBKernels
import Foundation
import XCTest

final class NonFiniteKernelTests: XCTestCase {
    /// Vectors of `n` ordinary values with a NaN at each interesting position (first lane, mid-vector, tail).
    func poisoned(_ n: Int, at position: Int) -> [Float] {
        var x = (0..<n).map { Float($0 % 7) * 0.25 - 0.75 }
        x[position] = .nan
        return x
    }

    func testActivationsPropagateNaN() {
        forEachISA { isa in
            for n in [1, 17, 1000] {
                for position in Set([0, n / 2, n - 1]) {
                    let x = poisoned(n, at: position)
                    var y = [Float](repeating: 0, count: n)
                    flb_gelu_erf_forward(x, &y, n)
                    XCTAssertTrue(y[position].isNaN, "\(isa) gelu_erf n=\(n) at \(position): \(y[position])")
                    flb_gelu_tanh_forward(x, &y, n)
                    XCTAssertTrue(y[position].isNaN, "\(isa) gelu_tanh n=\(n) at \(position): \(y[position])")
                    XCTAssertTrue(flb_max_abs(x, n).isNaN, "\(isa) max_abs n=\(n) at \(position)")
                }
            }
        }
    }

    func testSoftmaxRowsWithNaNAreNaN() {
        forEachISA { isa in
            for cols in [5, 16, 40] {
                var x = (0..<(2 * cols)).map { Float($0 % 5) }
                x[cols + cols / 2] = .nan  // row 1 only
                var y = [Float](repeating: 0, count: 2 * cols)
                flb_log_softmax_forward(x, &y, 2, cols)
                XCTAssertTrue(y[..<cols].allSatisfy(\.isFinite), "\(isa) cols=\(cols): the clean row changed")
                XCTAssertTrue(y[cols...].allSatisfy(\.isNaN), "\(isa) cols=\(cols): \(Array(y[cols...]))")
                flb_softmax_forward(x, &y, 2, cols, 1, nil, 1)
                XCTAssertTrue(y[cols...].allSatisfy(\.isNaN), "\(isa) softmax cols=\(cols): \(Array(y[cols...]))")
            }
        }
    }

    func testCountNonFinite() {
        forEachISA { isa in
            for n in oddSizes {
                var x = (0..<n).map { Float($0) * 1e30 }  // large but finite, and overflowing squares
                XCTAssertEqual(flb_count_nonfinite(x, n), 0, "\(isa) n=\(n)")
                let marks = Set([0, n / 3, n - 1])
                for (k, i) in marks.enumerated() { x[i] = [Float.nan, .infinity, -.infinity][k % 3] }
                XCTAssertEqual(flb_count_nonfinite(x, n), marks.count, "\(isa) n=\(n)")
            }
        }
    }
}
