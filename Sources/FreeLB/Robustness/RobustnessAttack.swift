// Robustness attack (docs/method.md §13, step 3): many-step PGD inside an L2 ball of radius r, per example.
// Models run in eval mode; δ lives in word-embedding space (§2) and is bounded in L2, per example:
//   δ0 = U(−1,1) ⊙ m · r/√(L·d) (§3 with μ = r); up to N steps of
//   "record the loss, δ ← project_r(δ + α g/‖g‖)" (§5 with ε = r); stop once `patience`
//   consecutive steps change the loss by a relative ≤ 1e-5 while ‖δ‖ ≥ r(1 − 1e-6); return the max loss.
// Examples are attacked as batches (padded by the data layer's Batcher); every example has its own δ_b,
// normaliser, projection, radius and early stop (finished examples leave the batch). δ0 of example b comes
// from its own generator, seeded from (seed, example id), so the result does not depend on how examples are
// grouped into batches.
import Foundation
import FreeLBData
import FreeLBModels
import FreeLBTensor
import FreeLBTokenizers

public enum RobustnessError: Error, CustomStringConvertible, Equatable {
    case noModels
    case duplicateModelName(String)
    case unknownAnchor(String, available: [String])
    /// Max-loss increments need a cross-entropy loss: classification or multiple choice.
    case unsupportedTask(model: String, kind: TaskKind)
    case labelCountMismatch(batch: Int, expected: Int, found: Int)
    case regressionTargets(batch: Int)
    /// A label < 0 (an unlabelled test example).
    case unlabelledExample(batch: Int, example: Int)
    case labelOutOfRange(exampleID: Int, label: Int32, classes: Int)
    /// Multiple-choice examples batched together must have the same number of choices.
    case inconsistentChoices(exampleID: Int, expected: Int, found: Int)
    case invalidSetting(field: String, value: Double, expected: String)
    case radiusCountMismatch(examples: Int, radii: Int)
    case noCommonlyCorrectExamples(examples: Int)

    public var description: String {
        switch self {
        case .noModels: return "robustness: no models to compare"
        case .duplicateModelName(let n): return "robustness: model name '\(n)' given twice"
        case .unknownAnchor(let a, let names): return "robustness: anchor '\(a)' is not one of the models \(names)"
        case .unsupportedTask(let m, let k):
            return
                "robustness: model '\(m)' is a \(k.rawValue) model; only classification and multiple choice have a cross-entropy loss"
        case .labelCountMismatch(let b, let e, let f):
            return "robustness: batch \(b): field 'labels' has \(f) entries, expected \(e)"
        case .regressionTargets(let b):
            return "robustness: batch \(b): field 'labels' holds regression targets, expected class ids"
        case .unlabelledExample(let b, let e):
            return "robustness: batch \(b) example \(e): field 'labels' is negative (unlabelled)"
        case .labelOutOfRange(let id, let l, let c): return "robustness: example \(id): field 'labels' is \(l), expected 0..<\(c)"
        case .inconsistentChoices(let id, let e, let f):
            return "robustness: example \(id): field 'input.shape' has \(f) choices, expected \(e) like the others"
        case .invalidSetting(let f, let v, let e): return "robustness: setting '\(f)' is \(v), expected \(e)"
        case .radiusCountMismatch(let e, let r): return "robustness: \(r) radii for \(e) examples"
        case .noCommonlyCorrectExamples(let n):
            return "robustness: none of the \(n) examples is classified correctly by every model"
        }
    }
}

extension RobustnessError: LocalizedError {
    public var errorDescription: String? { description }
}

/// One labelled example: input [1, T] (classification) or [1, C, T] (multiple choice).
public struct RobustnessExample {
    public var input: EncoderInput
    public var label: Int32
    /// Position in the dev set: identifies the example in the report and seeds its δ0.
    public var id: Int

    /// Splits dev batches into single examples (ids 0, 1, … in order), each trimmed of trailing
    /// padding columns. Labels must be class ids ≥ 0.
    public static func split(_ batches: [TrainingBatch]) throws -> [RobustnessExample] {
        var examples: [RobustnessExample] = []
        for (index, batch) in batches.enumerated() {
            let input = batch.input
            let count = input.shape[0]
            guard case .classes(let labels) = batch.labels else { throw RobustnessError.regressionTargets(batch: index) }
            guard labels.count == count else {
                throw RobustnessError.labelCountMismatch(batch: index, expected: count, found: labels.count)
            }
            let per = input.inputIds.count / max(count, 1)
            let (t, rows) = (input.length, per / input.length)  // rows = choices (1 for classification)
            for b in 0..<count {
                guard labels[b] >= 0 else { throw RobustnessError.unlabelledExample(batch: index, example: b) }
                let range = (b * per)..<((b + 1) * per)
                let mask = Array(input.attentionMask[range])
                // keep columns up to the last real token of any choice
                var kept = 1
                for r in 0..<rows { for j in 0..<t where mask[r * t + j] != 0 { kept = max(kept, j + 1) } }
                func trim(_ values: ArraySlice<Int32>) -> [Int32] {
                    let v = Array(values)
                    return (0..<rows).flatMap { r in v[(r * t)..<(r * t + kept)] }
                }
                let shape = [1] + input.shape.dropFirst().dropLast() + [kept]
                let single = EncoderInput(
                    inputIds: trim(input.inputIds[range]), tokenTypeIds: trim(input.tokenTypeIds[range]),
                    attentionMask: trim(input.attentionMask[range]), shape: shape)
                examples.append(RobustnessExample(input: single, label: labels[b], id: examples.count))
            }
        }
        return examples
    }

