import Foundation
import VitEngine

/// How a configuration is measured: a cold first run (reported apart), warm-up by count and by
/// time, then measured runs until both a minimum count and a minimum time are reached — and never
/// past a maximum time. The defaults settle a 224x224 mobile model in a few seconds.
public struct MeasurementProtocol: Codable, Sendable, Equatable {
    public var warmupRuns = 3
    public var warmupSeconds = 0.5
    public var minRuns = 20
    public var minSeconds = 2.0
    public var maxSeconds = 20.0
    /// Coefficient of variation above which a result is flagged noisy.
    public var noiseThreshold = 0.05

    public init() {}

    enum CodingKeys: String, CodingKey {
        case warmupRuns = "warmup_runs", warmupSeconds = "warmup_seconds", minRuns = "min_runs",
             minSeconds = "min_seconds", maxSeconds = "max_seconds", noiseThreshold = "noise_threshold"
    }

    /// A quick protocol for smoke tests and CI.
    public static let quick: MeasurementProtocol = {
        var p = MeasurementProtocol()
        p.warmupRuns = 1
        p.warmupSeconds = 0.05
        p.minRuns = 5
        p.minSeconds = 0.2
        p.maxSeconds = 5
        return p
    }()
}

/// The timings of one configuration.
public struct Measurement: Sendable {
    /// Seconds of each measured run, in the order they ran.
    public let samples: [Double]
    /// Seconds of the very first run (page faults, cold caches, lazy initialisation).
    public let coldSeconds: Double
    public let statistics: SampleStatistics

    /// Timings taken elsewhere (an external runtime's runner), in seconds.
    public init(samples: [Double], coldSeconds: Double) {
        self.samples = samples
        self.coldSeconds = coldSeconds
        statistics = SampleStatistics(samples)
    }

    /// A slowdown injected into every pass, as a fraction (`VITBENCH_TEST_SLOWDOWN=0.15`: each
    /// pass spins 15% of its own time more), for checking that `vitbench compare` catches a
    /// regression of known size. Test-only: a row measured with it is marked in its `notes`.
    public static let injectedSlowdown: Double? = {
        guard let text = ProcessInfo.processInfo.environment["VITBENCH_TEST_SLOWDOWN"], let f = Double(text), f.isFinite, f > 0, f <= 10 else {
            return nil
        }
        return f
    }()

    /// Runs `body` under `protocol`.
    public static func run(_ proto: MeasurementProtocol, _ body: () -> Void) -> Measurement {
        let clock = ContinuousClock()
        let slowdown = injectedSlowdown
        func pass() {
            guard let f = slowdown else { return body() }
            let start = clock.now
            body()
            let end = start + (clock.now - start) * (1 + f)
            while clock.now < end {}
        }
        func seconds(_ d: Duration) -> Double {
            Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        }
        let cold = seconds(clock.measure(pass))
        let warmStart = clock.now
        var warm = 0
        while warm < proto.warmupRuns || seconds(clock.now - warmStart) < proto.warmupSeconds {
            pass()
            warm += 1
            if seconds(clock.now - warmStart) > proto.maxSeconds { break }
        }
        var samples: [Double] = []
        samples.reserveCapacity(max(proto.minRuns, 64))
        let start = clock.now
        while true {
            samples.append(seconds(clock.measure(pass)))
            let elapsed = seconds(clock.now - start)
            if (samples.count >= proto.minRuns && elapsed >= proto.minSeconds) || elapsed >= proto.maxSeconds { break }
        }
        return Measurement(samples: samples, coldSeconds: cold)
    }
}
