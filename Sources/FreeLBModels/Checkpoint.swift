// Loading and saving Hugging Face checkpoints (config.json + model.safetensors) in a local folder. Keys
// are the HF parameter names, so a checkpoint saved here loads in transformers unchanged, and vice versa.
// Hub ids are resolved to a folder above this layer (FreeLB's `TransformerClassifier.load(_:kind:…)`).
import Foundation
import FreeLBSafetensors
import FreeLBTensor

public struct CheckpointError: Error, CustomStringConvertible, LocalizedError {
    public let description: String
    public init(description: String) { self.description = description }
    public var errorDescription: String? { description }
}

/// Keys of pretraining heads and buffers that a task model does not use.
let ignoredCheckpointKeys = [
    "embeddings.position_ids", "cls.*", "lm_head.*", "predictions.*", "sop_classifier.*",
    "pooler.*"
]

/// The encoder prefixes (`bert.`, `roberta.`, `albert.`) that a bare-model checkpoint (`BertModel`, …)
/// omits from its keys, for every model type.
let checkpointModelPrefixes = Array(Set(ModelType.allCases.map { $0.prefix + "." })).sorted()

extension TransformerClassifier {
    /// Loads the checkpoint in the local folder `directory` (config.json + model.safetensors; no network).
    /// The config's sizes are checked against the safetensors header before anything is allocated, and
    /// non-finite weights are refused. Encoder weights must all be present; a missing task head (a
    /// pretrained base checkpoint) is freshly initialised, as transformers does (`headIsNew`).
    /// `numLabels` overrides the config's label count (the head must then be new or match).
    public static func load(from directory: URL, kind: TaskKind, numLabels: Int? = nil, seed: UInt64 = 0) throws
        -> TransformerClassifier
    {
        var config = try ModelConfiguration(contentsOf: directory.appendingPathComponent("config.json"))
        if let numLabels, numLabels != config.numLabels {
            config.numLabels = numLabels
            config.id2label = Dictionary(uniqueKeysWithValues: (0..<numLabels).map { ($0, "LABEL_\($0)") })
        }
        if kind == .regression { config.problemType = "regression" }
        try config.validateRanges(file: directory.appendingPathComponent("config.json").path)
        let weights = directory.appendingPathComponent("model.safetensors")
        guard FileManager.default.fileExists(atPath: weights.path) else {
            throw CheckpointError(
                description:
                    "\(directory.path): no model.safetensors (only the safetensors format is supported; convert pytorch_model.bin with `safetensors` first)"
            )
        }
        // The header first: the sizes config.json claims must be stored in the file before anything is allocated.
        let file = try SafetensorsFile(url: weights)
        let stored = file.tensorInfos.reduce(0) { $0 &+ $1.elementCount }
        guard let described = config.encoderParameterCount, described <= stored else {
            throw CheckpointError(
                description: "\(directory.appendingPathComponent("config.json").path): the sizes in this config "
                    + "describe \(config.encoderParameterCount.map(String.init) ?? "more than Int.max") encoder parameters, but "
                    + "\(weights.path) stores only \(stored) values (config.json and model.safetensors do not match)")
        }
        let model = TransformerClassifier(config: config, kind: kind, seed: seed)
        try model.loadWeights(from: file, headSeed: seed)
        model.prepareParameters()
        return model
    }

    /// Copies tensors from a safetensors file into the parameters (strict on the encoder). Returns
    /// false when the file has no task head, which is then freshly initialised.
    @discardableResult
    public func loadWeights(from url: URL, headSeed: UInt64 = 0) throws -> Bool {
        try loadWeights(from: SafetensorsFile(url: url), headSeed: headSeed)
    }

    @discardableResult
    func loadWeights(from file: SafetensorsFile, headSeed: UInt64) throws -> Bool {
        let all = namedParameters()
        let headNames = Set(all.map(\.0).filter { $0.hasPrefix("classifier.") })
        let hasHead = headNames.allSatisfy { file.contains($0) }
        let hasPooler = all.contains { $0.0.contains("pooler") }
        var ignore = ignoredCheckpointKeys.filter { hasPooler ? $0 != "pooler.*" : true }
        if !hasHead { ignore.append("classifier.*") }
        let expected = all.filter { hasHead || !headNames.contains($0.0) }
            .map { ExpectedParameter(name: $0.0, shape: $0.1.shape) }
        let match = try file.matchParameters(expected, modelPrefixes: checkpointModelPrefixes, ignore: ignore)
        for (name, tensor) in all {
            guard let key = match.fileKeys[name] else { continue }
            try file.readFloats(key, into: UnsafeMutableBufferPointer(start: tensor.data, count: tensor.count))
            let nonFinite = tensor.nonFiniteCount
            if nonFinite > 0 {
                throw CheckpointError(
                    description: "\(file.url.path): tensor '\(key)' holds \(nonFinite) NaN or infinite values "
                        + "of \(tensor.count); the checkpoint is corrupt or comes from a diverged run")
            }
        }
        if !hasHead {  // HF init of a fresh head: N(0, initializer_range), zero bias
            var generator = SeededGenerator(seed: headSeed &+ 0x4EAD)
            for (name, tensor) in all where headNames.contains(name) {
                if name.hasSuffix("bias") {
                    tensor.fill(0)
                } else {
                    tensor.copy(from: Tensor.normal(tensor.shape, std: config.initializerRange, generator: &generator))
                }
            }
        }
        headIsNew = !hasHead
        return hasHead
    }

    /// Writes config.json and model.safetensors (atomically) in HF layout.
    public func save(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let tensors = namedParameters().map { NamedTensor(name: $0.0, shape: $0.1.shape, values: $0.1.scalars) }
        try SafetensorsWriter.write(
            tensors, metadata: ["format": "pt"], to: directory.appendingPathComponent("model.safetensors"))
        try writeJSONAtomically(
            config.jsonObject(architecture: architecture), to: directory.appendingPathComponent("config.json"))
    }
}

/// Pretty, key-sorted JSON written through a temporary file and a rename.
public func writeJSONAtomically(_ object: Any, to url: URL) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    try data.write(to: url, options: .atomic)
}
