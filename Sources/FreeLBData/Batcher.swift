import Dispatch
import FreeLBTokenizers

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator whose stream is identical on every platform.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<bound by rejection (no modulo bias), so the result does not depend on the stdlib.
    public mutating func next(below bound: Int) -> Int {
        precondition(bound > 0)
        let b = UInt64(bound)
        let limit = UInt64.max - UInt64.max % b  // accept x < limit
        while true {
            let x = next()
            if x < limit { return Int(x % b) }
        }
    }

    /// Fisher–Yates, from the last element down.
    public mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        var i = a.count - 1
        while i > 0 {
            a.swapAt(i, next(below: i + 1))
            i -= 1
        }
    }
}

/// One padded batch. Flat row-major Int32 arrays.
/// Classification/regression: [B, T]. Multiple choice: [B, C, T] (C = most choices in the batch).
public struct Batch: Sendable, Equatable {
    public var batchSize: Int
    /// C; 1 for classification and regression.
    public var numChoices: Int
    /// T: the longest sequence in the batch.
    public var sequenceLength: Int
    public var inputIds: [Int32]
    public var tokenTypeIds: [Int32]
    public var attentionMask: [Int32]
    /// [B] class ids (classification, or the correct choice); nil for regression or unlabelled data.
    public var labelIds: [Int32]?
    /// [B] regression targets; nil otherwise.
    public var targets: [Float]?
    /// [B, C]: 1 for a real choice, 0 for a filler row (a copy of choice 0) in a question with fewer choices.
    /// Mask filler logits (e.g. to -inf) before the softmax. All ones for non-multiple-choice batches (C = 1).
    public var choiceMask: [Int32]
    /// [B] positions of the examples in the array given to the batcher.
    public var exampleIndices: [Int]

    public var isMultipleChoice: Bool

    public init(
        batchSize: Int, numChoices: Int, sequenceLength: Int, inputIds: [Int32], tokenTypeIds: [Int32],
        attentionMask: [Int32], labelIds: [Int32]?, targets: [Float]?, choiceMask: [Int32],
        exampleIndices: [Int], isMultipleChoice: Bool
    ) {
        self.batchSize = batchSize
        self.numChoices = numChoices
        self.sequenceLength = sequenceLength
        self.inputIds = inputIds
        self.tokenTypeIds = tokenTypeIds
        self.attentionMask = attentionMask
        self.labelIds = labelIds
        self.targets = targets
        self.choiceMask = choiceMask
        self.exampleIndices = exampleIndices
        self.isMultipleChoice = isMultipleChoice
    }

    /// The shape of `inputIds`: [B, T], or [B, C, T] for multiple choice.
    public var shape: [Int] { isMultipleChoice ? [batchSize, numChoices, sequenceLength] : [batchSize, sequenceLength] }
}

/// Tokenizes once, then yields batches padded to the longest sequence in each batch.
/// Order: identity, or a seeded shuffle that depends only on (seed, epoch). With `bucketByLength`, examples are
/// shuffled, cut into pools of `batchSize * bucketPoolBatches`, sorted by length inside each pool, batched,
/// and the batches shuffled again, so batches hold similar lengths (less padding) while staying random.
public struct Batcher: Sendable {
    public let batchSize: Int
    public let shuffle: Bool
    public let seed: UInt64
    public let bucketByLength: Bool
    public let bucketPoolBatches: Int
    public let dropLast: Bool
    public let isMultipleChoice: Bool
    let padId: Int32
    /// Per example: its C encodings (C = 1 unless multiple choice).
    let encodings: [[Encoding]]
    let labelIds: [Int32]?
    let targets: [Float]?
    /// Per example: token count of its longest choice.
    let lengths: [Int]

    /// Number of examples.
    public var count: Int { encodings.count }
    /// Batches per epoch.
    public var batchesPerEpoch: Int { dropLast ? count / batchSize : (count + batchSize - 1) / batchSize }
    /// Token count (longest choice) of example `i`.
    public func length(of i: Int) -> Int { lengths[i] }

