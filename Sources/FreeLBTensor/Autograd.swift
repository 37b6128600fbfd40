// Reverse-mode autodiff on a tape of nodes. Any tensor marked requiresGrad is a leaf;
// backward() adds into the leaves' `grad`, so repeated passes accumulate.
import Foundation
import CFreeLBKernels

/// The backward rule of one op output: receives dL/d(output) and adds into its inputs' gradients.
final class GradNode {
    let inputs: [Tensor]
    let backward: (_ gradOutput: UnsafeMutablePointer<Float>, _ context: BackwardContext) -> Void

    init(inputs: [Tensor], backward: @escaping (UnsafeMutablePointer<Float>, BackwardContext) -> Void) {
        self.inputs = inputs
        self.backward = backward
    }
}

/// Where a backward rule writes an input's gradient: `overwrite` means the buffer is fresh (uninitialised)
/// and must be assigned, otherwise it must be accumulated into (+=).
public struct GradientSlot {
    public let pointer: UnsafeMutablePointer<Float>
    public let overwrite: Bool
}

public final class BackwardContext {
    var needsGradient: [ObjectIdentifier: Bool] = [:]

    func needs(_ t: Tensor) -> Bool { needsGradient[ObjectIdentifier(t)] ?? false }

    /// The gradient buffer of `input`, or nil when no gradient must flow there.
    func slot(_ input: Tensor) -> GradientSlot? {
        guard needs(input) else { return nil }
        if input.isLeaf {
            if let g = input.grad { return GradientSlot(pointer: g.data, overwrite: false) }
            let g = Tensor(uninitializedShape: input.shape)
            input.grad = g
            return GradientSlot(pointer: g.data, overwrite: true)
        }
        if let g = input.gradSlot { return GradientSlot(pointer: g.data, overwrite: false) }
        let g = Tensor(uninitializedShape: input.shape)
        input.gradSlot = g
        return GradientSlot(pointer: g.data, overwrite: true)
    }

    /// Like `slot`, but a fresh buffer is zeroed first, so the rule may always accumulate.
    func accumulatingSlot(_ input: Tensor) -> UnsafeMutablePointer<Float>? {
        guard let s = slot(input) else { return nil }
        if s.overwrite { s.pointer.initialize(repeating: 0, count: input.count) }
        return s.pointer
    }

    /// Writes `source` (count elements) into the slot of `input`: assign or add.
    func add(_ source: UnsafePointer<Float>, into input: Tensor) {
        guard let s = slot(input) else { return }
        let n = input.count
        if s.overwrite {
            s.pointer.update(from: source, count: n)
        } else {
            Kernels.addInPlace(s.pointer, source, n)
        }
    }

    /// Writes `scale · source` into the slot of `input`.
    func add(_ source: UnsafePointer<Float>, scaledBy scale: Float, into input: Tensor) {
        guard let s = slot(input) else { return }
        let n = input.count
        if s.overwrite { Kernels.scale(source, scale, s.pointer, n) } else { Kernels.axpy(scale, source, s.pointer, n) }
    }

    /// Runs `body(dst)` which overwrites dst with this input's contribution, then places it in the slot.
    func write(into input: Tensor, _ body: (UnsafeMutablePointer<Float>) -> Void) {
        guard let s = slot(input) else { return }
        if s.overwrite {
            body(s.pointer)
        } else {
            let tmp = Tensor(uninitializedShape: input.shape)
            body(tmp.data)
            Kernels.addInPlace(s.pointer, tmp.data, input.count)
        }
    }
}

public enum Autograd {
    nonisolated(unsafe) static var enabledDepth = 0
    /// False inside `withNoGrad`: ops record nothing.
    public static var isEnabled: Bool { enabledDepth == 0 }

    /// Evaluates `body` without recording a graph (evaluation, optimizer updates).
    public static func withNoGrad<T>(_ body: () throws -> T) rethrows -> T {
        enabledDepth += 1
        defer { enabledDepth -= 1 }
        return try body()
    }
}

public func withNoGrad<T>(_ body: () throws -> T) rethrows -> T { try Autograd.withNoGrad(body) }

extension Tensor {
    /// Records `backward` for an op output computed from `inputs`, if any input requires grad.
    @inline(__always)
    func record(
        _ inputs: [Tensor],
        _ backward: @escaping (UnsafeMutablePointer<Float>, BackwardContext) -> Void
    ) -> Tensor {
        guard Autograd.isEnabled, inputs.contains(where: { $0.requiresGrad }) else { return self }
        requiresGrad = true
        node = GradNode(inputs: inputs, backward: backward)
        return self
    }

    /// Back-propagates from this tensor. `gradient` defaults to ones (a scalar loss).
    /// Gradients are added into every reachable leaf's `grad` (or only into `leaves`, when given).
    /// The graph is freed afterwards.
    public func backward(gradient: Tensor? = nil, onlyInto leaves: [Tensor]? = nil) {
        precondition(requiresGrad, "backward() on a tensor that does not require grad")
        let selected = leaves.map { Set($0.map { ObjectIdentifier($0) }) }
        // Post-order DFS (iterative) over the graph.
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        let context = BackwardContext()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (t, expanded) = stack.popLast() {
            let id = ObjectIdentifier(t)
            if expanded {
                let needs: Bool
                if let node = t.node {
                    needs = node.inputs.contains { context.needs($0) }
                } else {
                    needs = t.requiresGrad && (selected?.contains(id) ?? true)
                }
                context.needsGradient[id] = needs
                order.append(t)
                continue
            }
            if visited.contains(id) { continue }
            visited.insert(id)
            stack.append((t, true))
            if let node = t.node {
                for input in node.inputs where !visited.contains(ObjectIdentifier(input)) && input.requiresGrad {
                    stack.append((input, false))
                }
            }
        }
        // Seed.
        let seed = Tensor(uninitializedShape: shape)
        if let gradient {
            precondition(gradient.count == count, "backward gradient \(gradient.shape) for \(shape)")
            seed.copy(from: gradient)
        } else {
            seed.fill(1)
        }
        if isLeaf {
            if context.needs(self) { context.add(seed.data, into: self) }
            return
        }
        gradSlot = seed
        for t in order.reversed() {
            guard let node = t.node else { continue }
            if let g = t.gradSlot {
                node.backward(g.data, context)
            }
            t.gradSlot = nil
            t.node = nil
            t.requiresGrad = false  // a freed op output is a plain value, not a new leaf
        }
    }
}
