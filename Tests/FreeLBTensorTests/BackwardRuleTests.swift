import XCTest
@testable import FreeLBTensor

/// Every backward rule against central finite differences (tolerance derivation in GradientCheck.swift).
final class BackwardRuleTests: XCTestCase {
    func testMatmulAllTransposes() {
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let a = randomTensor(ta ? [5, 3] : [3, 5], seed: 1), b = randomTensor(tb ? [4, 5] : [5, 4], seed: 2)
            checkGradients("matmul ta=\(ta) tb=\(tb)", inputs: [a, b]) {
                $0[0].matmul($0[1], transposeSelf: ta, transposeOther: tb)
            }
        }
        let a3 = randomTensor([2, 3, 5], seed: 3), b = randomTensor([5, 4], seed: 4)
        checkGradients("matmul with leading axes", inputs: [a3, b]) { $0[0].matmul($0[1]) }
    }

    func testBatchedMatmulAllTransposes() {
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let a = randomTensor(ta ? [3, 5, 2] : [3, 2, 5], seed: 5), b = randomTensor(tb ? [3, 4, 5] : [3, 5, 4], seed: 6)
            checkGradients("batchedMatmul ta=\(ta) tb=\(tb)", inputs: [a, b]) {
                $0[0].batchedMatmul($0[1], transposeSelf: ta, transposeOther: tb)
            }
        }
    }

    func testLinear() {
        let x = randomTensor([2, 3, 5], seed: 7), w = randomTensor([4, 5], seed: 8), b = randomTensor([4], seed: 9)
        checkGradients("linear", inputs: [x, w, b]) { $0[0].linear(weight: $0[1], bias: $0[2]) }
        checkGradients("linear without bias", inputs: [x, w]) { $0[0].linear(weight: $0[1], bias: nil) }
    }

    func testBinaryOpsSameShapeAndBroadcast() {
        let a = randomTensor([2, 3, 4], seed: 10)
        let b = randomTensor([2, 3, 4], seed: 11, low: 0.5, high: 1.5)
        let row = randomTensor([4], seed: 12, low: 0.5, high: 1.5)
        let middle = randomTensor([2, 1, 4], seed: 13, low: 0.5, high: 1.5)
        let scalar = randomTensor([1], seed: 14, low: 0.5, high: 1.5)
        for other in [b, row, middle, scalar] {
            checkGradients("add \(other.shape)", inputs: [a, other]) { $0[0] + $0[1] }
            checkGradients("sub \(other.shape)", inputs: [a, other]) { $0[0] - $0[1] }
            checkGradients("mul \(other.shape)", inputs: [a, other]) { $0[0] * $0[1] }
            checkGradients("div \(other.shape)", inputs: [a, other]) { $0[0] / $0[1] }
        }
        checkGradients("broadcast on the left", inputs: [row, a]) { $0[0] * $0[1] }
    }

    func testSameTensorUsedTwiceAccumulates() {
        let a = randomTensor([7], seed: 15)
        checkGradients("x*x", inputs: [a]) { $0[0] * $0[0] }
    }

    func testScalarOps() {
        let a = randomTensor([3, 4], seed: 16)
        checkGradients("scaled", inputs: [a]) { $0[0].scaled(by: -2.5) }
        checkGradients("adding", inputs: [a]) { $0[0].adding(3) }
        checkGradients("negate", inputs: [a]) { -$0[0] }
    }

    func testActivations() {
        let a = randomTensor([4, 9], seed: 17, low: -3, high: 3)
        checkGradients("gelu", inputs: [a]) { $0[0].gelu() }
        checkGradients("geluTanh", inputs: [a]) { $0[0].geluTanh() }
        checkGradients("tanh", inputs: [a]) { $0[0].tanh() }
        // ReLU: keep entries away from the kink at 0 so the central difference is valid.
        let away = Tensor(shape: [6], values: [-2, -0.5, -0.1, 0.1, 0.7, 3])
        checkGradients("relu", inputs: [away]) { $0[0].relu() }
    }

    func testSoftmaxFamily() {
        let x = randomTensor([2, 3, 5], seed: 18, low: -2, high: 2)
        checkGradients("softmax", inputs: [x]) { $0[0].softmax() }
        checkGradients("softmax scaled", inputs: [x]) { $0[0].softmax(scale: 0.37) }
        let mask = Tensor(shape: [2, 5], values: [0, 0, 0, -1e30, -1e30, 0, 0, 0, 0, -1e30])
        checkGradients("softmax masked", inputs: [x]) { $0[0].softmax(scale: 0.5, additiveMask: mask) }
        checkGradients("logSoftmax", inputs: [x]) { $0[0].logSoftmax() }
    }

    func testLosses() {
        let logits = randomTensor([4, 3], seed: 19, low: -2, high: 2)
        checkGradients("crossEntropy", inputs: [logits]) { $0[0].crossEntropy(labels: [2, 0, 1, 1]) }
        checkGradients("crossEntropy ignoring −100", inputs: [logits]) { $0[0].crossEntropy(labels: [2, -100, 1, 0]) }
        checkGradients("crossEntropyPerExample", inputs: [logits]) { $0[0].crossEntropyPerExample(labels: [2, 0, 1, 1]) }
        checkGradients("crossEntropyPerExample ignoring −100", inputs: [logits]) {
            $0[0].crossEntropyPerExample(labels: [2, -100, 1, 0])
        }
        // the per-example losses average to the mean loss, and an ignored row is 0
        let rows = withNoGrad { logits.crossEntropyPerExample(labels: [2, -100, 1, 0]) }
        let mean = withNoGrad { logits.crossEntropy(labels: [2, -100, 1, 0]) }
        XCTAssertEqual(rows.data[1], 0)
        XCTAssertEqual((rows.data[0] + rows.data[2] + rows.data[3]) / 3, mean.item, accuracy: 1e-6)
        let pred = randomTensor([4, 1], seed: 20)
        checkGradients("meanSquaredError", inputs: [pred]) { $0[0].meanSquaredError(target: [0.5, -1, 2, 0]) }
    }

    func testLayerNorm() {
        let x = randomTensor([3, 2, 6], seed: 21, low: -2, high: 2)
        let gamma = randomTensor([6], seed: 22, low: 0.5, high: 1.5), beta = randomTensor([6], seed: 23)
        checkGradients("layerNorm", inputs: [x, gamma, beta]) { $0[0].layerNorm(gamma: $0[1], beta: $0[2], eps: 1e-5) }
    }

    func testGatherScatterAdd() {
        let table = randomTensor([6, 4], seed: 24)
        let ids: [Int32] = [1, 3, 1, 0, 5, 3]  // repeats accumulate; row 0 is padding
        checkGradients("gather", inputs: [table]) { $0[0].gather(ids: ids, shape: [2, 3]) }
        table.zeroGrad()
        table.gather(ids: ids, shape: [2, 3], paddingIndex: 0).sum().backward()
        XCTAssertEqual(Array(table.grad!.scalars[0..<4]), [0, 0, 0, 0], "padding row gets no gradient")
        XCTAssertEqual(table.grad!.data[4], 2, "row 1 used twice → gradient 2")
    }

    func testDropoutWithFixedMask() {
        let x = randomTensor([3, 8], seed: 25)
        let mask = DropoutMask(shape: [3, 8], probability: 0.25, seed: 7)
        checkGradients("dropout", inputs: [x]) { $0[0].dropout(mask) }
    }

    func testShapeOps() {
        let x = randomTensor([2, 3, 4], seed: 26)
        checkGradients("reshape", inputs: [x]) { $0[0].reshaped([4, -1]) * $0[0].reshaped([4, 6]) }
        checkGradients("permute", inputs: [x]) { $0[0].permuted([2, 0, 1]) }
        checkGradients("transpose", inputs: [x]) { $0[0].transposed(0, 1) }
        checkGradients("select", inputs: [x]) { $0[0].select(axis: 1, index: 0) }
        checkGradients("slice", inputs: [x]) { $0[0].slice(axis: 2, range: 1..<3) }
        let y = randomTensor([2, 2, 4], seed: 27)
        checkGradients("concat", inputs: [x, y]) { Tensor.concat([$0[0], $0[1]], axis: 1) }
    }

    func testReductions() {
        let x = randomTensor([3, 4, 2], seed: 28)
        checkGradients("sum", inputs: [x]) { $0[0].sum() }
        checkGradients("mean", inputs: [x]) { $0[0].mean() }
        checkGradients("sum axis 1", inputs: [x]) { $0[0].sum(axis: 1) }
        checkGradients("mean axis 2 keepdim", inputs: [x]) { $0[0].mean(axis: 2, keepingDimension: true) }
        checkGradients("perExampleNorm", inputs: [x]) { $0[0].perExampleNorm() }
        // max-abs: one clear maximum per example, far from ties.
        let m = Tensor(shape: [2, 3], values: [0.1, -2.0, 0.5, 1.5, 0.2, -0.3])
        checkGradients("perExampleMaxAbs", inputs: [m]) { $0[0].perExampleMaxAbs() }
    }

    func testFusedAttention() {
        let (b, t, h, heads) = (2, 5, 8, 2)
        let q = randomTensor([b, t, h], seed: 29), k = randomTensor([b, t, h], seed: 30), v = randomTensor([b, t, h], seed: 31)
        let mask = Tensor(shape: [b, t], values: [0, 0, 0, 0, -1e30, 0, 0, 0, -1e30, -1e30])
        checkGradients("attention", inputs: [q, k, v]) {
            multiHeadAttention(query: $0[0], key: $0[1], value: $0[2], heads: heads, keyMask: mask).context
        }
        let drop = DropoutMask(shape: [b, heads, t, t], probability: 0.3, seed: 3)
        checkGradients("attention with dropout", inputs: [q, k, v]) {
            multiHeadAttention(query: $0[0], key: $0[1], value: $0[2], heads: heads, keyMask: mask, dropout: drop).context
        }
    }

    func testFusedAttentionEqualsUnfusedOps() {
        let (b, t, h, heads) = (2, 4, 6, 3)
        let dh = h / heads
        let q = randomTensor([b, t, h], seed: 32), k = randomTensor([b, t, h], seed: 33), v = randomTensor([b, t, h], seed: 34)
        let mask = Tensor(shape: [b, t], values: [0, 0, 0, -1e30, 0, 0, 0, 0])
        let fused = multiHeadAttention(query: q, key: k, value: v, heads: heads, keyMask: mask).context
        func split(_ x: Tensor) -> Tensor { x.reshaped([b, t, heads, dh]).permuted([0, 2, 1, 3]).reshaped([b * heads, t, dh]) }
        let scores = split(q).batchedMatmul(split(k), transposeOther: true).reshaped([b, heads, t, t])
        let p = scores.softmax(scale: 1 / Float(dh).squareRoot(), additiveMask: mask).reshaped([b * heads, t, t])
        let unfused = p.batchedMatmul(split(v)).reshaped([b, heads, t, dh]).permuted([0, 2, 1, 3]).reshaped([b, t, h])
        for i in 0..<fused.count { XCTAssertEqual(fused.data[i], unfused.data[i], accuracy: 1e-6) }
    }
}
