// Usage: FreeLBClient MODEL_FOLDER  (a BERT checkpoint in Hugging Face layout, e.g. the tiny fixture)
import Foundation
import FreeLB
import FreeLBModels
import FreeLBNN
import FreeLBTensor

guard CommandLine.arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: FreeLBClient MODEL_FOLDER\n".utf8))
    exit(2)
}
do {
    let (model, _) = try TransformerClassifier.load(CommandLine.arguments[1], kind: .classification, numLabels: 3)
    // Two sequences of 6 tokens, the second padded after 4: [B, T] = [2, 6].
    let input = EncoderInput(
        inputIds: [2, 11, 12, 13, 14, 3, 2, 21, 22, 3, 0, 0],
        attentionMask: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0], shape: [2, 6])
    let batch = TrainingBatch(input: input, labels: .classes([0, 2]))
    try model.validate(input)
    let perturbation = PerturbationConfig(norm: .l2, initMagnitude: 0.05, radius: 0.1, stepSize: 0.03)
    let methods: [TrainingStep] = [
        try FreeLBStep(perturbation: perturbation, steps: 3),
        FreeLBWithCleanLoss(perturbation: perturbation, steps: 3, cleanWeight: 0.5)
    ]
    for method in methods {
        let state = TrainingState(model: model, optimizer: AdamW(learningRate: 1e-3), seed: 1)
        let result = method.step([batch], state: state)
        guard result.passLosses.allSatisfy(\.isFinite), state.nonFinite == nil, state.globalStep == 1 else {
            throw RunError("\(method.name): a non-finite loss or no update")
        }
        print(
            "\(method.name): \(result.passLosses.count) passes, losses "
                + result.passLosses.map { String(format: "%.4f", $0) }.joined(separator: " "))
    }
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
