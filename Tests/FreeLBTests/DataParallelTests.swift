// Data parallelism without MPI: the slices of a batch partition it with weights that sum to 1, and the weighted
// gradients of the slices (random streams v2: dropout masks and δ0 keyed per global example) sum to the whole
// batch's gradient, which is what the allreduce of N ranks computes (the mpirun tests are in FreeLBCLITests).
import XCTest
@testable import FreeLB
import FreeLBModels
import FreeLBNN
import FreeLBTensor

final class DataParallelTests: XCTestCase {
    func testSlicesPartitionTheBatchWithWeightsSummingToOne() {
        let batch = TinyTask.batches(count: 7, batchSize: 7)[0]
        for ranks in 1...9 {
            let slices = (0..<ranks).map { batch.shard(rank: $0, of: ranks) }
            let real = slices.filter { $0.lossWeight > 0 }
            XCTAssertEqual(real.flatMap(\.input.inputIds), batch.input.inputIds, "\(ranks) ranks")
            XCTAssertEqual(real.map(\.firstExample), real.indices.map { i in real[..<i].reduce(0) { $0 + $1.exampleCount } })
            XCTAssertEqual(slices.reduce(0) { $0 + $1.lossWeight }, 1, accuracy: 1e-6)
            // A rank without an example gets one with weight 0 (it runs the same passes and adds nothing).
            XCTAssertEqual(slices.count - real.count, max(0, ranks - 7))
            XCTAssertTrue(slices.allSatisfy { $0.exampleCount >= 1 })
        }
    }

    func testDropoutMaskOfASliceIsTheWholeBatchMaskRows() {
        let rows = 5, width = 12
        let whole = DropoutMask(shape: [rows, width], probability: 0.3, seed: 99)
        let slice = DropoutMask(shape: [2, width], probability: 0.3, seed: 99, counterOffset: 3 * width)
        XCTAssertEqual(slice.values.scalars, Array(whole.values.scalars[(3 * width)..<(5 * width)]))
    }

    /// The gradient one process computes for a FreeLB-3 step on 8 examples equals the sum of the gradients of the
    /// slices 0..<3, 3..<6 and 6..<8, each computed alone from the same state (as three ranks would).
    func testWeightedSliceGradientsSumToTheWholeBatchGradient() throws {
        let batch = TinyTask.batches(count: 8, batchSize: 8)[0]
        let method = try FreeLBStep(
            perturbation: PerturbationConfig(norm: .l2, initMagnitude: 0.5, radius: 1, stepSize: 0.1), steps: 3)
        func gradients(of microBatch: TrainingBatch) -> [String: [Float]] {
            let model = TinyTask.model(seed: 1, dropout: 0.1)
            let state = TrainingState(model: model, optimizer: AdamW(learningRate: 1e-3), maxGradNorm: 0, seed: 3)
            state.randomStreams = .v2
            state.trace = StepTrace()
            _ = method.step([microBatch], state: state)
            return state.trace!.gradients[0]
        }
        let whole = gradients(of: batch)
        let slices = (0..<3).map { gradients(of: batch.shard(rank: $0, of: 3)) }
        var difference = 0.0, norm = 0.0
        for (name, g) in whole {
            for (i, value) in g.enumerated() {
                let summed = slices.reduce(Float(0)) { $0 + $1[name]![i] }
                difference += Double(summed - value) * Double(summed - value)
                norm += Double(value) * Double(value)
            }
        }
        XCTAssertGreaterThan(norm, 0)
        XCTAssertLessThan((difference / norm).squareRoot(), 1e-5)
    }

    /// v2 changes only δ's draws: vanilla (no δ) trains the same with both, bit for bit.
    func testStreamVersionsAgreeWhereNoDeltaIsDrawn() {
        func parameters(_ streams: RandomStreams) -> [Float] {
            let model = TinyTask.model(seed: 1, dropout: 0.1)
            let state = TrainingState(model: model, optimizer: AdamW(learningRate: 1e-3), seed: 3)
            state.randomStreams = streams
            for batch in TinyTask.batches(count: 16, batchSize: 8) { _ = VanillaStep().step([batch], state: state) }
            return model.namedParameters().flatMap { $0.1.scalars }
        }
        XCTAssertEqual(parameters(.v1), parameters(.v2))
    }
}
