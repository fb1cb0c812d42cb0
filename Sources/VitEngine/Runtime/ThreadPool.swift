import CKernels
import Foundation
import Synchronization

/// The engine's own worker threads. Kernels split their outer loops into tasks with
/// `parallelFor`; the calling thread is worker 0 and takes part, so a pool of one thread runs
/// everything inline with no synchronisation at all.
///
/// Why not Dispatch: the harness must bind each worker to one PU (hwloc) and know which thread is
/// which; GCD's threads are anonymous and come and go.
///
/// Built to lose little when the machine is shared (a CI runner, a busy server), where any worker
/// may be descheduled at any moment:
/// - A job ends when its *tasks* are done, not when every worker has checked in: a worker that
///   was descheduled while the job ran finds nothing left when it wakes, and nobody waited for it.
///   (The first design counted workers, so one worker asleep on a busy core stalled every step.)
/// - On a quiet machine, workers spin between jobs (a forward pass dispatches hundreds of short
///   jobs back to back) for at most `spinMicroseconds`, then sleep on a condition variable.
/// - A worker that has lately waited for its CPU (`ContentionMonitor`) shares its core with other
///   work, and sleeps as soon as a job ends instead. A spinning worker
///   on a shared core burns its share of the core and is then off it when the next job comes,
///   often in the middle of a task that the whole step waits for; a sleeping one is woken for each
///   job and, having used little CPU, is run at once. Measured with a busy loop on one of two
///   cores (2 threads, Zen 5): spinning slowed fastvit_t8 / levit_128s / deit_tiny 2.0x / 1.7x /
///   2.2x against their quiet time, sleeping 1.3x / 1.3x / 1.3x — the core they lost, no more;
///   on a quiet machine sleeping after every job would cost 3–6%, hence the switch.
/// - The caller, waiting for a task that a descheduled worker holds, yields its core after a
///   short spin, in case that worker is waiting for it.
///
/// Tasks are split into one contiguous block per worker, which each worker takes first, then
/// helps with the others' (per-block atomic counters): the w-th worker handles about the w-th
/// fraction of every step's rows, so what one step writes into a core's L2 the next step reads
/// on the same core. With one shared counter, rows landed on either core at random and memory-
/// bound steps read half their input from the other core's cache: depthwise convs ran slower on
/// two threads than on one.
///
/// One atomic word (`state`) publishes a job and guards its lifetime: the job's generation, a
/// closed bit and the number of workers inside the job. A worker enters only an open job of the
/// generation it saw; the caller closes the job (once every task is done and no worker is inside)
/// before the job's closure and count may change. So a late worker can never read a half-written
/// next job.
public final class ThreadPool: @unchecked Sendable {
    /// Number of workers including the calling thread.
    public let threadCount: Int

    /// How long an idle worker spins for the next job before it sleeps.
    public static let spinMicroseconds: UInt64 = 2_000

    private var threads: [pthread_t] = []
    /// The pool's own threads (not the caller): what another pool confines its threads to.
    public var workerThreads: [pthread_t] { threads }
    /// generation << 32 | closed << 31 | workers inside the job.
    private let state = Atomic<UInt64>(ThreadPool.closedBit)
    /// Next task of each worker's block, 64 bytes apart (no false sharing).
    private let next: UnsafeMutablePointer<Int>
    private static let counterStride = 8
    private let completed = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let shuttingDown = Atomic<Bool>(false)
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var taskCount = 0
    private var body: ((Int, Int) -> Void)?
    private var workerStart: ((Int) -> Void)?
    private let startedWorkers = Atomic<Int>(0)

    /// When set, every task's start and end (uptime nanoseconds) is logged per worker: what a
    /// multi-threaded trace shows. Set and read only between jobs.
    public var taskLog: TaskLog?

    private static let closedBit: UInt64 = 1 << 31
    private static let insideMask: UInt64 = (1 << 31) - 1
    private static func generation(_ s: UInt64) -> UInt64 { s >> 32 }

    /// The most workers a pool may have. The CLI and suites refuse thread counts beyond the PUs
    /// of the machine (unless oversubscription is asked for) well before this.
    public static let maximumThreads = 1024

    /// A pool that could not be made: a thread count out of range, or a thread the OS would not
    /// start (`pthread_create` failed: a process or memory limit). Workers already started are
    /// stopped and joined before this is thrown.
    public struct StartError: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// Testing only: make `pthread_create` of this worker index fail (as EAGAIN).
    nonisolated(unsafe) public static var _failThreadCreation: Int? = nil

