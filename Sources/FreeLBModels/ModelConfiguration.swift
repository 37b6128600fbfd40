// config.json for the `bert`, `roberta`, `xlm-roberta` and `albert` model types, read with typed errors
// that name the file and the field, and written back with the original keys preserved.
import Foundation

public enum ModelType: String, Sendable, Codable, CaseIterable {
    case bert, roberta, albert
    /// XLM-RoBERTa: RoBERTa's architecture and parameter names (`roberta.`), a SentencePiece vocabulary.
    case xlmRoberta = "xlm-roberta"

    /// The parameter-path prefix of the encoder inside task models ("bert.", …).
    public var prefix: String { self == .xlmRoberta ? "roberta" : rawValue }

    /// RoBERTa's embeddings (positions counted from the pad id) and classification head.
    public var isRoberta: Bool { self == .roberta || self == .xlmRoberta }

    /// The `transformers` class-name stem ("Bert", "Roberta", "XLMRoberta", "Albert").
    public var className: String {
        switch self {
        case .bert: return "Bert"
        case .roberta: return "Roberta"
        case .xlmRoberta: return "XLMRoberta"
        case .albert: return "Albert"
        }
    }
}

public enum Activation: String, Sendable {
    case gelu, geluTanh = "gelu_new", relu
}

public struct ConfigurationError: Error, CustomStringConvertible, LocalizedError {
    public let file: String
    public let field: String
    public let problem: String
    public var description: String { "\(file): field '\(field)': \(problem)" }
    public var errorDescription: String? { description }
}

public struct ModelConfiguration {
    public var modelType: ModelType
    public var vocabSize: Int
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    public var hiddenAct: Activation
    public var hiddenDropoutProb: Float
    public var attentionProbsDropoutProb: Float
    public var classifierDropout: Float?
    public var maxPositionEmbeddings: Int
    public var typeVocabSize: Int
    public var layerNormEps: Float
    public var padTokenId: Int
    public var initializerRange: Float
    /// ALBERT's factorised embedding width (equals hiddenSize for BERT/RoBERTa).
    public var embeddingSize: Int
    public var numHiddenGroups: Int
    public var innerGroupNum: Int
    public var numLabels: Int
    public var id2label: [Int: String]
    /// "single_label_classification", "regression", "multi_label_classification" or nil.
    public var problemType: String?
    /// Every key of the original file, so that saving keeps what this type does not model.
    public var rawValues: [String: Any]

    public var headDimension: Int { hiddenSize / numAttentionHeads }

    public init(
        modelType: ModelType = .bert, vocabSize: Int, hiddenSize: Int, numHiddenLayers: Int,
        numAttentionHeads: Int, intermediateSize: Int, hiddenAct: Activation = .gelu,
        hiddenDropoutProb: Float = 0.1, attentionProbsDropoutProb: Float = 0.1,
        maxPositionEmbeddings: Int = 512, typeVocabSize: Int = 2, layerNormEps: Float = 1e-12,
        padTokenId: Int = 0, initializerRange: Float = 0.02, embeddingSize: Int? = nil,
        numLabels: Int = 2, problemType: String? = nil
    ) {
        self.modelType = modelType
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.intermediateSize = intermediateSize
        self.hiddenAct = hiddenAct
        self.hiddenDropoutProb = hiddenDropoutProb
        self.attentionProbsDropoutProb = attentionProbsDropoutProb
        self.classifierDropout = nil
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.typeVocabSize = typeVocabSize
        self.layerNormEps = layerNormEps
        self.padTokenId = padTokenId
        self.initializerRange = initializerRange
        self.embeddingSize = embeddingSize ?? hiddenSize
        self.numHiddenGroups = 1
        self.innerGroupNum = 1
        self.numLabels = numLabels
        self.id2label = Dictionary(uniqueKeysWithValues: (0..<numLabels).map { ($0, "LABEL_\($0)") })
        self.problemType = problemType
        self.rawValues = [:]
    }

