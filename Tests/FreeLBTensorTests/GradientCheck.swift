import XCTest
@testable import FreeLBTensor

/// Central finite-difference check of every input's gradient.
///
/// The scalar checked is L = Σ w ⊙ f(x) with fixed random weights w, so every output element matters.
/// Tolerance: f runs in float32 (relative round-off ~1e-7). With step h = 1e-2 the truncation error is
/// O(h²·f''') ≈ 1e-4 and round-off/h ≈ 1e-7·|L|/(2h) ≈ 5e-5 for |L| ~ 10, so |analytic − numeric|
/// ≤ 2e-3 + 2e-2·|numeric| has a wide margin for a correct rule and catches any wrong one (off by a
/// factor, transposed, missing term).
func checkGradients(
    _ name: String, inputs: [Tensor], step: Float = 1e-2, atol: Float = 2e-3, rtol: Float = 2e-2,
    file: StaticString = #filePath, line: UInt = #line, _ f: ([Tensor]) -> Tensor
) {
    for t in inputs { t.requiringGrad(); t.zeroGrad() }
    var generator = SeededGenerator(seed: 99)
    let probe = f(inputs)
    let weights = Tensor.uniform(probe.shape, low: -1, high: 1, generator: &generator)
    func loss() -> Double {
        let out = withNoGrad { f(inputs) }
        var total = 0.0
        for i in 0..<out.count { total += Double(out.data[i]) * Double(weights.data[i]) }
        return total
    }
    (probe * weights).sum().backward()
    for (index, t) in inputs.enumerated() {
        guard let grad = t.grad else { XCTFail("\(name): input \(index) got no gradient", file: file, line: line); continue }
        var worst: Float = 0
        for i in 0..<t.count {
            let saved = t.data[i]
            t.data[i] = saved + step
            let plus = loss()
            t.data[i] = saved - step
            let minus = loss()
            t.data[i] = saved
            let numeric = Float((plus - minus) / Double(2 * step))
            let analytic = grad.data[i]
            let excess = abs(analytic - numeric) - (atol + rtol * abs(numeric))
            worst = max(worst, excess)
            if excess > 0 {
                XCTFail("\(name): input \(index)[\(i)] analytic \(analytic) vs numeric \(numeric)", file: file, line: line)
                break
            }
        }
    }
}

func randomTensor(_ shape: [Int], seed: UInt64, low: Float = -1, high: Float = 1) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    return Tensor.uniform(shape, low: low, high: high, generator: &generator)
}
