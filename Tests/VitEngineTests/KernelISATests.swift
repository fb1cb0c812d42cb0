import CKernels
import Foundation
import XCTest
import VitEngine

/// The kernel ISA dispatcher: what it says this CPU runs agrees with what the CPU reports, a
/// selection takes effect and is undone, and names it cannot run are clear errors. (That each
/// variant computes the right thing is checked by every reference test, which runs them all.)
final class KernelISATests: XCTestCase {
    /// The CPU's own flags, read independently of the dispatcher (`/proc/cpuinfo`; x86-64).
    private func cpuFlags() throws -> Set<String> {
        let text = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let line = text.split(separator: "\n").first { $0.hasPrefix("flags") || $0.hasPrefix("Features") } ?? ""
        return Set(line.split(separator: ":").dropFirst().joined().split(separator: " ").map(String.init))
    }

    func testSupportedVariantsMatchTheCPU() throws {
        let supported = Set(KernelISA.supported)
        #if arch(x86_64)
        let flags = try cpuFlags()
        XCTAssertTrue(supported.contains(.baseline))
        XCTAssertEqual(supported.contains(.avx2), flags.isSuperset(of: ["avx2", "fma", "f16c"]), "\(flags)")
        XCTAssertEqual(supported.contains(.avx512), flags.isSuperset(of: ["avx512f", "avx512vl", "avx512bw", "avx512dq"]), "\(flags)")
        XCTAssertFalse(supported.contains(.neon) || supported.contains(.portable))
        XCTAssertEqual(KernelISA.best, supported.contains(.avx512) ? .avx512 : supported.contains(.avx2) ? .avx2 : .baseline)
        #elseif arch(arm64)
        // The hwcaps the OS passes in the auxiliary vector, not /proc/cpuinfo: under qemu
        // user-mode emulation that file is the host's (x86 flags, no `Features`).
        let hwcaps = Set(String(cString: vb_cpu_hwcap_features()).split(separator: " ").map(String.init))
        XCTAssertTrue(hwcaps.contains("asimd"), "hwcaps: \(hwcaps)")
        XCTAssertEqual(supported, [.neon])
        XCTAssertEqual(KernelISA.best, .neon)
        // A real ARM /proc/cpuinfo lists the same features.
        if let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Features") }) {
            let features = Set(line.split(separator: ":").dropFirst().joined().split(separator: " ").map(String.init))
            XCTAssertEqual(features.contains("asimd"), hwcaps.contains("asimd"), "\(features) vs hwcaps \(hwcaps)")
        }
        #else
        XCTAssertEqual(supported, [.portable])
        #endif
    }

    func testSelectionTakesEffectAndIsRestored() throws {
        let before = KernelISA.selected
        for isa in KernelISA.supported {
            let inside = try isa.whileSelected { KernelISA.selected }
            XCTAssertEqual(inside, isa)
            XCTAssertEqual(KernelISA.selected, before)
        }
    }

    func testUnknownAndUnsupportedNamesAreClearErrors() throws {
        XCTAssertThrowsError(try KernelISA(parsing: "sse9")) { error in
            XCTAssertTrue("\(error)".contains("unknown kernel ISA 'sse9'"), "\(error)")
            XCTAssertTrue("\(error)".contains("avx512, avx2, baseline, neon, portable"), "\(error)")
        }
        XCTAssertEqual(try KernelISA(parsing: KernelISA.best.rawValue.uppercased()), KernelISA.best)
        for isa in KernelISA.allCases where !isa.isSupported {
            XCTAssertThrowsError(try KernelISA(parsing: isa.rawValue)) { error in
                XCTAssertTrue("\(error)".contains("cannot run on this machine; it runs: \(KernelISA.supported.map(\.rawValue).joined(separator: ", "))"), "\(error)")
            }
            XCTAssertThrowsError(try isa.select())
        }
    }

    /// OpenBLAS is forced down to a variant's level only where its own core is wider, and only
    /// to a core of that level; unknown cores (ARM64's, new names) are left alone.
    func testOpenBLASIsPairedOnlyWhereItsKernelsAreWider() {
        let cases: [(KernelISA, String, String?)] = [
            (.avx2, "Cooperlake", "Haswell"), (.avx2, "SKYLAKEX", "Haswell"), (.avx2, "SapphireRapids", "Haswell"),
            (.avx2, "Haswell", nil), (.avx2, "Zen", nil), (.avx2, "Sandybridge", nil), (.avx2, "Nehalem", nil),
            (.avx512, "Cooperlake", nil), (.avx512, "Zen", nil), (.avx512, "Prescott", nil),
            (.avx2, "NEOVERSEN1", nil), (.avx2, "", nil), (.avx2, "Unknown", nil),
            (.neon, "Cooperlake", nil), (.neon, "ARMV8", nil), (.portable, "Haswell", nil),
        ]
        for (isa, core, expected) in cases {
            XCTAssertEqual(isa.openBLASCoreToPair(current: core), expected, "\(isa) beside \(core)")
        }
        // The x86-64 baseline pairs with Prescott's SSE3 kernels, below every AVX core.
        #if arch(x86_64)
        for core in ["Cooperlake", "Haswell", "zen", "Sandybridge", "Excavator"] {
            XCTAssertEqual(KernelISA.baseline.openBLASCoreToPair(current: core), "Prescott", core)
        }
        for core in ["Prescott", "Nehalem", "Core2", "Barcelona"] {
            XCTAssertNil(KernelISA.baseline.openBLASCoreToPair(current: core), core)
        }
        #else
        XCTAssertNil(KernelISA.baseline.openBLASCore)
        #endif
        // Each core a variant is paired with is of that variant's own level.
        for isa in KernelISA.allCases {
            if let core = isa.openBLASCore {
                XCTAssertEqual(OpenBLAS.vectorLevel(ofCore: core), isa.vectorLevel, "\(isa): \(core)")
            }
        }
    }
}