    /// - Parameters:
    ///   - threads: total workers, the caller included (1...`maximumThreads`).
    ///   - onWorkerStart: runs once on each worker thread (index 1...threads-1) before it takes
    ///     work, and on the calling thread (index 0) during init — where the harness pins threads.
    /// - Throws: `StartError` for a count out of range or a worker the OS would not start.
    public init(starting count: Int, onWorkerStart: ((Int) -> Void)? = nil) throws {
        guard count >= 1, count <= ThreadPool.maximumThreads else {
            throw StartError(message: "a thread pool needs 1 to \(ThreadPool.maximumThreads) threads, got \(count)")
        }
        threadCount = count
        next = UnsafeMutablePointer<Int>.allocate(capacity: count * ThreadPool.counterStride)
        next.initialize(repeating: 0, count: count * ThreadPool.counterStride)
        workerStart = onWorkerStart
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
        onWorkerStart?(0)
        for index in 1..<count {
            let box = Unmanaged.passRetained(WorkerBox(pool: self, index: index))
            var tid = pthread_t()
            let rc: Int32
            if ThreadPool._failThreadCreation == index {
                rc = EAGAIN
            } else {
                rc = pthread_create(&tid, nil, { raw in
                    let box = Unmanaged<WorkerBox>.fromOpaque(raw!).takeRetainedValue()
                    box.pool.workerLoop(index: box.index)
                    return nil
                }, box.toOpaque())
            }
            guard rc == 0 else {
                box.release()
                // Wait for the started workers to reach their loop, then stop and join them:
                // nothing is left running, and the caller gets an error instead of a pool that
                // would wait forever for a worker that does not exist.
                while startedWorkers.load(ordering: .acquiring) < threads.count { sched_yield() }
                stopWorkers()
                let why = rc == EAGAIN ? "EAGAIN: a limit on threads or memory was reached" : String(cString: strerror(rc))
                throw StartError(message: "could not start worker thread \(index) of \(count): pthread_create failed "
                                 + "(\(why)); ask for fewer threads")
            }
            threads.append(tid)
        }
        // Wait until every worker has run its start hook, so that pinning is in place before the
        // first job.
        while startedWorkers.load(ordering: .acquiring) < count - 1 { sched_yield() }
    }

    /// The same, for counts the caller has already checked (tests, internal one-thread pools):
    /// a failure stops the process with the reason (this check survives -Ounchecked).
    public convenience init(threads count: Int, onWorkerStart: ((Int) -> Void)? = nil) {
        try! self.init(starting: count, onWorkerStart: onWorkerStart)
    }