    /// Reads and validates config.json.
    public init(contentsOf url: URL) throws {
        let file = url.path
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ConfigurationError(file: file, field: "-", problem: "cannot read file (\(error.localizedDescription))")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data), let json = object as? [String: Any] else {
            throw ConfigurationError(file: file, field: "-", problem: "not a JSON object")
        }
        try self.init(json: json, file: file)
    }

    public init(json: [String: Any], file: String = "config.json") throws {
        func fail(_ field: String, _ problem: String) -> ConfigurationError {
            ConfigurationError(file: file, field: field, problem: problem)
        }
        func int(_ key: String, _ fallback: Int? = nil) throws -> Int {
            guard let value = json[key], !(value is NSNull) else {
                if let fallback { return fallback }
                throw fail(key, "missing (an integer is required)")
            }
            // objCType "c": a JSON boolean
            if let n = value as? NSNumber, String(cString: n.objCType) != "c", Double(n.intValue) == n.doubleValue {
                return n.intValue
            }
            throw fail(key, "expected an integer, found \(describe(value))")
        }
        func float(_ key: String, _ fallback: Float?) throws -> Float? {
            guard let value = json[key], !(value is NSNull) else { return fallback }
            if let n = value as? NSNumber, !(value is String), String(cString: n.objCType) != "c" { return n.floatValue }
            throw fail(key, "expected a number, found \(describe(value))")
        }
        func string(_ key: String) throws -> String? {
            guard let value = json[key], !(value is NSNull) else { return nil }
            guard let s = value as? String else { throw fail(key, "expected a string, found \(describe(value))") }
            return s
        }
        let typeName = try string("model_type") ?? "bert"
        guard let type = ModelType(rawValue: typeName) else {
            throw fail("model_type", "unsupported '\(typeName)' (supported: bert, roberta, xlm-roberta, albert)")
        }
        modelType = type
        vocabSize = try int("vocab_size")
        hiddenSize = try int("hidden_size")
        numHiddenLayers = try int("num_hidden_layers")
        numAttentionHeads = try int("num_attention_heads")
        intermediateSize = try int("intermediate_size")
        let act = try string("hidden_act") ?? "gelu"
        switch act {
        case "gelu": hiddenAct = .gelu
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": hiddenAct = .geluTanh
        case "relu": hiddenAct = .relu
        default: throw fail("hidden_act", "unsupported activation '\(act)' (gelu, gelu_new, relu)")
        }
        hiddenDropoutProb = try float("hidden_dropout_prob", 0.1)!
        attentionProbsDropoutProb = try float("attention_probs_dropout_prob", 0.1)!
        classifierDropout = try float("classifier_dropout", nil) ?? float("classifier_dropout_prob", nil)
        maxPositionEmbeddings = try int("max_position_embeddings", 512)
        typeVocabSize = try int("type_vocab_size", 2)
        layerNormEps = try float("layer_norm_eps", 1e-12)!
        padTokenId = try int("pad_token_id", type.isRoberta ? 1 : 0)
        initializerRange = try float("initializer_range", 0.02)!
        embeddingSize = try int("embedding_size", hiddenSize)
        numHiddenGroups = try int("num_hidden_groups", 1)
        innerGroupNum = try int("inner_group_num", 1)
        var labels: [Int: String] = [:]
        if let raw = json["id2label"], !(raw is NSNull) {
            guard let dict = raw as? [String: Any] else { throw fail("id2label", "expected an object, found \(describe(raw))") }
            for (key, value) in dict {
                guard let index = Int(key), let name = value as? String else {
                    throw fail("id2label", "entry \(key): expected \"<integer>\": \"<name>\"")
                }
                labels[index] = name
            }
        }
        numLabels = try int("num_labels", labels.isEmpty ? 2 : labels.count)
        if let range = Self.limits.first(where: { $0.field == "num_labels" })?.range, !range.contains(numLabels) {
            throw fail("num_labels", "must be in \(range.lowerBound)...\(range.upperBound), found \(numLabels)")
        }
        if labels.isEmpty { labels = Dictionary(uniqueKeysWithValues: (0..<numLabels).map { ($0, "LABEL_\($0)") }) }
        id2label = labels
        problemType = try string("problem_type")
        rawValues = json
        try validateRanges(file: file)
        if let bad = labels.keys.first(where: { !(0..<numLabels).contains($0) }) {
            throw fail("id2label", "label index \(bad) is outside 0..<num_labels (\(numLabels))")
        }
    }

    /// The allowed range of every size and id, checked before anything is allocated. The bounds are
    /// far above real checkpoints (XLM-R's 250k vocabulary, ALBERT-xxlarge's 4096 width, 16k FFN).
    public static let limits: [(field: String, range: ClosedRange<Int>)] = [
        ("vocab_size", 1...(1 << 22)), ("hidden_size", 1...(1 << 16)), ("num_hidden_layers", 1...512),
        ("num_attention_heads", 1...(1 << 12)), ("intermediate_size", 1...(1 << 18)),
        ("max_position_embeddings", 1...(1 << 20)), ("type_vocab_size", 1...(1 << 10)), ("embedding_size", 1...(1 << 16)),
        ("num_hidden_groups", 1...512), ("inner_group_num", 1...64), ("num_labels", 1...(1 << 16))
    ]

    /// Throws a `ConfigurationError` naming the first field outside its range.
    public func validateRanges(file: String = "config.json") throws {
        func fail(_ field: String, _ problem: String) -> ConfigurationError {
            ConfigurationError(file: file, field: field, problem: problem)
        }
        let values: [String: Int] = [
            "vocab_size": vocabSize, "hidden_size": hiddenSize, "num_hidden_layers": numHiddenLayers,
            "num_attention_heads": numAttentionHeads, "intermediate_size": intermediateSize,
            "max_position_embeddings": maxPositionEmbeddings, "type_vocab_size": typeVocabSize,
            "embedding_size": embeddingSize, "num_hidden_groups": numHiddenGroups, "inner_group_num": innerGroupNum,
            "num_labels": numLabels
        ]
        for (field, range) in Self.limits {
            let value = values[field] ?? 0
            if !range.contains(value) {
                throw fail(field, "must be in \(range.lowerBound)...\(range.upperBound), found \(value)")
            }
        }
        if hiddenSize % numAttentionHeads != 0 {
            throw fail("num_attention_heads", "hidden_size \(hiddenSize) is not divisible by \(numAttentionHeads) heads")
        }
        if numHiddenGroups > numHiddenLayers {
            throw fail("num_hidden_groups", "must be at most num_hidden_layers (\(numHiddenLayers)), found \(numHiddenGroups)")
        }
        if !(0..<vocabSize).contains(padTokenId) {
            throw fail("pad_token_id", "must be in 0..<vocab_size (\(vocabSize)), found \(padTokenId)")
        }
        if modelType.isRoberta && padTokenId + 2 > maxPositionEmbeddings {
            throw fail(
                "pad_token_id",
                "RoBERTa positions start at pad_token_id + 1 = \(padTokenId + 1), "
                    + "beyond max_position_embeddings \(maxPositionEmbeddings)")
        }
        for (field, p) in [
            ("hidden_dropout_prob", hiddenDropoutProb), ("attention_probs_dropout_prob", attentionProbsDropoutProb),
            ("classifier_dropout", classifierDropout ?? 0)
        ] where !(p >= 0 && p < 1) {
            throw fail(field, "must be in [0, 1), found \(p)")
        }
        if !(layerNormEps > 0 && layerNormEps.isFinite) {
            throw fail("layer_norm_eps", "must be a positive finite number, found \(layerNormEps)")
        }
        if !(initializerRange >= 0 && initializerRange.isFinite) {
            throw fail("initializer_range", "must be a non-negative finite number, found \(initializerRange)")
        }
    }

    /// Elements of the encoder's parameters (embeddings and layers; no pooler or head); nil if the
    /// product overflows. A checkpoint must store at least this many, which bounds what loading allocates.
    public var encoderParameterCount: Int? {
        func product(_ factors: Int...) -> Int? {
            var result = 1
            for f in factors {
                let (value, overflow) = result.multipliedReportingOverflow(by: f)
                if overflow { return nil }
                result = value
            }
            return result
        }
        let (h, e, i) = (hiddenSize, embeddingSize, intermediateSize)
        guard let words = product(vocabSize, e), let positions = product(maxPositionEmbeddings, e),
            let types = product(typeVocabSize, e), let attention = product(4, h, h), let ffn = product(2, h, i)
        else { return nil }
        let layer = attention + ffn + 4 * h + i + 4 * h  // + biases and two LayerNorms
        let distinctLayers = modelType == .albert ? numHiddenGroups * innerGroupNum : numHiddenLayers
        guard let layers = product(distinctLayers, layer) else { return nil }
        let mapping = modelType == .albert ? e * h + h : 0
        let (sum, overflow) = words.addingReportingOverflow(positions + types + 2 * e + mapping)
        if overflow { return nil }
        let (total, overflow2) = sum.addingReportingOverflow(layers)
        return overflow2 ? nil : total
    }

    /// config.json contents: the original keys updated with this configuration.
    public func jsonObject(architecture: String?) -> [String: Any] {
        var json = rawValues
        json["model_type"] = modelType.rawValue
        json["vocab_size"] = vocabSize
        json["hidden_size"] = hiddenSize
        json["num_hidden_layers"] = numHiddenLayers
        json["num_attention_heads"] = numAttentionHeads
        json["intermediate_size"] = intermediateSize
        json["hidden_act"] = hiddenAct.rawValue
        json["hidden_dropout_prob"] = Double(hiddenDropoutProb)
        json["attention_probs_dropout_prob"] = Double(attentionProbsDropoutProb)
        json["max_position_embeddings"] = maxPositionEmbeddings
        json["type_vocab_size"] = typeVocabSize
        json["layer_norm_eps"] = Double(layerNormEps)
        json["pad_token_id"] = padTokenId
        json["initializer_range"] = Double(initializerRange)
        if modelType == .albert {
            json["embedding_size"] = embeddingSize
            json["num_hidden_groups"] = numHiddenGroups
            json["inner_group_num"] = innerGroupNum
        }
        json["num_labels"] = numLabels
        json["id2label"] = Dictionary(uniqueKeysWithValues: id2label.map { (String($0.key), $0.value) })
        json["label2id"] = Dictionary(id2label.map { ($0.value, $0.key) }, uniquingKeysWith: min)  // names may repeat
        if let classifierDropout {
            json[modelType == .albert ? "classifier_dropout_prob" : "classifier_dropout"] = Double(classifierDropout)
        }
        if let problemType { json["problem_type"] = problemType }
        if let architecture { json["architectures"] = [architecture] }
        return json
    }
}

private func describe(_ value: Any) -> String {
    switch value {
    case is String: return "a string (\"\(value)\")"
    case is Bool: return "a boolean"
    case is NSNumber: return "the number \(value)"
    case is [Any]: return "an array"
    case is [String: Any]: return "an object"
    default: return "\(type(of: value))"
    }
}
