import Foundation
import XCTest
import VitEngine
import VitHarness
import VitModels

final class ProfilerTests: XCTestCase {
    func testGroupingFollowsTimmModulePaths() {
        XCTAssertEqual(LayerProfile.stage(of: "stages.2.blocks.3.token_mixer.reparam_conv"), "stages.2")
        XCTAssertEqual(LayerProfile.block(of: "stages.2.blocks.3.token_mixer.reparam_conv"), "stages.2.blocks.3")
        XCTAssertEqual(LayerProfile.block(of: "stages.1.4.reparam_conv"), "stages.1.4")  // MobileOne
        XCTAssertEqual(LayerProfile.stage(of: "stem.0.reparam_conv"), "stem.0")
        XCTAssertEqual(LayerProfile.block(of: "head.fc"), "head")
        XCTAssertEqual(LayerProfile.stage(of: "input_nhwc"), "input_nhwc")
    }

    func testProfileCoversEveryStepAndRendersAllOutputs() throws {
        let model = try ModelZoo.named("metaformer_s12:attention").random()
        let plan = try model.plan(batch: 1, height: 64, width: 64, pool: ThreadPool(threads: 1))
        let p = LayerProfile.measure(plan, passes: 3, warmup: 1, protocol: .quick)
        XCTAssertEqual(p.steps.count, plan.steps.count)
        XCTAssertEqual(p.steps.map(\.name), plan.steps.map(\.name))
        XCTAssertEqual(p.steps.reduce(0) { $0 + $1.macs }, plan.totalMACs)
        XCTAssertTrue(p.steps.allSatisfy { $0.medianSeconds > 0 })
        XCTAssertGreaterThan(p.unprofiledSeconds, 0)
        // Groups partition the steps.
        for groups in [p.byStage, p.byBlock, p.byKind] {
            XCTAssertEqual(groups.reduce(0) { $0 + $1.steps }, p.steps.count)
            XCTAssertEqual(groups.reduce(0.0) { $0 + $1.seconds }, p.totalSteps, accuracy: 1e-12)
        }
        XCTAssertTrue(p.byKind.contains { $0.name == "attention" })
        let md = p.markdown(title: "t", top: 5)
        XCTAssertTrue(md.contains("## Per stage") && md.contains("stages.3") && md.contains("profiler overhead"), md)
        // The header's total is the tables' total.
        XCTAssertTrue(md.contains("Steps: \(String(format: "%.3f", p.totalSteps * 1e3)) ms"), md)
        XCTAssertEqual(p.csv().split(separator: "\n").count, p.steps.count + 1)
        // One track of steps, one per worker; with one thread every task runs on worker 0.
        let trace = try JSONSerialization.jsonObject(with: Data(p.chromeTrace(process: "t").utf8)) as? [String: Any]
        let events = try XCTUnwrap(trace?["traceEvents"] as? [[String: Any]])
        XCTAssertEqual(events.filter { $0["ph"] as? String == "X" && $0["tid"] as? Int == 1 }.count, p.steps.count)
        XCTAssertEqual(Set(events.filter { $0["ph"] as? String == "X" }.compactMap { $0["tid"] as? Int }), [1, 2])
    }

    /// In a batch, stage 0's steps run image by image: each step is still one row with its time
    /// summed over the images, and the trace's steps track has one event per image.
    func testStepsThatRunImageByImageAreOneRowEach() throws {
        let model = try ModelZoo.named("metaformer_s12:pooling").random()
        let plan = try model.plan(batch: 2, height: 256, width: 256, pool: ThreadPool(threads: 1))
        let images = plan.steps.map(\.images)
        XCTAssertTrue(images.contains(2) && images.contains(1), "\(images)")
        let p = LayerProfile.measure(plan, passes: 2, warmup: 1, protocol: .quick)
        XCTAssertEqual(p.steps.map(\.name), plan.steps.map(\.name))
        XCTAssertTrue(p.steps.allSatisfy { $0.medianSeconds > 0 })
        XCTAssertEqual(p.tracePass.count, images.reduce(0, +))
        let traced = p.tracePass.map(\.step)
        XCTAssertEqual(plan.steps.indices.map { i in traced.filter { $0 == i }.count }, images)
        XCTAssertNotEqual(traced, traced.sorted(), "images interleave: step 1 on image 0 runs before step 0 on image 1")
        let trace = try JSONSerialization.jsonObject(with: Data(p.chromeTrace(process: "t").utf8)) as? [String: Any]
        let events = try XCTUnwrap(trace?["traceEvents"] as? [[String: Any]])
        XCTAssertEqual(events.filter { $0["ph"] as? String == "X" && $0["tid"] as? Int == 1 }.count, images.reduce(0, +))
    }

    /// Overhead comes with a confidence interval around its median, from alternated pairs.
    func testOverheadHasAnIntervalAndTracesShowEveryWorker() throws {
        let model = try ModelZoo.named("deit_tiny_patch16_224").random()
        let plan = try model.plan(batch: 1, height: 64, width: 64, pool: ThreadPool(threads: 2))
        let p = LayerProfile.measure(plan, passes: 8, warmup: 1, protocol: .quick)
        XCTAssertGreaterThanOrEqual(p.overheadRatios.count, 8)
        XCTAssertLessThanOrEqual(p.overheadInterval.low, p.overhead)
        XCTAssertGreaterThanOrEqual(p.overheadInterval.high, p.overhead)
        let md = p.markdown(title: "t", top: 3)
        XCTAssertTrue(md.contains("95% CI") && md.contains("alternated pairs"), md)
        // Tasks are attributed to steps and lie inside the traced pass; both workers have a track.
        XCTAssertFalse(p.traceTasks.isEmpty)
        XCTAssertTrue(p.traceTasks.allSatisfy { $0.step >= 0 && $0.step < p.steps.count && $0.duration >= 0 })
        let trace = try JSONSerialization.jsonObject(with: Data(p.chromeTrace(process: "t").utf8)) as? [String: Any]
        let events = try XCTUnwrap(trace?["traceEvents"] as? [[String: Any]])
        let names = events.filter { $0["name"] as? String == "thread_name" }.compactMap { ($0["args"] as? [String: Any])?["name"] as? String }
        XCTAssertEqual(names, ["plan steps", "worker 0 (calling thread)", "worker 1"])
        XCTAssertTrue(p.traceTasks.contains { $0.worker == 0 })
    }
}
