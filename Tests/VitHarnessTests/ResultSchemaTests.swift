import Foundation
import XCTest
@testable import VitHarness
@testable import VitReports

/// The result schema is one thing: the columns a suite writes are the ones `ResultColumns`
/// and the README document, and the configuration key is the same string whether it is built
/// for a configuration about to run or read back from its row.
final class ResultSchemaTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The header `vitbench run` writes for a real suite.
    func header() throws -> [String] {
        let suite = try Suite.load(Self.root.appendingPathComponent("Suites/ci.yaml").path)
        let info = try MachineInfo.collect(topology: try Topology.thisMachine())
        let runner = SuiteRunner(suite: suite, configurations: [], context: [("suite", suite.name)] + info.rowColumns,
                                 makePool: { _ in throw CocoaError(.featureUnsupported) })
        return runner.header
    }

    func testEveryWrittenColumnIsDocumented() throws {
        let header = try header()
        XCTAssertEqual(Set(header).count, header.count, "no column twice: \(header)")
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let reference = try String(contentsOf: Self.root.appendingPathComponent("Sources/VitReports/CSV.swift"), encoding: .utf8)
        for column in header {
            XCTAssertTrue(readme.contains("`\(column)`"), "README's column table lacks `\(column)`")
            XCTAssertTrue(reference.contains("`\(column)`"), "ResultColumns' table lacks `\(column)`")
        }
        for column in ResultColumns.key { XCTAssertTrue(header.contains(column), "key column \(column) is not written") }
        XCTAssertFalse(header.contains("samples_ms"), "per-run samples go to NAME.samples.csv")
    }

    func testTheKeyIsTheSameBuiltOrReadBack() throws {
        let c = BenchConfiguration(model: "fastvit.repmixer", form: .train, resolution: 8, batch: 2, threads: 1, backend: .openblas,
                                   pin: try PinningPolicy(parsing: "compact"), dim: 32, isa: .baseline, blasThreads: 1)
        let result = BenchResult(configuration: c, measurement: nil, macs: 0, parameters: 0, error: "x")
        let table = try ResultTable(records: [result.fields(noiseThreshold: 0.05)])
        XCTAssertEqual(ResultColumns.keyString { table.value(0, $0) }, c.key)
        XCTAssertEqual(c.key, "fastvit.repmixer|train|8|2|1|openblas|compact|32|baseline|1")
    }
}
