// Tokenizes and batches accepted examples the way training does, with a tiny in-repo vocabulary,
// and checks the shapes and label ranges the model relies on.
import Foundation
import FreeLBData
import FreeLBTokenizers

/// A small BERT vocabulary: the special tokens, some words and the ASCII letters.
let probeTokenizer: BertTokenizer = {
    let words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "is", "not", "of", "and", "to", "in",
                 "what", "which", "##s", "##ed", "##ing", ".", ",", "?", "!", "'", "-", "0", "1", "2", "3"]
    let letters = "abcdefghijklmnopqrstuvwxyz".map { String($0) }
    let file = ScratchFile(named: "probe-vocab.txt")
    file.write((words + letters + letters.map { "##" + $0 }).joined(separator: "\n") + "\n")
    return try! BertTokenizer(vocabFile: file.url)
}()

func checkBatches(_ batcher: Batcher, numClasses: Int? = nil) {
    var seen = 0
    for batch in batcher.batches(epoch: 0) {
        let cells = batch.shape.reduce(1, *)
        require(batch.inputIds.count == cells && batch.tokenTypeIds.count == cells && batch.attentionMask.count == cells,
                "batch arrays do not match the shape \(batch.shape)")
        // Class labels index the logits: one per example, inside the classes (or this batch's choices).
        if let labels = batch.labelIds, let classes = batch.isMultipleChoice ? batch.numChoices : numClasses {
            require(labels.count == batch.batchSize, "\(labels.count) labels for \(batch.batchSize) examples")
            for label in labels { require(label >= 0 && Int(label) < classes, "label \(label) outside \(classes) classes") }
        }
        seen += batch.batchSize
    }
    require(seen == batcher.count, "batches cover \(seen) of \(batcher.count) examples")
}