    public init(input: EncoderInput, label: Int32, id: Int) {
        self.input = input
        self.label = label
        self.id = id
    }
}

/// Settings of the attack (docs/method.md §13 defaults).
public struct AttackSettings: Codable, Equatable, Sendable {
    /// N: ascent steps at most (one loss recorded per step).
    public var maxSteps: Int
    /// α of the L2-normalised ascent step.
    public var stepSize: Float
    public var earlyStop: Bool
    /// Consecutive flat steps on the sphere that stop an example.
    public var patience: Int
    /// A step is flat when |ℓ_t − ℓ_{t−1}| ≤ relativeTolerance · |ℓ_{t−1}|.
    public var relativeTolerance: Double
    /// δ_b is on the sphere when ‖δ_b‖ ≥ r(1 − sphereTolerance).
    public var sphereTolerance: Double
    /// Examples attacked together in one forward/backward pass.
    public var batchSize: Int
    /// Seeds δ0 (with each example's id).
    public var seed: UInt64
    /// Stop an example as soon as its max loss exceeds this (the radius search only needs to know that it does).
    public var stopAboveLoss: Double?

    public init(
        maxSteps: Int = 2000, stepSize: Float = 5e-3, earlyStop: Bool = true, patience: Int = 50,
        relativeTolerance: Double = 1e-5, sphereTolerance: Double = 1e-6, batchSize: Int = 32, seed: UInt64 = 0
    ) {
        self.maxSteps = maxSteps
        self.stepSize = stepSize
        self.earlyStop = earlyStop
        self.patience = patience
        self.relativeTolerance = relativeTolerance
        self.sphereTolerance = sphereTolerance
        self.batchSize = batchSize
        self.seed = seed
    }

    func validate() throws {
        if maxSteps < 1 { throw RobustnessError.invalidSetting(field: "maxSteps", value: Double(maxSteps), expected: "≥ 1") }
        if !(stepSize > 0) { throw RobustnessError.invalidSetting(field: "stepSize", value: Double(stepSize), expected: "> 0") }
        if patience < 1 { throw RobustnessError.invalidSetting(field: "patience", value: Double(patience), expected: "≥ 1") }
        if !(relativeTolerance >= 0) {
            throw RobustnessError.invalidSetting(field: "relativeTolerance", value: relativeTolerance, expected: "≥ 0")
        }
        if !(sphereTolerance >= 0 && sphereTolerance < 1) {
            throw RobustnessError.invalidSetting(field: "sphereTolerance", value: sphereTolerance, expected: "in [0, 1)")
        }
        if batchSize < 1 { throw RobustnessError.invalidSetting(field: "batchSize", value: Double(batchSize), expected: "≥ 1") }
    }
}

/// The attack on one example.
public struct AttackResult: Codable, Equatable, Sendable {
    public var radius: Float
    /// Max of the recorded losses ℓ(δ_0), …, ℓ(δ_{steps−1}).
    public var maxLoss: Double
    /// ℓ at δ = 0.
    public var cleanLoss: Double
    /// Losses recorded (= forward/backward passes).
    public var steps: Int
    public var earlyStopped: Bool
    /// Largest ‖δ_b‖_F of any δ the attack produced (δ0 and every projected step).
    public var maxPerturbationNorm: Double

    public var increment: Double { maxLoss - cleanLoss }
}

/// The attack; the radius search (RadiusSearch.swift) and the comparison (RobustnessReport.swift) extend it.
public enum RobustnessAnalysis {
    /// Attacks every example at one radius. Results in `examples` order.
    public static func attack(
        _ model: TransformerClassifier, examples: [RobustnessExample], radius: Float,
        settings: AttackSettings = AttackSettings()
    ) throws -> [AttackResult] {
        try attack(model, examples: examples, radii: Array(repeating: radius, count: examples.count), settings: settings)
    }