    /// GLUE examples: single sentence or pair, truncated to `maxLength` (special tokens included).
    /// Labels: all present -> `labelIds` (class) or `targets` (score); all absent -> none; mixed -> error.
    public init(
        examples: [Example], tokenizer: any Tokenizer, maxLength: Int, batchSize: Int,
        shuffle: Bool = false, seed: UInt64 = 0, bucketByLength: Bool = false,
        truncation: TruncationStrategy = .longestFirst, bucketPoolBatches: Int = 50,
        dropLast: Bool = false
    ) throws {
        try Batcher.check(maxLength: maxLength, batchSize: batchSize, bucketPoolBatches: bucketPoolBatches)
        let enc = parallelMap(examples.count) { i in
            [
                tokenizer.encode(
                    examples[i].textA, pair: examples[i].textB, maxLength: maxLength, truncation: truncation,
                    addSpecialTokens: true)
            ]
        }
        var ids: [Int32] = [], scores: [Float] = []
        var unlabelled = 0
        for (i, e) in examples.enumerated() {
            switch e.label {
            case .classIndex(let c)?: ids.append(Int32(c))
            case .score(let s)?: scores.append(s)
            case nil: unlabelled += 1
            }
            if !ids.isEmpty && !scores.isEmpty {
                throw DataError(.invalidArgument, field: "label", "example \(i) (\(e.guid)) mixes class and score labels")
            }
        }
        if unlabelled != 0 && unlabelled != examples.count {
            throw DataError(
                .invalidArgument, field: "label",
                "\(unlabelled) of \(examples.count) examples have no label; label all or none")
        }
        self.init(
            encodings: enc, labelIds: ids.isEmpty || unlabelled > 0 ? nil : ids,
            targets: scores.isEmpty || unlabelled > 0 ? nil : scores, padId: tokenizer.padTokenId,
            batchSize: batchSize, shuffle: shuffle, seed: seed, bucketByLength: bucketByLength,
            bucketPoolBatches: bucketPoolBatches, dropLast: dropLast, isMultipleChoice: false)
    }

    /// Multiple choice: each choice is the pair (question, choice) -> `[CLS] question [SEP] choice [SEP]`
    /// (context, when present, is put before the question). All choices of a batch share one padded length.
    public init(
        multipleChoice examples: [MultipleChoiceExample], tokenizer: any Tokenizer, maxLength: Int,
        batchSize: Int, shuffle: Bool = false, seed: UInt64 = 0, bucketByLength: Bool = false,
        truncation: TruncationStrategy = .longestFirst, bucketPoolBatches: Int = 50,
        dropLast: Bool = false
    ) throws {
        try Batcher.check(maxLength: maxLength, batchSize: batchSize, bucketPoolBatches: bucketPoolBatches)
        if let i = examples.firstIndex(where: { $0.choices.isEmpty }) {
            throw DataError(.tooFewChoices, field: "choices", "example \(i) (\(examples[i].id)) has no choices")
        }
        let enc = parallelMap(examples.count) { i in
            let e = examples[i]
            let first = e.context.map { "\($0) \(e.question)" } ?? e.question
            return e.choices.map {
                tokenizer.encode(first, pair: $0, maxLength: maxLength, truncation: truncation, addSpecialTokens: true)
            }
        }
        let labelled = examples.filter { $0.label != nil }.count
        if labelled != 0 && labelled != examples.count {
            throw DataError(
                .invalidArgument, field: "label",
                "\(examples.count - labelled) of \(examples.count) questions have no answer; label all or none")
        }
        self.init(
            encodings: enc, labelIds: labelled == 0 ? nil : examples.map { Int32($0.label ?? 0) }, targets: nil,
            padId: tokenizer.padTokenId, batchSize: batchSize, shuffle: shuffle, seed: seed,
            bucketByLength: bucketByLength, bucketPoolBatches: bucketPoolBatches, dropLast: dropLast,
            isMultipleChoice: true)
    }

    /// Examples already encoded (each its C encodings; C = 1 unless `isMultipleChoice`), e.g. cut out of
    /// other batches; `labelIds` [examples] or nil. Batches are padded with `padId`, in order (no shuffle).
    public init(encoded: [[Encoding]], labelIds: [Int32]?, padId: Int32, batchSize: Int, isMultipleChoice: Bool) throws {
        try Batcher.check(maxLength: 1, batchSize: batchSize, bucketPoolBatches: 1)
        if let labelIds, labelIds.count != encoded.count {
            throw DataError(.invalidArgument, field: "labelIds", "\(labelIds.count) labels for \(encoded.count) examples")
        }
        if let i = encoded.firstIndex(where: \.isEmpty) {
            throw DataError(.tooFewChoices, field: "encoded", "example \(i) has no encodings")
        }
        self.init(
            encodings: encoded, labelIds: labelIds, targets: nil, padId: padId, batchSize: batchSize, shuffle: false,
            seed: 0, bucketByLength: false, bucketPoolBatches: 1, dropLast: false, isMultipleChoice: isMultipleChoice)
    }

    init(
        encodings: [[Encoding]], labelIds: [Int32]?, targets: [Float]?, padId: Int32, batchSize: Int,
        shuffle: Bool, seed: UInt64, bucketByLength: Bool, bucketPoolBatches: Int, dropLast: Bool,
        isMultipleChoice: Bool
    ) {
        self.encodings = encodings
        self.lengths = encodings.map { $0.map(\.count).max() ?? 0 }
        self.labelIds = labelIds
        self.targets = targets
        self.padId = padId
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        self.bucketByLength = bucketByLength
        self.bucketPoolBatches = bucketPoolBatches
        self.dropLast = dropLast
        self.isMultipleChoice = isMultipleChoice
    }

