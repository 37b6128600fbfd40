// Data parallelism (docs/scaling.md): every rank reads the same global micro-batches, trains on its contiguous
// slice of each, and sums the gradients over the ranks (bucketed fp32 MPI_Allreduce) before every optimizer
// update; evaluation is split by batch and the logits summed. Weighting each slice's mean loss by its share of
// the batch makes the summed gradient that of the global batch's mean loss, so N ranks train like one process.
import Foundation
import FreeLBModels
import FreeLBNN
import FreeLBTensor

extension TrainingBatch {
    /// Rank `rank`'s slice of this global micro-batch among `ranks`: contiguous examples (the first B mod `ranks`
    /// ranks hold one more), weighted by their share of B. A rank left without examples (B < ranks) gets a copy of
    /// example 0 with weight 0: it makes the same passes and random draws as the others and adds nothing.
    public func shard(rank: Int, of ranks: Int) -> TrainingBatch {
        precondition(ranks >= 1 && (0..<ranks).contains(rank), "rank \(rank) of \(ranks)")
        let total = exampleCount
        let base = total / ranks, extra = total % ranks
        let count = base + (rank < extra ? 1 : 0)
        let first = rank * base + min(rank, extra)
        var part = slice(count > 0 ? first..<(first + count) : 0..<1)
        part.lossWeight = count > 0 ? lossWeight * Float(count) / Float(total) : 0
        part.firstExample = count > 0 ? firstExample + first : 0
        return part
    }

    /// Examples `range` of the batch: input rows ([B, T] or [B, C, T]), choice mask ([B, C]) and labels ([B]).
    func slice(_ range: Range<Int>) -> TrainingBatch {
        let examples = exampleCount
        let perExample = input.inputIds.count / examples
        let tokens = (range.lowerBound * perExample)..<(range.upperBound * perExample)
        var shape = input.shape
        shape[0] = range.count
        var part = EncoderInput(
            inputIds: Array(input.inputIds[tokens]), tokenTypeIds: Array(input.tokenTypeIds[tokens]),
            attentionMask: Array(input.attentionMask[tokens]), shape: shape)
        if let choices = input.choiceMask {
            let perQuestion = choices.count / examples
            part.choiceMask = Array(choices[(range.lowerBound * perQuestion)..<(range.upperBound * perQuestion)])
        }
        switch labels {
        case .classes(let ids): return TrainingBatch(input: part, labels: .classes(Array(ids[range])))
        case .targets(let values): return TrainingBatch(input: part, labels: .targets(Array(values[range])))
        }
    }
}

extension TrainingState {
    /// Floats per allreduce bucket (16 MiB): small gradients are packed into one call, and a gradient at least this
    /// large is reduced in place on its own.
    static let bucketElements = 1 << 22

    /// Sums every parameter's gradient over the ranks in place, in buckets, with this rank's non-finite flag in the
    /// last one; returns whether any rank met a non-finite loss. A parameter without a gradient has none on every
    /// rank (the ranks run the same graph), so it is skipped everywhere.
    func reduceGradients(_ parameters: [Tensor]) -> Bool {
        let started = Date()
        defer { allreduceSeconds += Date().timeIntervalSince(started) }
        if gradientBucket.count != Self.bucketElements { gradientBucket = [Float](repeating: 0, count: Self.bucketElements) }
        var packed: [Tensor] = []
        var used = 0
        func flush() {
            gradientBucket.withUnsafeMutableBufferPointer { bucket in
                collective.allreduceSum(UnsafeMutableBufferPointer(rebasing: bucket[0..<used]))
                var at = 0
                for g in packed {
                    g.data.update(from: bucket.baseAddress! + at, count: g.count)
                    at += g.count
                }
            }
            packed.removeAll(keepingCapacity: true)
            used = 0
        }
        for g in parameters.compactMap(\.grad) {
            if g.count >= Self.bucketElements {
                collective.allreduceSum(UnsafeMutableBufferPointer(start: g.data, count: g.count))
                continue
            }
            if used + g.count > Self.bucketElements - 1 { flush() }  // one slot stays free for the flag
            gradientBucket.withUnsafeMutableBufferPointer { ($0.baseAddress! + used).update(from: g.data, count: g.count) }
            packed.append(g)
            used += g.count
        }
        let flagIndex = used
        gradientBucket[flagIndex] = nonFinite == nil ? 0 : 1
        used += 1
        let bucketFlag = { self.gradientBucket[flagIndex] }
        flush()
        return bucketFlag() > 0
    }
}

/// `evaluate` split over the ranks: batch i runs on rank i mod size, and the logits rows and loss sums are
/// summed over the ranks, so every rank returns what one process evaluating every batch would.
public func evaluate(
    _ model: TransformerClassifier, batches: [TrainingBatch], collective: Collective
) -> (logits: [[Float]], loss: Float) {
    guard collective.size > 1 else { return evaluate(model, batches: batches) }
    let mine = batches.indices.filter { $0 % collective.size == collective.rank }
    var rows: [Int: [[Float]]] = [:]
    var lossSum = 0.0
    for index in mine {
        let (logits, loss) = evaluate(model, batches: [batches[index]])
        rows[index] = logits
        lossSum += Double(loss) * Double(logits.count)
    }
    // Round 1: every batch's logits width (multiple-choice batches may differ in choices).
    var widths = [Double](repeating: 0, count: batches.count)
    for (index, logits) in rows { widths[index] = Double(logits.first?.count ?? 0) }
    widths = collective.allreduceSum(widths)
    // Round 2: all logits in dataset order, each rank filling its batches' rows, plus the loss sum.
    var offsets: [Int] = []
    var total = 0
    for (index, batch) in batches.enumerated() {
        offsets.append(total)
        total += batch.exampleCount * Int(widths[index])
    }
    var values = [Double](repeating: 0, count: total + 1)
    for (index, logits) in rows {
        var at = offsets[index]
        for row in logits {
            for value in row { values[at] = Double(value); at += 1 }
        }
    }
    values[total] = lossSum
    values = collective.allreduceSum(values)
    var result: [[Float]] = []
    for (index, batch) in batches.enumerated() {
        let width = Int(widths[index])
        for r in 0..<batch.exampleCount {
            let start = offsets[index] + r * width
            result.append(values[start..<(start + width)].map { Float($0) })
        }
    }
    return (result, Float(values[total] / Double(max(1, result.count))))
}