    /// Attacks example i at radius `radii[i]`, in batches of `settings.batchSize`. Results in `examples` order.
    public static func attack(
        _ model: TransformerClassifier, examples: [RobustnessExample], radii: [Float],
        settings: AttackSettings = AttackSettings()
    ) throws -> [AttackResult] {
        try settings.validate()
        guard radii.count == examples.count else {
            throw RobustnessError.radiusCountMismatch(examples: examples.count, radii: radii.count)
        }
        for r in radii where !(r > 0 && r.isFinite) {
            throw RobustnessError.invalidSetting(field: "radius", value: Double(r), expected: "> 0 and finite")
        }
        try check(model, name: "model", examples: examples)
        let wasTraining = model.isTraining
        model.eval()
        defer { model.train(wasTraining) }
        var results: [AttackResult] = []
        for start in stride(from: 0, to: examples.count, by: settings.batchSize) {
            let end = min(examples.count, start + settings.batchSize)
            results += try attackBatch(model, Array(examples[start..<end]), radii: Array(radii[start..<end]), settings: settings)
        }
        return results
    }

    /// State of one example during an attack.
    private struct Slot {
        let example: RobustnessExample
        /// m_b, the example's real tokens
        let mask: PerturbationMask
        /// The ascent step: radius r (step.radius), α
        let step: PerturbationConfig
        /// δ_b: [1, T_b, d] or [1, C, T_b, d]
        var delta: Tensor
        var result: AttackResult
        /// The last loss, and the flat steps on the sphere in a row that ended with it (early stop)
        var previousLoss: Double?, flatSteps = 0
        var done = false
    }

    private static func attackBatch(
        _ model: TransformerClassifier, _ examples: [RobustnessExample], radii: [Float],
        settings: AttackSettings
    ) throws -> [AttackResult] {
        let width = model.config.embeddingSize
        let batcher = try makeBatcher(examples, padTokenId: model.config.padTokenId, batchSize: examples.count)
        let clean = withNoGrad {  // ℓ at δ = 0, per example
            doubles(
                model(batcher.makeBatch(Array(examples.indices)).trainingBatch.input).logits
                    .crossEntropyPerExample(labels: examples.map(\.label)))
        }
        var slots: [Slot] = zip(examples, radii).enumerated().map { i, pair in
            let (example, r) = pair
            let mask = PerturbationMask(example.input, width: width)
            // δ0 = U(−1,1) ⊙ m · r/√(L·d): docs/method.md §3 with μ = r
            let config = PerturbationConfig(norm: .l2, initMagnitude: r, radius: r, stepSize: settings.stepSize)
            var generator = SeededGenerator(
                seed: settings.seed ^ (UInt64(bitPattern: Int64(example.id)) &* 0xD1B5_4A32_D192_ED03))
            let delta = Perturbation.initial(
                shape: model.perturbationShape(example.input), mask: mask, config: config,
                generator: &generator)
            let result = AttackResult(
                radius: r, maxLoss: -.infinity, cleanLoss: clean[i], steps: 0, earlyStopped: false,
                maxPerturbationNorm: norm(delta))
            return Slot(example: example, mask: mask, step: config, delta: delta, result: result)
        }
        var active: [Int] = []
        var batch: TrainingBatch?
        for _ in 0..<settings.maxSteps {
            let now = slots.indices.filter { !slots[$0].done }
            if now.isEmpty { break }
            if now != active || batch == nil {  // finished examples leave the batch
                active = now
                batch = batcher.makeBatch(active).trainingBatch
            }
            guard let batch else { break }
            let leaf = gatherDelta(active.map { slots[$0].delta }, batch.input, width: width).detachedCopy(requiresGrad: true)
            let logits = model(batch.input, perturbation: leaf).logits  // [B, classes] or [B, C]
            let rowLosses = logits.crossEntropyPerExample(labels: active.map { slots[$0].example.label })  // [B]
            let losses = doubles(rowLosses)
            // the mean loss: ∂/∂δ_b involves example b only, and the 1/B factor vanishes in the normalised step
            rowLosses.mean().backward(onlyInto: [leaf])
            let gradient = leaf.grad ?? Tensor(zeros: leaf.shape)
            for (row, s) in active.enumerated() {
                let loss = losses[row]
                var slot = slots[s]
                slot.result.steps += 1
                slot.result.maxLoss = max(slot.result.maxLoss, loss)
                if let cap = settings.stopAboveLoss, slot.result.maxLoss > cap {
                    slot.done = true
                    slots[s] = slot
                    continue
                }
                if let previous = slot.previousLoss,
                    norm(slot.delta) >= Double(slot.step.radius) * (1 - settings.sphereTolerance),
                    abs(loss - previous) <= settings.relativeTolerance * abs(previous)
                {
                    slot.flatSteps += 1
                } else {
                    slot.flatSteps = 0
                }
                slot.previousLoss = loss
                if settings.earlyStop && slot.flatSteps >= settings.patience {
                    slot.result.earlyStopped = true
                    slot.done = true
                } else {
                    // δ_b ← project_r(δ_b + α g_b/‖g_b‖), docs/method.md §5
                    let g = scatterRow(gradient, row: row, batch.input, like: slot.delta, width: width)
                    slot.delta = Perturbation.ascend(slot.delta, gradient: g, mask: slot.mask, config: slot.step)
                    slot.result.maxPerturbationNorm = max(slot.result.maxPerturbationNorm, norm(slot.delta))
                }
                slots[s] = slot
            }
        }
        return slots.map(\.result)
    }