    private static func check(maxLength: Int, batchSize: Int, bucketPoolBatches: Int) throws {
        guard batchSize > 0 else {
            throw DataError(.invalidArgument, field: "batchSize", "batch size must be > 0, got \(batchSize)")
        }
        guard maxLength > 0 else {
            throw DataError(.invalidArgument, field: "maxLength", "max length must be > 0, got \(maxLength)")
        }
        guard bucketPoolBatches > 0 else {
            throw DataError(.invalidArgument, field: "bucketPoolBatches", "must be > 0, got \(bucketPoolBatches)")
        }
    }

    /// The example indices of every batch of `epoch`, in order. Depends only on (seed, epoch) and the lengths.
    public func batchIndices(epoch: Int = 0) -> [[Int]] {
        var order = Array(0..<count)
        // A distinct stream per epoch: mix the epoch into the seed with another SplitMix64 step.
        var rng = SplitMix64(seed: seed ^ (UInt64(truncatingIfNeeded: epoch) &* 0xD1B5_4A32_D192_ED03))
        if shuffle { rng.shuffle(&order) }
        var batches: [[Int]] = []
        if bucketByLength {
            let pool = batchSize * bucketPoolBatches
            var start = 0
            while start < order.count {
                let end = min(start + pool, order.count)
                // Stable: ties keep the (shuffled) order.
                let sorted = order[start..<end].enumerated()
                    .sorted { (lengths[$0.element], $0.offset) < (lengths[$1.element], $1.offset) }
                    .map(\.element)
                batches += stride(from: 0, to: sorted.count, by: batchSize).map {
                    Array(sorted[$0..<min($0 + batchSize, sorted.count)])
                }
                start = end
            }
            if shuffle { rng.shuffle(&batches) }
        } else {
            batches = stride(from: 0, to: order.count, by: batchSize).map { Array(order[$0..<min($0 + batchSize, order.count)]) }
        }
        if dropLast { batches.removeAll { $0.count < batchSize } }
        return batches
    }

    /// Pads the examples at `indices` into one batch.
    public func makeBatch(_ indices: [Int]) -> Batch {
        let b = indices.count
        let c = isMultipleChoice ? indices.map { encodings[$0].count }.max() ?? 1 : 1
        let t = indices.map { length(of: $0) }.max() ?? 0
        var ids = [Int32](repeating: padId, count: b * c * t)
        var types = [Int32](repeating: 0, count: b * c * t)
        var mask = [Int32](repeating: 0, count: b * c * t)
        var choiceMask = [Int32](repeating: 0, count: b * c)
        for (row, ex) in indices.enumerated() {
            let choices = encodings[ex]
            for k in 0..<c {
                // Filler choices repeat choice 0 (a real sequence, so attention never sees an all-pad row).
                let e = k < choices.count ? choices[k] : choices[0]
                choiceMask[row * c + k] = k < choices.count ? 1 : 0
                let base = (row * c + k) * t
                for j in 0..<e.count {
                    ids[base + j] = e.ids[j]
                    types[base + j] = e.typeIds[j]
                    mask[base + j] = e.attentionMask[j]
                }
            }
        }
        return Batch(
            batchSize: b, numChoices: c, sequenceLength: t, inputIds: ids, tokenTypeIds: types,
            attentionMask: mask, labelIds: labelIds.map { l in indices.map { l[$0] } },
            targets: targets.map { l in indices.map { l[$0] } }, choiceMask: choiceMask,
            exampleIndices: indices, isMultipleChoice: isMultipleChoice)
    }

    /// The batches of `epoch`, built lazily.
    public func batches(epoch: Int = 0) -> LazyMapSequence<[[Int]], Batch> {
        batchIndices(epoch: epoch).lazy.map { makeBatch($0) }
    }
}

/// `(0..<n).map(f)` spread over the cores in contiguous chunks; the result order is that of the indices.
func parallelMap<T>(_ n: Int, _ f: (Int) -> T) -> [T] {
    guard n > 256 else { return (0..<n).map(f) }
    var out = [T?](repeating: nil, count: n)
    let chunks = min(n / 128, 64)
    out.withUnsafeMutableBufferPointer { buf in
        let base = buf.baseAddress!  // n > 256, so the buffer is non-empty
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            for i in (n * c / chunks)..<(n * (c + 1) / chunks) { base[i] = f(i) }
        }
    }
    return out.map { $0! }  // every index in 0..<n was written by exactly one chunk
}
