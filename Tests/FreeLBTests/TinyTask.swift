import FreeLB
import FreeLBModels
import FreeLBNN
import FreeLBTensor

/// A generated task for a tiny model: does the sequence contain token 7? Sequences are
/// [CLS]=2, 3..7 random tokens from 10..<50 (one replaced by 7 for positives), [SEP]=3, padded with 0.
enum TinyTask {
    static func config(dropout: Float = 0.1, multipleChoice: Bool = false) -> ModelConfiguration {
        ModelConfiguration(
            vocabSize: 50, hiddenSize: 32, numHiddenLayers: 2, numAttentionHeads: 4, intermediateSize: 64,
            hiddenDropoutProb: dropout, attentionProbsDropoutProb: dropout, maxPositionEmbeddings: 16,
            initializerRange: 0.1, numLabels: 2)
    }

    static func model(seed: UInt64 = 1, dropout: Float = 0.1, kind: TaskKind = .classification) -> TransformerClassifier {
        let model = TransformerClassifier(config: config(dropout: dropout), kind: kind, seed: seed)
        model.initializeWeights(seed: seed)
        model.prepareParameters()
        return model
    }

    /// `count` examples → batches of `batchSize`, each padded to length 9.
    static func batches(count: Int = 32, batchSize: Int = 8, seed: UInt64 = 5) -> [TrainingBatch] {
        var generator = SeededGenerator(seed: seed)
        let length = 9
        var batches: [TrainingBatch] = []
        var ids: [Int32] = [], mask: [Int32] = [], labels: [Int32] = []
        for i in 0..<count {
            let tokens = 3 + Int(generator.next() % 5)
            var row = (0..<tokens).map { _ in Int32(10 + generator.next() % 40) }
            let positive = i % 2 == 0
            if positive { row[Int(generator.next() % UInt64(tokens))] = 7 }
            row = [2] + row + [3]
            ids += row + Array(repeating: 0, count: length - row.count)
            mask += Array(repeating: 1, count: row.count) + Array(repeating: 0, count: length - row.count)
            labels.append(positive ? 1 : 0)
            if labels.count == batchSize {
                batches.append(
                    TrainingBatch(
                        input: EncoderInput(inputIds: ids, attentionMask: mask, shape: [batchSize, length]),
                        labels: .classes(labels)))
                ids = []; mask = []; labels = []
            }
        }
        return batches
    }

    static func accuracy(_ model: TransformerClassifier, _ batches: [TrainingBatch]) -> Double {
        let (logits, _) = evaluate(model, batches: batches)
        var labels: [Int32] = []
        for b in batches { if case .classes(let c) = b.labels { labels += c } }
        let correct = zip(logits, labels).filter { row, label in row.indices.max { row[$0] < row[$1] } == Int(label) }.count
        return Double(correct) / Double(labels.count)
    }
}