    /// ‖t‖_F in Double.
    private static func norm(_ t: Tensor) -> Double { t.l2Norm() }

    /// The examples as one Batcher (the data layer pads): batches [B, T] or [B, C, T], labels as class ids.
    /// Indices into the Batcher are positions in `examples`.
    private static func makeBatcher(_ examples: [RobustnessExample], padTokenId: Int, batchSize: Int) throws -> Batcher {
        let encoded = examples.map { example -> [Encoding] in
            let input = example.input, t = input.length
            return (0..<input.sequences).map { r in
                let range = (r * t)..<((r + 1) * t)
                return Encoding(
                    ids: Array(input.inputIds[range]), typeIds: Array(input.tokenTypeIds[range]),
                    attentionMask: Array(input.attentionMask[range]), tokens: [])
            }
        }
        return try Batcher(
            encoded: encoded, labelIds: examples.map(\.label), padId: Int32(padTokenId), batchSize: batchSize,
            isMultipleChoice: examples.first?.input.shape.count == 3)
    }

    /// Per-example δs ([1, (C,) T_b, d]) → the batch's δ ([B, (C,) T, d], zero padding).
    private static func gatherDelta(_ deltas: [Tensor], _ input: EncoderInput, width: Int) -> Tensor {
        let (rows, t) = (input.sequences / deltas.count, input.length)
        let out = Tensor(zeros: [input.sequences, t, width])
        for (b, delta) in deltas.enumerated() {
            let own = delta.count / (rows * width)
            for r in 0..<rows {
                (out.data + ((b * rows + r) * t) * width).update(from: delta.data + r * own * width, count: own * width)
            }
        }
        return out.reshaped(input.shape + [width])
    }

    /// Row `row` of the batch gradient, cut back to the shape of `like` ([1, (C,) T_b, d]).
    private static func scatterRow(_ gradient: Tensor, row b: Int, _ input: EncoderInput, like delta: Tensor, width: Int)
        -> Tensor
    {
        let rows = input.sequences / input.shape[0], t = input.length
        let own = delta.count / (rows * width)
        let out = Tensor(zeros: delta.shape)
        for r in 0..<rows {
            (out.data + r * own * width).update(from: gradient.data + ((b * rows + r) * t) * width, count: own * width)
        }
        return out
    }

    /// The elements of a [B] tensor, in Double.
    private static func doubles(_ t: Tensor) -> [Double] { (0..<t.count).map { Double(t.data[$0]) } }

    /// Whether the model (eval mode, no graph) puts the largest logit on each example's label.
    public static func classifiesCorrectly(
        _ model: TransformerClassifier, examples: [RobustnessExample],
        batchSize: Int = 32
    ) throws -> [Bool] {
        try check(model, name: "model", examples: examples)
        guard !examples.isEmpty else { return [] }
        let batcher = try makeBatcher(examples, padTokenId: model.config.padTokenId, batchSize: max(1, batchSize))
        let logits = evaluate(model, batches: batcher.batches().map(\.trainingBatch)).logits
        return zip(logits, examples).map { row, example in
            row.indices.max { row[$0] < row[$1] } == Int(example.label)
        }
    }

    /// Rejects regression models, labels outside the logits and mixed choice counts.
    static func check(_ model: TransformerClassifier, name: String, examples: [RobustnessExample]) throws {
        guard model.kind != .regression else { throw RobustnessError.unsupportedTask(model: name, kind: model.kind) }
        guard let first = examples.first else { return }
        let choices = first.input.shape.count == 3 ? first.input.shape[1] : 1
        for example in examples {
            let found = example.input.shape.count == 3 ? example.input.shape[1] : 1
            if found != choices {
                throw RobustnessError.inconsistentChoices(exampleID: example.id, expected: choices, found: found)
            }
            let classes = model.kind == .multipleChoice ? found : model.config.numLabels
            if example.label < 0 || Int(example.label) >= classes {
                throw RobustnessError.labelOutOfRange(exampleID: example.id, label: example.label, classes: classes)
            }
        }
    }
}