    /// Stops and joins every started worker (idempotent).
    private func stopWorkers() {
        shuttingDown.store(true, ordering: .sequentiallyConsistent)
        // A new (empty, closed) generation wakes every worker, which then sees the shutdown.
        let s = state.load(ordering: .acquiring)
        state.store(((ThreadPool.generation(s) + 1) << 32) | ThreadPool.closedBit, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(&mutex)
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
        for t in threads { pthread_join(t, nil) }
        threads = []
    }

    deinit {
        stopWorkers()
        pthread_mutex_destroy(&mutex)
        pthread_cond_destroy(&condition)
        next.deallocate()
    }

    /// Runs `body(task, worker)` for every task in 0..<count across the pool and returns when all
    /// are done. Tasks are handed out dynamically (an atomic counter), so uneven tasks balance,
    /// and a worker that is descheduled holds up only the task it holds.
    public func parallelFor(_ count: Int, _ body: (_ task: Int, _ worker: Int) -> Void) {
        if count <= 0 { return }
        if threadCount == 1 || count == 1 {
            for t in 0..<count { run(body, t, 0) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            // The previous job is closed: no worker reads these until the new generation is out.
            self.body = escapable
            taskCount = count
            for w in 0..<threadCount { next[w * ThreadPool.counterStride] = blockStart(w, count) }
            completed.store(0, ordering: .relaxed)
            let generation = ThreadPool.generation(state.load(ordering: .relaxed)) + 1
            state.store(generation << 32, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(&mutex)
                pthread_cond_broadcast(&condition)
                pthread_mutex_unlock(&mutex)
            }
            drain(worker: 0)
            var spins = 0
            while completed.load(ordering: .acquiring) < count { wait(&spins) }
            // Close the job once no worker is inside it (a late worker inside finds no task left
            // and leaves at once).
            spins = 0
            while true {
                let s = state.load(ordering: .acquiring)
                if s & ThreadPool.insideMask == 0,
                   state.compareExchange(expected: s, desired: s | ThreadPool.closedBit, ordering: .acquiringAndReleasing).exchanged {
                    break
                }
                wait(&spins)
            }
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

    /// The caller's wait for tasks held by other workers: spin, then give the core away each time
    /// (the worker it waits for may need it, when threads outnumber the cores they run on).
    @inline(__always) private func wait(_ spins: inout Int) {
        if spins < 4096 {
            spins += 1
            spinPause()
        } else {
            sched_yield()
        }
    }

    /// First task of worker w's block of `count` tasks.
    @inline(__always) private func blockStart(_ w: Int, _ count: Int) -> Int { w * count / threadCount }

    /// Runs the tasks of the worker's own block, then of every other block that has any left.
    /// Completions are published once per block, not per task: `completed` is the one line every
    /// worker and the waiting caller share, and an add per task moved it between cores once per
    /// task (depthwise convs of 16x16 maps, tasks of a microsecond, ran slower on two threads
    /// than on one).
    private func drain(worker: Int) {
        let count = taskCount
        guard let body = body else { return }
        for i in 0..<threadCount {
            let block = (worker + i) % threadCount
            let end = blockStart(block + 1, count)
            let counter = next + block * ThreadPool.counterStride
            var done = 0
            while true {
                let t = vb_fetch_add(counter, 1)
                if t >= end { break }
                run(body, t, worker)
                done += 1
            }
            if done > 0 { completed.add(done, ordering: .releasing) }
        }
    }

    @inline(__always) private func run(_ body: (Int, Int) -> Void, _ task: Int, _ worker: Int) {
        guard let log = taskLog else { return body(task, worker) }
        let t0 = DispatchTime.now().uptimeNanoseconds
        body(task, worker)
        log.workers[worker].intervals.append((t0, DispatchTime.now().uptimeNanoseconds))
    }

    /// Enters the open job of `generation`, if it is still the current one.
    private func enter(generation: UInt64) -> Bool {
        var s = state.load(ordering: .acquiring)
        while ThreadPool.generation(s) == generation && s & ThreadPool.closedBit == 0 {
            let (exchanged, original) = state.compareExchange(expected: s, desired: s + 1, ordering: .acquiringAndReleasing)
            if exchanged { return true }
            s = original
        }
        return false
    }

    private func workerLoop(index: Int) {
        workerStart?(index)
        startedWorkers.add(1, ordering: .releasing)
        var seen = ThreadPool.generation(state.load(ordering: .acquiring))
        var contention = ContentionMonitor()
        while true {
            // A pool stopped while this worker was starting (a later worker failed to start)
            // may have published its last generation before `seen` was read.
            if shuttingDown.load(ordering: .acquiring) { return }
            var current = ThreadPool.generation(state.load(ordering: .acquiring))
            if current == seen { current = idle(seen, spinNanoseconds: contention.spinBudget()) }
            seen = current
            if shuttingDown.load(ordering: .acquiring) { return }
            if enter(generation: current) {
                drain(worker: index)
                state.subtract(1, ordering: .releasing)
            }
        }
    }

    /// Waits for a generation other than `seen`: spins for up to `spinNanoseconds`, less if the
    /// thread is descheduled meanwhile, then sleeps.
    private func idle(_ seen: UInt64, spinNanoseconds: UInt64) -> UInt64 {
        let start = DispatchTime.now().uptimeNanoseconds
        var last = start, spins = 0
        var current = seen
        while current == seen && spinNanoseconds > 0 {
            spinPause()
            spins += 1
            current = ThreadPool.generation(state.load(ordering: .acquiring))
            if spins & 63 == 0 {
                let now = DispatchTime.now().uptimeNanoseconds
                // 64 pauses take a few microseconds; far more means this thread was off the CPU.
                if now - start > spinNanoseconds || now - last > 200_000 { break }
                last = now
            }
        }
        if current != seen { return current }
        pthread_mutex_lock(&mutex)
        sleepers.add(1, ordering: .sequentiallyConsistent)
        current = ThreadPool.generation(state.load(ordering: .sequentiallyConsistent))
        while current == seen {
            pthread_cond_wait(&condition, &mutex)
            current = ThreadPool.generation(state.load(ordering: .sequentiallyConsistent))
        }
        sleepers.subtract(1, ordering: .sequentiallyConsistent)
        pthread_mutex_unlock(&mutex)
        return current
    }
}

/// Whether a worker shares its core: over the last window of at least 10 ms it spent more than
/// 5% of the time runnable but waiting for a CPU (schedstat's run delay), which keeps it marked
/// for `holdNanoseconds`. (Counting preemptions does not tell: on a quiet VM housekeeping threads
/// preempt a worker ~20 times a second, each for microseconds; a busy neighbour takes the core
/// for whole time slices.) One read of /proc per window.
struct ContentionMonitor {
    static let windowNanoseconds: UInt64 = 10_000_000
    static let holdNanoseconds: UInt64 = 100_000_000
    private var windowStart: UInt64 = 0
    private var delayAtStart: Int64 = -1
    private var contendedUntil: UInt64 = 0

    /// How long to spin before sleeping: `ThreadPool.spinMicroseconds`, or none while contended.
    mutating func spinBudget() -> UInt64 {
        let now = DispatchTime.now().uptimeNanoseconds
        if now - windowStart >= ContentionMonitor.windowNanoseconds {
            let delay = Int64(vb_thread_run_delay_ns())
            if delay >= 0 && delayAtStart >= 0 && (delay - delayAtStart) * 20 > Int64(now - windowStart) {
                contendedUntil = now + ContentionMonitor.holdNanoseconds
            }
            windowStart = now
            delayAtStart = delay
        }
        return now < contendedUntil ? 0 : ThreadPool.spinMicroseconds * 1000
    }
}

/// Task intervals per worker (`ThreadPool.taskLog`): each worker appends only to its own list.
public final class TaskLog: @unchecked Sendable {
    public final class Worker: @unchecked Sendable {
        public fileprivate(set) var intervals: [(start: UInt64, end: UInt64)] = []
    }
    public let workers: [Worker]
    public init(workers: Int) { self.workers = (0..<workers).map { _ in Worker() } }
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
