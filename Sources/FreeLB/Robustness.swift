// Robustness analysis, "maximum increment of loss" (docs/method.md §13, paper §4.3, Table 5). Models run in eval
// mode; δ lives in word-embedding space (§2) and is bounded in L2, per example:
//   1. keep the dev examples every compared model classifies correctly;
//   2. radius r_b of each kept example from the anchor model: the first value of the descending grid
//      linspace(R, 1e-2, 11) ++ linspace(9e-3, 1e-4, 11) at which attack(anchor, r) keeps max loss ≤ ln 2;
//   3. attack(model, r): δ0 = U(−1,1) ⊙ m · r/√(L·d) (§3 with μ = r); up to N steps of
//      "record the loss, δ ← project_r(δ + α g/‖g‖)" (§5 with ε = r); stop once `patience`
//      consecutive steps change the loss by a relative ≤ 1e-5 while ‖δ‖ ≥ r(1 − 1e-6); return the max loss;
//   4. per model: median, mean, std of (max loss − clean loss) at the anchor's radii, and n.
// Examples are attacked as batches; every example has its own δ_b, normaliser, projection, radius and
// early stop (finished examples leave the batch). δ0 of example b comes from its own generator, seeded
// from (seed, example id), so the result does not depend on how examples are grouped into batches.
import Foundation
import FreeLBModels
import FreeLBTensor

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
            return "robustness: model '\(m)' is a \(k.rawValue) model; only classification and multiple choice have a cross-entropy loss"
        case .labelCountMismatch(let b, let e, let f): return "robustness: batch \(b): field 'labels' has \(f) entries, expected \(e)"
        case .regressionTargets(let b): return "robustness: batch \(b): field 'labels' holds regression targets, expected class ids"
        case .unlabelledExample(let b, let e): return "robustness: batch \(b) example \(e): field 'labels' is negative (unlabelled)"
        case .labelOutOfRange(let id, let l, let c): return "robustness: example \(id): field 'labels' is \(l), expected 0..<\(c)"
        case .inconsistentChoices(let id, let e, let f):
            return "robustness: example \(id): field 'input.shape' has \(f) choices, expected \(e) like the others"
        case .invalidSetting(let f, let v, let e): return "robustness: setting '\(f)' is \(v), expected \(e)"
        case .radiusCountMismatch(let e, let r): return "robustness: \(r) radii for \(e) examples"
        case .noCommonlyCorrectExamples(let n): return "robustness: none of the \(n) examples is classified correctly by every model"
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

    public init(input: EncoderInput, label: Int32, id: Int) {
        self.input = input
        self.label = label
        self.id = id
    }

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
            let (t, rows) = (input.length, per / input.length)   // rows = choices (1 for classification)
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
                let single = EncoderInput(inputIds: trim(input.inputIds[range]), tokenTypeIds: trim(input.tokenTypeIds[range]),
                                          attentionMask: trim(input.attentionMask[range]), shape: shape)
                examples.append(RobustnessExample(input: single, label: labels[b], id: examples.count))
            }
        }
        return examples
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

    public init(maxSteps: Int = 2000, stepSize: Float = 5e-3, earlyStop: Bool = true, patience: Int = 50,
                relativeTolerance: Double = 1e-5, sphereTolerance: Double = 1e-6, batchSize: Int = 32, seed: UInt64 = 0) {
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

/// The radius found for one example, with the anchor's attack at that radius.
public struct RadiusSearchResult: Codable, Equatable, Sendable {
    public var radius: Float
    /// Position of `radius` in `RobustnessAnalysis.radiusGrid(R)`.
    public var gridIndex: Int
    public var anchorAttack: AttackResult
    /// The first loss above ln 2 that the anchor's attack met at the previous (larger) grid value
    /// (that attack stops there); nil at index 0.
    public var largerRadiusMaxLoss: Double?
}

/// Median, mean and population standard deviation (ddof 0, numpy's default) of a sample.
public struct SampleSummary: Codable, Equatable, Sendable {
    public var median: Double
    public var mean: Double
    public var std: Double
    public var count: Int

    public init(_ values: [Double]) {
        count = values.count
        guard !values.isEmpty else { median = .nan; mean = .nan; std = .nan; return }
        let sorted = values.sorted()
        let mid = sorted.count / 2
        median = sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
        mean = values.reduce(0, +) / Double(values.count)
        let m = mean
        std = (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count)).squareRoot()
    }
}

