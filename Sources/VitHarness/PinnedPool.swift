import VitEngine

/// The engine's pool for one configuration, its workers bound as the configuration's pinning
/// policy says — or unbound, with the reason, where the OS refuses.
public struct PinnedPool {
    public let pool: ThreadPool
    /// One line for output and the `pinning_status` column.
    public let status: String
    let pinner: Pinner?

    public init(threads: Int, pin policy: PinningPolicy, topology: Topology) throws {
        guard policy.binds else {
            pool = try ThreadPool(starting: threads)
            status = "not pinned (policy none)"
            pinner = nil
            return
        }
        let p = try Pinner(policy: policy, threads: threads, topology: topology)
        pool = try ThreadPool(starting: threads, onWorkerStart: p.hook)
        status = p.status
        pinner = p
    }

    /// The OS CPU numbers of the PUs the workers are bound to, worker by worker; nil when the
    /// policy binds nothing. An external runtime is confined to these.
    public var cpus: [Int]? { pinner.flatMap { $0.plan.isEmpty ? nil : $0.plan.map(\.osIndex) } }

    /// Gives the calling thread (worker 0) its affinity back, so that later pools and threads do
    /// not inherit this configuration's binding.
    public func finish() { pinner?.restoreCallingThread() }
}
