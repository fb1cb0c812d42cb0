import XCTest
import VitEngine
import VitModels

/// Blocks measured alone (`vitbench bench --block`): each one runs at its default shape and at
/// an odd grid, reparameterising keeps its function, and the blocks cut out of the first model
/// issue's families carry exactly the tensors the block has inside its model.
final class BlockZooTests: XCTestCase {
    func testEveryBlockRunsAtItsDefaultAndAnOddGrid() throws {
        XCTAssertFalse(BlockZoo.all.isEmpty)
        XCTAssertEqual(Set(BlockZoo.all.map(\.name)).count, BlockZoo.all.count, "block names must be unique")
        for info in BlockZoo.all {
            XCTAssertTrue(info.name.contains("."), "\(info.name): blocks are named family.block")
            for grid in [info.defaultResolution, info.defaultResolution + 3] {
                let block = try info.random(height: grid)
                XCTAssertGreaterThan(block.parameterCount, 0, info.name)
                XCTAssertGreaterThan(try block.macs(height: grid, width: grid), 0, info.name)
                let out = try run(block, batch: 2, grid: grid)
                XCTAssertTrue(out.data.allSatisfy(\.isFinite), "\(info.name) at \(grid): non-finite output")
                XCTAssertEqual(out.shape[0], 2, "\(info.name): batch is kept")
            }
        }
    }

    func testReparameterizingABlockKeepsItsFunction() throws {
        let reparameterizable = BlockZoo.all.filter { (try? $0.random().isReparameterizable) == true }
        XCTAssertTrue(Set(reparameterizable.map(\.name)).isSuperset(of: ["fastvit.repmixer", "mobileone.block", "metaformer.repmixer"]))
        for info in reparameterizable {
            let block = try info.random()
            let before = try run(block, batch: 1, grid: info.defaultResolution)
            block.reparameterize()
            let after = try run(block, batch: 1, grid: info.defaultResolution)
            XCTAssertLessThanOrEqual(after.relativeError(to: before), 1e-5, info.name)
        }
    }

    /// A block's tensors are its model's, under the names they have below the block's path (a
    /// pair of layers or convs as `0.` and `1.`).
    func testBlocksCarryTheirModelsTensors() throws {
        let cases: [(block: String, model: String, prefixes: [String])] = [
            ("fastvit.repmixer", "fastvit_t8", ["stages.0.blocks.0."]),
            ("fastvit.attention", "fastvit_sa12", ["stages.3.blocks.0."]),
            ("mobileone.block", "mobileone_s0", ["stages.1.2.", "stages.1.3."]),
            ("poolformer.block", "poolformer_s12", ["stages.0.blocks.0."]),
            ("metaformer.attention", "metaformer_s12:attention", ["stages.0.blocks.0."]),
            ("metaformer.repmixer", "metaformer_s12:repmixer", ["stages.0.blocks.0."]),
            ("deit.block", "deit_tiny_patch16_224", ["blocks.0."]),
            ("psvit.attention", "psvit_2d_tiny", ["stages.0.blocks.0."]),
            ("psvit.shared_attention", "psvit_2d_tiny", ["stages.0.blocks.0.", "stages.0.blocks.1."]),
            ("psvit.token_pooling_2d", "psvit_2d_tiny", ["stages.1.pool."]),
            ("psvit.token_pooling_1d", "psvit_1d_tiny", ["stages.1.pool."]),
        ]
        for c in cases {
            let model = try ModelZoo.named(c.model).random().stateDict.entries
            var expected: [String: [Int]] = [:]
            for (i, prefix) in c.prefixes.enumerated() {
                for e in model where e.name.hasPrefix(prefix) {
                    let local = String(e.name.dropFirst(prefix.count))
                    expected[c.prefixes.count == 1 ? local : "\(i).\(local)"] = e.tensor.shape
                }
            }
            let block = try BlockZoo.named(c.block).random().stateDict.entries
            XCTAssertEqual(Dictionary(uniqueKeysWithValues: block.map { ($0.name, $0.tensor.shape) }), expected, c.block)
        }
    }

    func testBadBlockRequestsAreClearErrors() throws {
        XCTAssertThrowsError(try BlockZoo.named("fastvit.repmix")) { error in
            XCTAssertTrue("\(error)".contains("unknown block 'fastvit.repmix'"), "\(error)")
            XCTAssertTrue("\(error)".contains("fastvit.repmixer"), "\(error)")
        }
        XCTAssertThrowsError(try BlockZoo.named("fastvit.repmixer").random(dim: 0)) { error in
            XCTAssertTrue("\(error)".contains("must be positive"), "\(error)")
        }
        XCTAssertThrowsError(try BlockZoo.named("fastvit.attention").random(dim: 48)) { error in
            XCTAssertTrue("\(error)".contains("head dim"), "\(error)")
        }
    }

    private func run(_ block: BenchmarkBlock, batch: Int, grid: Int) throws -> Tensor {
        let plan = try block.plan(batch: batch, height: grid, width: grid, pool: ThreadPool(threads: 2))
        var rng = SplitMix64(seed: 7)
        try plan.setInput(Tensor(randomNormal: plan.inputShapes[0], rng: &rng))
        plan.run()
        return plan.output()
    }
}