public struct RobustnessReport: Codable, Equatable, Sendable {
    public struct ModelSummary: Codable, Equatable, Sendable {
        public var name: String
        /// Statistics of max loss − clean loss over the examples with a radius.
        public var increment: SampleSummary
        public var meanCleanLoss: Double
        public var meanMaxLoss: Double
        public var examples: Int { increment.count }
    }

    public struct ExampleRecord: Codable, Equatable, Sendable {
        public var id: Int
        /// The anchor's radius for this example.
        public var radius: Float
        /// Model name → attack at `radius`.
        public var attacks: [String: AttackResult]
    }

    public var anchor: String
    /// Model names, in the order given.
    public var models: [String]
    /// R, the largest radius of the grid.
    public var searchRadius: Float
    public var settings: AttackSettings
    /// Dev examples given.
    public var totalExamples: Int
    /// Examples every model classifies correctly.
    public var commonlyCorrect: Int
    /// Ids of commonly-correct examples whose anchor loss exceeds ln 2 even at the smallest radius (left out).
    public var withoutRadius: [Int]
    public var summaries: [ModelSummary]
    /// Per example (ids ascending): radius and every model's attack.
    public var examples: [ExampleRecord]

    /// max loss − clean loss of `model` per example, in `examples` order.
    public func increments(of model: String) -> [Double] {
        examples.compactMap { $0.attacks[model]?.increment }
    }

