// Bridges the data layer to training: a task's split, tokenized and batched, as TrainingBatches,
// and the task's metrics computed from model logits.
import Foundation
import FreeLBData
import FreeLBModels
import FreeLBTokenizers

extension TaskType {
    /// The model head a task needs.
    public var modelKind: TaskKind {
        switch self {
        case .regression: return .regression
        case .multipleChoice: return .multipleChoice
        case .singleSentence, .sentencePair: return .classification
        }
    }
}

extension Batch {
    /// Model input and labels (labels of an unlabelled test batch are −1, which losses ignore).
    public var trainingBatch: TrainingBatch {
        let input = EncoderInput(inputIds: inputIds, tokenTypeIds: tokenTypeIds, attentionMask: attentionMask, shape: shape)
        var withChoices = input
        if isMultipleChoice { withChoices.choiceMask = choiceMask }
        if let targets { return TrainingBatch(input: withChoices, labels: .targets(targets)) }
        return TrainingBatch(input: withChoices, labels: .classes(labelIds ?? Array(repeating: -1, count: batchSize)))
    }
}

/// One split of a task, tokenized.
public struct TaskSplit {
    public let task: TaskSpec
    public let split: Split
    public let batcher: Batcher
    /// Example ids (GLUE index column / question id) in file order.
    public let ids: [String]
    /// Gold labels in file order: class ids (or −1), or scores.
    public let classLabels: [Int]?
    public let scores: [Float]?
    /// Multiple choice: each question's choice labels ("A"…), for prediction files.
    public let choiceLabels: [[String]]?

    public init(
        task: TaskSpec, split: Split, dataDir: URL, tokenizer: any Tokenizer, maxLength: Int, batchSize: Int,
        shuffle: Bool, seed: UInt64, limit: Int? = nil, groupByLength: Bool = false
    ) throws {
        self.task = task
        self.split = split
        switch try task.load(split: split, dataDir: dataDir) {
        case .classification(var examples):
            if let limit { examples = Array(examples.prefix(limit)) }
            ids = examples.map(\.guid)
            classLabels =
                task.isRegression ? nil : examples.map { if case .classIndex(let c)? = $0.label { return c } else { return -1 } }
            scores =
                task.isRegression ? examples.map { if case .score(let s)? = $0.label { return s } else { return .nan } } : nil
            choiceLabels = nil
            batcher = try Batcher(
                examples: examples, tokenizer: tokenizer, maxLength: maxLength, batchSize: batchSize,
                shuffle: shuffle, seed: seed, bucketByLength: groupByLength)
        case .multipleChoice(var examples):
            if let limit { examples = Array(examples.prefix(limit)) }
            ids = examples.map(\.id)
            classLabels = examples.map { $0.label ?? -1 }
            scores = nil
            choiceLabels = examples.map(\.choiceLabels)
            batcher = try Batcher(
                multipleChoice: examples, tokenizer: tokenizer, maxLength: maxLength, batchSize: batchSize,
                shuffle: shuffle, seed: seed, bucketByLength: groupByLength)
        }
    }

    public var count: Int { ids.count }

    /// Batches of `epoch` (shuffled from the seed when the split was made with shuffle).
    public func batches(epoch: Int = 0) -> [TrainingBatch] { batcher.batches(epoch: epoch).map(\.trainingBatch) }

    /// Batches in file order (for evaluation and prediction).
    public var orderedBatches: [TrainingBatch] {
        let size = batcher.batchSize
        return stride(from: 0, to: count, by: size).map { batcher.makeBatch(Array($0..<min(count, $0 + size))).trainingBatch }
    }

    /// Class predictions (argmax) or regression scores from logits in file order.
    public func predictions(_ logits: [[Float]]) -> (classes: [Int]?, scores: [Float]?) {
        if task.isRegression { return (nil, logits.map { $0[0] }) }
        return (logits.map { row in row.indices.max { row[$0] < row[$1] } ?? 0 }, nil)
    }

    /// The task's metrics (fractions) from logits in file order.
    public func metrics(_ logits: [[Float]]) throws -> [String: Double] {
        let (classes, predictedScores) = predictions(logits)
        if let predictedScores, let scores {
            return try Metrics.compute(task: task, predictions: predictedScores, labels: scores)
        }
        return try Metrics.compute(task: task, predictions: classes ?? [], labels: classLabels ?? [])
    }
}
