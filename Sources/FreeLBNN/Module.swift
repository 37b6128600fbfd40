// Modules: classes with `callAsFunction`, explicit train/eval mode, and parameters named by
// their Hugging Face key paths (so checkpoints load without renaming).
import FreeLBTensor

open class Module {
    /// Training mode enables dropout.
    public private(set) var isTraining = true

    public init() {}

    /// (name, module) for each direct child; names are path components ("encoder", "layer.0").
    open var children: [(String, Module)] { [] }
    /// (name, tensor) for parameters owned directly by this module ("weight", "bias").
    open var ownParameters: [(String, Tensor)] { [] }

    /// Every parameter with its full dotted path, in a stable order.
    public func namedParameters(prefix: String = "") -> [(String, Tensor)] {
        var result = ownParameters.map { (prefix + $0.0, $0.1) }
        for (name, child) in children { result += child.namedParameters(prefix: prefix + name + ".") }
        return result
    }

    public var parameters: [Tensor] { namedParameters().map(\.1) }

    public func train(_ on: Bool = true) {
        isTraining = on
        for (_, child) in children { child.train(on) }
    }

    public func eval() { train(false) }

    public func zeroGrad() { for p in parameters { p.zeroGrad() } }

    /// Marks every parameter as a gradient leaf and sets its name to its path.
    public func prepareParameters() {
        for (name, p) in namedParameters() {
            p.requiringGrad()
            p.name = name
        }
    }
}

/// y = x Wᵀ + b, W [out, in].
public final class Linear: Module {
    public let weight: Tensor
    public let bias: Tensor?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) {
        weight = Tensor(zeros: [outFeatures, inFeatures])
        self.bias = bias ? Tensor(zeros: [outFeatures]) : nil
    }

    public override var ownParameters: [(String, Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.linear(weight: weight, bias: bias) }
}

public final class LayerNorm: Module {
    public let weight: Tensor
    public let bias: Tensor
    public let eps: Float

    public init(_ width: Int, eps: Float) {
        weight = Tensor(repeating: 1, shape: [width])
        bias = Tensor(zeros: [width])
        self.eps = eps
    }

    public override var ownParameters: [(String, Tensor)] { [("weight", weight), ("bias", bias)] }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.layerNorm(gamma: weight, beta: bias, eps: eps) }
}

public final class Embedding: Module {
    public let weight: Tensor
    public let paddingIndex: Int?

    public init(_ count: Int, _ width: Int, paddingIndex: Int? = nil) {
        weight = Tensor(zeros: [count, width])
        self.paddingIndex = paddingIndex
    }

    public override var ownParameters: [(String, Tensor)] { [("weight", weight)] }

    /// ids with shape `shape` → shape + [width]
    public func callAsFunction(_ ids: [Int32], shape: [Int]) -> Tensor {
        weight.gather(ids: ids, shape: shape, paddingIndex: paddingIndex)
    }
}
