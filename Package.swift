// swift-tools-version:6.0
import PackageDescription

// Layout: C system libraries (OpenBLAS, hwloc) and portable C kernels at the bottom, the engine
// (tensors, kernels, plans, I/O) on them, models / harness / reports above, and a thin CLI on top.
// Rows record these flags (MachineInfo.cFlags): change both together.
let optimise: [CSetting] = [.unsafeFlags(["-O3", "-ffp-contract=fast", "-fno-math-errno"])]

let package = Package(
    name: "vitbench",
    products: [
        .executable(name: "vitbench", targets: ["vitbench"]),
        .library(name: "VitEngine", targets: ["VitEngine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        // ONNX export: the ONNX schema's messages (Sources/VitEngine/Export/onnx.pb.swift, generated
        // once by scripts/onnx/generate.sh and committed).
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CHwloc", path: "Sources/CHwloc", pkgConfig: "hwloc",
            providers: [.apt(["libhwloc-dev"])]),
        .target(name: "CKernels", path: "Sources/CKernels", cSettings: optimise),
        // XNNPACK, opened at run time (the `xnnpack` backend): nothing links it.
        .target(name: "CXNNPACK", path: "Sources/CXNNPACK", linkerSettings: [.linkedLibrary("dl")]),
        .target(
            name: "VitEngine",
            dependencies: ["CBLAS", "CKernels", "CXNNPACK", .product(name: "SwiftProtobuf", package: "swift-protobuf")], path: "Sources/VitEngine",
            swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]),
        .target(name: "VitModels", dependencies: ["VitEngine"], path: "Sources/VitModels"),
        .target(name: "VitHarness", dependencies: ["VitEngine", "VitModels", "VitReports", "CHwloc", .product(name: "Yams", package: "Yams")],
                path: "Sources/VitHarness"),
        .target(name: "VitReports", path: "Sources/VitReports"),
        .executableTarget(
            name: "vitbench",
            dependencies: ["VitEngine", "VitModels", "VitHarness", "VitReports", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/vitbench"),
        .testTarget(name: "VitEngineTests", dependencies: ["VitEngine", "CKernels"], path: "Tests/VitEngineTests"),
        .testTarget(name: "VitModelsTests", dependencies: ["VitModels", "VitEngine"], path: "Tests/VitModelsTests",
                    resources: [.copy("Goldens")]),
        // Runs the built binary; depending on the executable makes `swift test` build it first.
        .testTarget(name: "VitHarnessTests", dependencies: ["VitHarness", "VitModels"], path: "Tests/VitHarnessTests"),
        .testTarget(name: "CLITests", dependencies: ["vitbench"], path: "Tests/CLITests"),
        .testTarget(name: "VitReportsTests", dependencies: ["VitReports"], path: "Tests/VitReportsTests"),
    ],
    swiftLanguageModes: [.v5]
)
