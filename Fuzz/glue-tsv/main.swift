// Fuzz target: a GLUE TSV, read with GLUEReader.read(file:task:split:) for the task and split named on
// the input's first line ("rte dev"; otherwise the first byte picks one); the rest is the file.
// Accepted examples are checked and batched as training does.
import Foundation
import FreeLBData
import FreeLBTokenizers

private let tsvFile = ScratchFile(named: "data.tsv")

/// Every (GLUE task, split) pair the registry knows.
private let taskSplits: [(TaskSpec, Split)] = TaskRegistry.all.filter(\.isGLUE).flatMap { task in
    task.splits.map { (task, $0) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGLUETSV(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = inputBuffer(data, size)
    guard !input.isEmpty else { return 0 }
    let (task, split, body) = selectTaskSplit(input)
    let url = tsvFile.write(body)
    guard let examples = try? GLUEReader.read(file: url, task: task, split: split) else { return 0 }
    for example in examples {
        switch example.label {
        case .classIndex(let c)?:
            require(!task.isRegression && c >= 0 && c < task.numLabels, "\(task.name): class \(c) of \(task.numLabels)")
        case .score?:
            require(task.isRegression, "\(task.name): score label on a classification task")
        case nil:
            break
        }
    }
    if let batcher = try? Batcher(examples: examples, tokenizer: probeTokenizer, maxLength: 24, batchSize: 3,
                                  shuffle: true, seed: 7, bucketByLength: true, bucketPoolBatches: 2) {
        checkBatches(batcher, numClasses: task.isRegression ? nil : task.numLabels)
    }
    return 0
}

/// "<task> <split>\n" header when it names a known pair, else the first byte chooses and is dropped.
private func selectTaskSplit(_ input: UnsafeRawBufferPointer) -> (TaskSpec, Split, UnsafeRawBufferPointer) {
    if let newline = input.firstIndex(of: UInt8(ascii: "\n")), newline < 40 {
        let words = String(decoding: input[..<newline], as: UTF8.self).split(separator: " ")
        if words.count == 2, let pair = taskSplits.first(where: { $0.0.name == words[0] && $0.1.rawValue == words[1] }) {
            return (pair.0, pair.1, UnsafeRawBufferPointer(rebasing: input[(newline + 1)...]))
        }
    }
    let pair = taskSplits[Int(input[0]) % taskSplits.count]
    return (pair.0, pair.1, UnsafeRawBufferPointer(rebasing: input[1...]))
}
