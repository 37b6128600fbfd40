// Fuzz target: ARC / CommonsenseQA files, read with MultipleChoiceReader.readJSONL (the reader `load`
// uses) and readARCCSV (ARC's CSV release); accepted questions are checked and batched as training does.
import Foundation
import FreeLBData
import FreeLBTokenizers

private let jsonlFile = ScratchFile(named: "questions.jsonl")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMultipleChoice(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let url = jsonlFile.write(inputBuffer(data, size))
    for read in [MultipleChoiceReader.readJSONL, MultipleChoiceReader.readARCCSV] {
        guard let questions = try? read(url) else { continue }
        for question in questions {
            require(question.choices.count >= 2 && question.choiceLabels.count == question.choices.count,
                    "question \(question.id): \(question.choices.count) choices, \(question.choiceLabels.count) labels")
            if let label = question.label {
                require(label >= 0 && label < question.choices.count, "question \(question.id): answer index \(label)")
            }
        }
        if let batcher = try? Batcher(multipleChoice: questions, tokenizer: probeTokenizer, maxLength: 24, batchSize: 2) {
            checkBatches(batcher)
        }
    }
    return 0
}