    /// The paper's Table 5 layout.
    public func markdownTable() -> String {
        func f(_ x: Double) -> String { String(format: "%.4f", x) }
        var lines = ["| model | median Δloss | mean Δloss | std Δloss | clean loss | n |",
                     "|---|---:|---:|---:|---:|---:|"]
        for s in summaries {
            let name = s.name == anchor ? "\(s.name) (anchor)" : s.name
            let cells = [name, f(s.increment.median), f(s.increment.mean), f(s.increment.std), f(s.meanCleanLoss), "\(s.examples)"]
            lines.append("| " + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(self)
    }

    public static func decode(_ data: Data) throws -> RobustnessReport {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(RobustnessReport.self, from: data)
    }

    public func write(to url: URL) throws { try jsonData().write(to: url, options: .atomic) }
    public static func read(from url: URL) throws -> RobustnessReport { try decode(Data(contentsOf: url)) }
}

public enum RobustnessAnalysis {
    /// The loss threshold of the radius search: ln 2.
    public static let lossThreshold = log(2.0)

    /// linspace(R, 1e-2, 11) ++ linspace(9e-3, 1e-4, 11), descending, repeated values dropped.
    public static func radiusGrid(_ searchRadius: Float) -> [Float] {
        func linspace(_ a: Double, _ b: Double, _ n: Int) -> [Float] {
            (0..<n).map { Float(a + (b - a) * Double($0) / Double(n - 1)) }
        }
        var grid: [Float] = []
        for r in linspace(Double(searchRadius), 1e-2, 11) + linspace(9e-3, 1e-4, 11) where grid.last != r { grid.append(r) }
        return grid
    }

    // MARK: attack

    /// Attacks every example at one radius. Results in `examples` order.
    public static func attack(_ model: TransformerClassifier, examples: [RobustnessExample], radius: Float,
                              settings: AttackSettings = AttackSettings()) throws -> [AttackResult] {
        try attack(model, examples: examples, radii: Array(repeating: radius, count: examples.count), settings: settings)
    }

    /// Attacks example i at radius `radii[i]`, in batches of `settings.batchSize`. Results in `examples` order.
    public static func attack(_ model: TransformerClassifier, examples: [RobustnessExample], radii: [Float],
                              settings: AttackSettings = AttackSettings()) throws -> [AttackResult] {
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
            results += attackBatch(model, Array(examples[start..<end]), radii: Array(radii[start..<end]), settings: settings)
        }
        return results
    }

    /// State of one example during an attack.
    private struct Slot {
        let example: RobustnessExample
        let radius: Float
        let mask: PerturbationMask
        let step: PerturbationConfig
        /// δ_b: [1, T_b, d] or [1, C, T_b, d]
        var delta: Tensor
        var result: AttackResult
        var previousLoss: Double?
        var flatSteps = 0
        var done = false
    }

    private static func attackBatch(_ model: TransformerClassifier, _ examples: [RobustnessExample], radii: [Float],
                                    settings: AttackSettings) -> [AttackResult] {
        let width = model.config.embeddingSize
        let clean = perExampleLosses(model, examples)
        var slots: [Slot] = zip(examples, radii).enumerated().map { i, pair in
            let (example, r) = pair
            let mask = PerturbationMask(example.input, width: width)
            // δ0 = U(−1,1) ⊙ m · r/√(L·d): docs/method.md §3 with μ = r
            let config = PerturbationConfig(norm: .l2, initMagnitude: r, radius: r, stepSize: settings.stepSize)
            var generator = SeededGenerator(seed: settings.seed ^ (UInt64(bitPattern: Int64(example.id)) &* 0xD1B5_4A32_D192_ED03))
            let delta = Perturbation.initial(shape: model.perturbationShape(example.input), mask: mask, config: config,
                                             generator: &generator)
            let result = AttackResult(radius: r, maxLoss: -.infinity, cleanLoss: clean[i], steps: 0, earlyStopped: false,
                                      maxPerturbationNorm: norm(delta))
            return Slot(example: example, radius: r, mask: mask, step: config, delta: delta, result: result)
        }
        var active: [Int] = []
        var batch: TrainingBatch?
        for _ in 0..<settings.maxSteps {
            let now = slots.indices.filter { !slots[$0].done }
            if now.isEmpty { break }
            if now != active || batch == nil {               // finished examples leave the batch
                active = now
                batch = makeBatch(active.map { slots[$0].example }, padTokenId: model.config.padTokenId)
            }
            guard let batch else { break }
            let leaf = gatherDelta(active.map { slots[$0].delta }, batch.input, width: width).detachedCopy(requiresGrad: true)
            let logits = model(batch.input, perturbation: leaf).logits          // [B, classes] or [B, C]
            let losses = crossEntropyRows(logits, batch.labels)
            // the mean loss: ∂/∂δ_b involves example b only, and the 1/B factor vanishes in the normalised step
            model.loss(logits, batch.labels).backward(onlyInto: [leaf])
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
                   norm(slot.delta) >= Double(slot.radius) * (1 - settings.sphereTolerance),
                   abs(loss - previous) <= settings.relativeTolerance * abs(previous) {
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

    /// Pads single examples to a common length T into one batch: [B, T] or [B, C, T].
    private static func makeBatch(_ examples: [RobustnessExample], padTokenId: Int) -> TrainingBatch {
        let first = examples[0].input
        let rows = first.sequences
        let t = examples.map(\.input.length).max() ?? 1
        var ids: [Int32] = [], types: [Int32] = [], mask: [Int32] = []
        for example in examples {
            let input = example.input, own = input.length, pad = t - own
            for r in 0..<rows {
                let range = (r * own)..<((r + 1) * own)
                ids += input.inputIds[range] + Array(repeating: Int32(padTokenId), count: pad)
                types += input.tokenTypeIds[range] + Array(repeating: 0, count: pad)
                mask += input.attentionMask[range] + Array(repeating: 0, count: pad)
            }
        }
        let shape = [examples.count] + first.shape.dropFirst().dropLast() + [t]
        return TrainingBatch(input: EncoderInput(inputIds: ids, tokenTypeIds: types, attentionMask: mask, shape: shape),
                             labels: .classes(examples.map(\.label)))
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
    private static func scatterRow(_ gradient: Tensor, row b: Int, _ input: EncoderInput, like delta: Tensor, width: Int) -> Tensor {
        let rows = input.sequences / input.shape[0], t = input.length
        let own = delta.count / (rows * width)
        let out = Tensor(zeros: delta.shape)
        for r in 0..<rows {
            (out.data + r * own * width).update(from: gradient.data + ((b * rows + r) * t) * width, count: own * width)
        }
        return out
    }

    /// Cross-entropy of every row of logits [B, K] against class ids, in Double.
    private static func crossEntropyRows(_ logits: Tensor, _ labels: Labels) -> [Double] {
        guard case .classes(let classes) = labels else { return [] }
        let k = logits.shape[1]
        return classes.enumerated().map { row, label in
            let values = (0..<k).map { Double(logits.data[row * k + $0]) }
            let top = values.max() ?? 0
            let logSum = top + log(values.reduce(0) { $0 + exp($1 - top) })
            return logSum - values[Int(label)]
        }
    }

    /// Eval-mode logits rows of every example, without a graph. Call with the model in eval mode.
    private static func logitRows(_ model: TransformerClassifier, _ examples: [RobustnessExample], batchSize: Int = 32) -> [[Float]] {
        var rows: [[Float]] = []
        withNoGrad {
            for start in stride(from: 0, to: examples.count, by: batchSize) {
                let batch = makeBatch(Array(examples[start..<min(examples.count, start + batchSize)]), padTokenId: model.config.padTokenId)
                let logits = model(batch.input).logits
                let k = logits.shape[1]
                for r in 0..<logits.shape[0] { rows.append(Array(UnsafeBufferPointer(start: logits.data + r * k, count: k))) }
            }
        }
        return rows
    }

    private static func perExampleLosses(_ model: TransformerClassifier, _ examples: [RobustnessExample]) -> [Double] {
        let rows = logitRows(model, examples, batchSize: max(1, examples.count))
        return zip(rows, examples).map { row, example in
            crossEntropyRows(Tensor(shape: [1, row.count], values: row), .classes([example.label]))[0]
        }
    }

    /// Whether the model (eval mode, no graph) puts the largest logit on each example's label.
    public static func classifiesCorrectly(_ model: TransformerClassifier, examples: [RobustnessExample],
                                           batchSize: Int = 32) throws -> [Bool] {
        try check(model, name: "model", examples: examples)
        let wasTraining = model.isTraining
        model.eval()
        defer { model.train(wasTraining) }
        return zip(logitRows(model, examples, batchSize: max(1, batchSize)), examples).map { row, example in
            row.indices.max { row[$0] < row[$1] } == Int(example.label)
        }
    }

    /// Rejects regression models, labels outside the logits and mixed choice counts.
    private static func check(_ model: TransformerClassifier, name: String, examples: [RobustnessExample]) throws {
        guard model.kind != .regression else { throw RobustnessError.unsupportedTask(model: name, kind: model.kind) }
        guard let first = examples.first else { return }
        let choices = first.input.shape.count == 3 ? first.input.shape[1] : 1
        for example in examples {
            let found = example.input.shape.count == 3 ? example.input.shape[1] : 1
            if found != choices { throw RobustnessError.inconsistentChoices(exampleID: example.id, expected: choices, found: found) }
            let classes = model.kind == .multipleChoice ? found : model.config.numLabels
            if example.label < 0 || Int(example.label) >= classes {
                throw RobustnessError.labelOutOfRange(exampleID: example.id, label: example.label, classes: classes)
            }
        }
    }

    // MARK: radius search

    /// The radius of one example (nil when the anchor's max loss exceeds ln 2 at every grid value).
    public static func findRadius(anchor: TransformerClassifier, example: RobustnessExample, searchRadius: Float,
                                  settings: AttackSettings = AttackSettings()) throws -> RadiusSearchResult? {
        try findRadii(anchor: anchor, examples: [example], searchRadius: searchRadius, settings: settings)[0]
    }

    /// Walks `radiusGrid(R)` downwards for all examples at once: at each grid value the examples still
    /// without a radius are attacked (with early stop, as docs/method.md §13 asks, whatever `settings.earlyStop`
    /// says), and those whose max loss is ≤ ln 2 take that radius. An attack stops as soon as its loss passes
    /// ln 2, which decides that grid value without changing any radius.
    public static func findRadii(anchor: TransformerClassifier, examples: [RobustnessExample], searchRadius: Float,
                                 settings: AttackSettings = AttackSettings(),
                                 progress: (([String: Any]) -> Void)? = nil) throws -> [RadiusSearchResult?] {
        guard searchRadius >= 1e-2, searchRadius.isFinite else {
            throw RobustnessError.invalidSetting(field: "searchRadius", value: Double(searchRadius), expected: "≥ 1e-2 and finite")
        }
        var search = settings
        search.earlyStop = true
        search.stopAboveLoss = lossThreshold   // past ln 2 the radius fails whatever the rest of the attack does
        var found = [RadiusSearchResult?](repeating: nil, count: examples.count)
        var pending = Array(examples.indices)
        var lastMaxLoss = [Double?](repeating: nil, count: examples.count)
        for (index, r) in radiusGrid(searchRadius).enumerated() where !pending.isEmpty {
            let results = try attack(anchor, examples: pending.map { examples[$0] }, radius: r, settings: search)
            var still: [Int] = []
            for (i, result) in zip(pending, results) {
                if result.maxLoss <= lossThreshold {
                    found[i] = RadiusSearchResult(radius: r, gridIndex: index, anchorAttack: result, largerRadiusMaxLoss: lastMaxLoss[i])
                } else {
                    lastMaxLoss[i] = result.maxLoss
                    still.append(i)
                }
            }
            progress?(["event": "radius", "radius": Double(r), "attacked": pending.count, "found": pending.count - still.count,
                       "pending": still.count])
            pending = still
        }
        return found
    }

    // MARK: comparison (Table 5)

    /// Steps 1–4 of docs/method.md §13 on dev batches. Every model is attacked at the anchor's radii
    /// with `settings`;
    /// the anchor's attacks are reused from its radius search (same δ0, same steps) when `settings.earlyStop`.
    /// `progress` receives one JSON-ready event per stage (kept examples, each grid radius, each model attacked).
    public static func compare(models: [(name: String, model: TransformerClassifier)], anchor: String,
                               batches: [TrainingBatch], searchRadius: Float,
                               settings: AttackSettings = AttackSettings(),
                               progress: (([String: Any]) -> Void)? = nil) throws -> RobustnessReport {
        try compare(models: models, anchor: anchor, examples: RobustnessExample.split(batches),
                    searchRadius: searchRadius, settings: settings, progress: progress)
    }

    public static func compare(models: [(name: String, model: TransformerClassifier)], anchor: String,
                               examples: [RobustnessExample], searchRadius: Float,
                               settings: AttackSettings = AttackSettings(),
                               progress: (([String: Any]) -> Void)? = nil) throws -> RobustnessReport {
        guard !models.isEmpty else { throw RobustnessError.noModels }
        let names = models.map(\.name)
        for (i, name) in names.enumerated() where names[..<i].contains(name) { throw RobustnessError.duplicateModelName(name) }
        guard let anchorModel = models.first(where: { $0.name == anchor })?.model else {
            throw RobustnessError.unknownAnchor(anchor, available: names)
        }
        try settings.validate()
        for (name, model) in models { try check(model, name: name, examples: examples) }
        // 1. examples every model classifies correctly
        var correct = [Bool](repeating: true, count: examples.count)
        for (_, model) in models {
            for (i, ok) in try classifiesCorrectly(model, examples: examples, batchSize: settings.batchSize).enumerated() where !ok {
                correct[i] = false
            }
        }
        let kept = examples.indices.filter { correct[$0] }.map { examples[$0] }
        guard !kept.isEmpty else { throw RobustnessError.noCommonlyCorrectExamples(examples: examples.count) }
        progress?(["event": "kept", "examples": examples.count, "commonly_correct": kept.count])
        // 2. radii from the anchor
        let search = try findRadii(anchor: anchorModel, examples: kept, searchRadius: searchRadius, settings: settings,
                                   progress: progress)
        let withRadius = kept.indices.filter { search[$0] != nil }
        let attacked = withRadius.map { kept[$0] }
        let radii = withRadius.compactMap { search[$0]?.radius }
        // 3. every model at the anchor's radii
        // (the search always stops early; without early stop the anchor is attacked again like the others)
        var attacks: [String: [AttackResult]] = [:]
        if settings.earlyStop { attacks[anchor] = withRadius.compactMap { search[$0]?.anchorAttack } }
        for (name, model) in models where attacks[name] == nil {
            attacks[name] = try attack(model, examples: attacked, radii: radii, settings: settings)
            progress?(["event": "attacked", "model": name, "examples": attacked.count])
        }
        // 4. statistics
        let records = attacked.enumerated().map { j, example in
            let perModel = names.compactMap { n in attacks[n].map { (n, $0[j]) } }
            return RobustnessReport.ExampleRecord(id: example.id, radius: radii[j], attacks: Dictionary(uniqueKeysWithValues: perModel))
        }
        let summaries = names.map { name -> RobustnessReport.ModelSummary in
            let results = attacks[name] ?? []
            let n = results.isEmpty ? .nan : Double(results.count)
            return RobustnessReport.ModelSummary(name: name, increment: SampleSummary(results.map(\.increment)),
                                                 meanCleanLoss: results.reduce(0) { $0 + $1.cleanLoss } / n,
                                                 meanMaxLoss: results.reduce(0) { $0 + $1.maxLoss } / n)
        }
        return RobustnessReport(anchor: anchor, models: names, searchRadius: searchRadius, settings: settings,
                                totalExamples: examples.count, commonlyCorrect: kept.count,
                                withoutRadius: kept.indices.filter { search[$0] == nil }.map { kept[$0].id },
                                summaries: summaries, examples: records)
    }
}
