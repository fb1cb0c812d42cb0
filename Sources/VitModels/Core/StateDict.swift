import VitEngine

/// Whether a tensor is a trainable parameter (counted in "params") or a buffer (BatchNorm
/// running statistics), as in PyTorch.
public enum TensorRole: Sendable { case parameter, buffer }

/// A model's tensors under timm's names, in its current form (train-time or reparameterised):
/// what parameter counts are computed from and what `vitbench` can write back out.
public struct StateDict {
    public private(set) var entries: [(name: String, tensor: Tensor, role: TensorRole)] = []
    private var path: [String] = []

    public init() {}

    public mutating func scope(_ name: String, _ body: (inout StateDict) -> Void) {
        path.append(name)
        body(&self)
        path.removeLast()
    }

    public mutating func add(_ name: String, _ tensor: Tensor, _ role: TensorRole = .parameter) {
        entries.append(((path + [name]).filter { !$0.isEmpty }.joined(separator: "."), tensor, role))
    }

    public var parameterCount: Int {
        entries.reduce(0) { $0 + ($1.role == .parameter ? $1.tensor.count : 0) }
    }

    /// Every tensor's elements, buffers included: what the module holds in memory.
    public var elementCount: Int {
        entries.reduce(0) { $0 + $1.tensor.count }
    }

    public var tensors: [String: Tensor] {
        Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0.tensor) })
    }
}

/// Anything with tensors: layers, blocks, whole models.
public protocol Module: AnyObject {
    /// Adds this module's tensors, in its current form, under timm's names.
    func collect(_ sd: inout StateDict)
    /// Fuses train-time branches into inference form (structural reparameterisation); a no-op
    /// for modules without branches.
    func reparameterize()
}

extension Module {
    public func reparameterize() {}

    public var stateDict: StateDict {
        var sd = StateDict()
        collect(&sd)
        return sd
    }
}
