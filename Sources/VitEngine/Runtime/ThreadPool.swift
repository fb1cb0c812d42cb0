import CKernels
import Foundation
import Synchronization

/// The engine's own worker threads. Kernels split their outer loops into tasks with
/// `parallelFor`; the calling thread is worker 0 and takes part, so a pool of one thread runs
/// everything inline with no synchronisation at all.
///
/// Why not Dispatch: the harness must bind each worker to one PU (hwloc) and know which thread is
/// which; GCD's threads are anonymous and come and go. Workers spin briefly between jobs (a
/// forward pass dispatches hundreds of short jobs back to back) and then sleep on a condition.
public final class ThreadPool: @unchecked Sendable {
    /// Number of workers including the calling thread.
    public let threadCount: Int

    private var threads: [pthread_t] = []
    private let generation = Atomic<Int>(0)
    private let nextTask = Atomic<Int>(0)
    private let running = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let shuttingDown = Atomic<Bool>(false)
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var taskCount = 0
    private var body: ((Int, Int) -> Void)?
    private var workerStart: ((Int) -> Void)?
    private let startedWorkers = Atomic<Int>(0)

    /// - Parameters:
    ///   - threads: total workers, the caller included (≥ 1).
    ///   - onWorkerStart: runs once on each worker thread (index 1...threads-1) before it takes
    ///     work, and on the calling thread (index 0) during init — where the harness pins threads.
    public init(threads count: Int, onWorkerStart: ((Int) -> Void)? = nil) {
        precondition(count >= 1, "a thread pool needs at least one thread")
        threadCount = count
        workerStart = onWorkerStart
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
        onWorkerStart?(0)
        for index in 1..<count {
            let box = Unmanaged.passRetained(WorkerBox(pool: self, index: index))
            var tid = pthread_t()
            let rc = pthread_create(&tid, nil, { raw in
                let box = Unmanaged<WorkerBox>.fromOpaque(raw!).takeRetainedValue()
                box.pool.workerLoop(index: box.index)
                return nil
            }, box.toOpaque())
            precondition(rc == 0, "pthread_create failed with \(rc)")
            threads.append(tid)
        }
        // Wait until every worker has run its start hook, so that pinning is in place before the
        // first job.
        while startedWorkers.load(ordering: .acquiring) < count - 1 { sched_yield() }
    }

    deinit {
        shuttingDown.store(true, ordering: .sequentiallyConsistent)
        generation.add(1, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(&mutex)
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
        for t in threads { pthread_join(t, nil) }
        pthread_mutex_destroy(&mutex)
        pthread_cond_destroy(&condition)
    }

    /// Runs `body(task, worker)` for every task in 0..<count across the pool and returns when all
    /// are done. Tasks are handed out dynamically (an atomic counter), so uneven tasks balance.
    public func parallelFor(_ count: Int, _ body: (_ task: Int, _ worker: Int) -> Void) {
        if count <= 0 { return }
        if threadCount == 1 || count == 1 {
            for t in 0..<count { body(t, 0) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            self.body = escapable
            taskCount = count
            nextTask.store(0, ordering: .relaxed)
            running.store(threadCount - 1, ordering: .relaxed)
            generation.add(1, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(&mutex)
                pthread_cond_broadcast(&condition)
                pthread_mutex_unlock(&mutex)
            }
            drain(worker: 0)
            while running.load(ordering: .acquiring) > 0 { spinPause() }
            self.body = nil
        }
    }

    /// Splits 0..<total into about `threadCount * grain` contiguous chunks and runs
    /// `body(range, worker)` on each.
    public func parallelRanges(_ total: Int, grain: Int = 4, minChunk: Int = 1,
                               _ body: (Range<Int>, Int) -> Void) {
        if total <= 0 { return }
        let chunks = max(1, min(total / max(minChunk, 1), threadCount == 1 ? 1 : threadCount * grain))
        let size = (total + chunks - 1) / chunks
        let n = (total + size - 1) / size
        parallelFor(n) { t, w in
            let lo = t * size
            body(lo..<min(total, lo + size), w)
        }
    }

    private func drain(worker: Int) {
        let count = taskCount
        guard let body = body else { return }
        while true {
            let t = nextTask.add(1, ordering: .relaxed).oldValue
            if t >= count { break }
            body(t, worker)
        }
    }

    private func workerLoop(index: Int) {
        workerStart?(index)
        startedWorkers.add(1, ordering: .releasing)
        var seen = generation.load(ordering: .acquiring)
        while true {
            // Spin a while for the next job, then sleep.
            var spins = 0
            var current = generation.load(ordering: .acquiring)
            while current == seen && spins < 200_000 {
                spinPause()
                spins += 1
                current = generation.load(ordering: .acquiring)
            }
            if current == seen {
                pthread_mutex_lock(&mutex)
                sleepers.add(1, ordering: .sequentiallyConsistent)
                current = generation.load(ordering: .sequentiallyConsistent)
                while current == seen {
                    pthread_cond_wait(&condition, &mutex)
                    current = generation.load(ordering: .sequentiallyConsistent)
                }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                pthread_mutex_unlock(&mutex)
            }
            seen = current
            if shuttingDown.load(ordering: .acquiring) { return }
            drain(worker: index)
            running.subtract(1, ordering: .releasing)
        }
    }
}

private final class WorkerBox {
    // Unowned(unsafe): workers must not keep the pool alive, and deinit joins them before the
    // pool's memory goes away.
    unowned(unsafe) let pool: ThreadPool
    let index: Int
    init(pool: ThreadPool, index: Int) {
        self.pool = pool
        self.index = index
    }
}

@inline(__always) func spinPause() { vb_cpu_relax() }
