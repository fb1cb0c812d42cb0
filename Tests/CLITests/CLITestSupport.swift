import Foundation
import XCTest

/// What every test of the `vitbench` binary needs: the binary `swift test` built next to the test
/// bundle, and a scratch folder of its own per test (removed afterwards). Tests are skipped, not
/// failed, when the binary is not there.
class VitbenchCLITestCase: XCTestCase {
    /// The built `vitbench` next to the test bundle (swift test builds every product).
    var binary: URL {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if dir.lastPathComponent.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
        return dir.appendingPathComponent("vitbench")
    }

    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("vitbench-\(type(of: self))-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary.path), "vitbench not built at \(binary.path)")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }
}

/// The repository's root (this file is Tests/CLITests/CLITestSupport.swift), where the scripts
/// and suites the tests run live.
let repositoryRoot: URL = {
    var dir = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { dir = dir.deletingLastPathComponent() }
    return dir
}()

/// Runs `executable` to completion: its exit status and its standard output and error together.
/// `environment` adds to (or replaces in) this process's environment.
func runCapturingOutput(_ executable: URL, _ args: [String], in directory: URL? = nil,
                        environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = executable
    p.arguments = args
    if let directory { p.currentDirectoryURL = directory }
    if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}
