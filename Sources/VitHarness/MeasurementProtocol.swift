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

    /// Runs `body` under `protocol`.
    public static func run(_ proto: MeasurementProtocol, _ body: () -> Void) -> Measurement {
        let clock = ContinuousClock()
        func seconds(_ d: Duration) -> Double {
            Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        }
        let cold = seconds(clock.measure(body))
        let warmStart = clock.now
        var warm = 0
        while warm < proto.warmupRuns || seconds(clock.now - warmStart) < proto.warmupSeconds {
            body()
            warm += 1
            if seconds(clock.now - warmStart) > proto.maxSeconds { break }
        }
        var samples: [Double] = []
        samples.reserveCapacity(max(proto.minRuns, 64))
        let start = clock.now
        while true {
            samples.append(seconds(clock.measure(body)))
            let elapsed = seconds(clock.now - start)
            if (samples.count >= proto.minRuns && elapsed >= proto.minSeconds) || elapsed >= proto.maxSeconds { break }
        }
        return Measurement(samples: samples, coldSeconds: cold)
    }
}
