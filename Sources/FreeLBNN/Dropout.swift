// Dropout whose masks can be kept for a batch and reused across passes (FreeLB §5).
import FreeLBTensor

/// Owns the dropout masks of one batch. Every Dropout layer of a model shares one controller.
/// With `reuseMasks`, a mask sampled on the first pass of a batch is returned again on later passes;
/// `beginBatch()` drops them all (after the optimizer step).
public final class DropoutController {
    public var reuseMasks: Bool
    /// Data parallelism: this process holds examples `firstExample ..< firstExample + examples` of the global
    /// batch. A mask of shape [rows, …] (rows: `examples` × sequences or heads per example) then continues the
    /// global batch's counter stream at row `firstExample` × rows/`examples`, so every rank applies exactly the
    /// rows of the mask one process would draw for the whole batch. 0 examples: one process (no offset).
    public var firstExample = 0
    public var examples = 0
    private var generator: SeededGenerator
    private var masks: [String: DropoutMask] = [:]
    private var occurrences: [String: Int] = [:]

    public init(seed: UInt64, reuseMasks: Bool = true) {
        generator = SeededGenerator(seed: seed)
        self.reuseMasks = reuseMasks
    }

    /// Forget every mask (a new batch).
    public func beginBatch() {
        masks.removeAll(keepingCapacity: true)
        occurrences.removeAll(keepingCapacity: true)
    }

    /// Start a forward pass: masks are reused if `reuseMasks`, else resampled.
    public func beginPass() {
        occurrences.removeAll(keepingCapacity: true)
        if !reuseMasks { masks.removeAll(keepingCapacity: true) }
    }

    /// The mask for the `n`-th use of layer `key` in this pass.
    public func mask(for key: String, shape: [Int], probability: Float) -> DropoutMask {
        let n = occurrences[key, default: 0]
        occurrences[key] = n + 1
        let fullKey = n == 0 ? key : "\(key)#\(n)"
        if let existing = masks[fullKey], existing.shape == shape, existing.probability == probability {
            return existing
        }
        var counterOffset = 0
        if firstExample > 0 && examples > 0 {
            let count = shape.reduce(1, *)
            precondition(count % examples == 0, "dropout mask \(shape) does not split into \(examples) examples")
            counterOffset = firstExample * (count / examples)
        }
        let mask = DropoutMask(
            shape: shape, probability: probability, seed: generator.nextSeed(), counterOffset: counterOffset)
        masks[fullKey] = mask
        return mask
    }

    /// Masks currently held (for tests and diagnostics).
    var maskCount: Int { masks.count }  // tests

    /// The RNG state, for exact resume.
    public var generatorState: SeededGenerator {
        get { generator }
        set { generator = newValue }
    }
}

/// Inverted dropout; identity in eval mode or when p = 0.
public final class Dropout: Module {
    public let probability: Float
    public let key: String
    public let controller: DropoutController

    public init(_ probability: Float, key: String, controller: DropoutController) {
        self.probability = probability
        self.key = key
        self.controller = controller
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        guard isTraining, probability > 0 else { return x }
        return x.dropout(controller.mask(for: key, shape: x.shape, probability: probability))
    }

    /// The mask this layer would apply to a tensor of `shape`, or nil when inactive.
    public func mask(shape: [Int]) -> DropoutMask? {
        guard isTraining, probability > 0 else { return nil }
        return controller.mask(for: key, shape: shape, probability: probability)
    }
}
