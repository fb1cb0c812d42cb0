import XCTest
import VitEngine

/// `BilinearResize` against PyTorch's `F.interpolate(mode='bilinear', align_corners=False)`:
/// the optimised kernel against its reference twin, and the reference against values worked
/// out by hand.
final class ResizeTests: XCTestCase {
    func testKernelMatchesReference() throws {
        var rng = makeRNG()
        // (batch, in H, in W, channels, out H, out W)
        let cases: [(Int, Int, Int, Int, Int, Int)] = [
            (2, 25, 17, 48, 26, 18),  // MobileViT: an odd map up to the next multiple of the patch...
            (2, 26, 18, 48, 25, 17),  // ...and back
            (1, 3, 5, 17, 7, 2),      // up along H, down along W, a channel tail past 16
            (1, 6, 6, 3, 6, 9),       // identity along H
            (1, 1, 1, 5, 2, 3),       // a single pixel spreads everywhere
            (3, 9, 4, 1, 4, 9),       // one channel
        ]
        for (n, ih, iw, c, oh, ow) in cases {
            try assertMatchesReference(BilinearResize(height: oh, width: ow), [randomTensor([n, ih, iw, c], &rng)], tolerance: 1e-6)
        }
    }

    /// The well-known 2x upscale of [[1, 2], [3, 4]]: output index o reads input coordinate
    /// (o + ½)/2 − ½ = −¼ (clamped to 0), ¼, ¾, 1¼ (the last pixel has no right neighbour), so
    /// each axis blends as [x₀, ¾x₀ + ¼x₁, ¼x₀ + ¾x₁, x₁].
    func testTwoByTwoToFourByFourByHand() throws {
        let x = Tensor(shape: [1, 2, 2, 1], data: [1, 2, 3, 4])
        let expected: [Float] = [1.0, 1.25, 1.75, 2.0,
                                 1.5, 1.75, 2.25, 2.5,
                                 2.5, 2.75, 3.25, 3.5,
                                 3.0, 3.25, 3.75, 4.0]
        for backend in [Backend.reference, .packed] {
            let y = try runOperator(BilinearResize(height: 4, width: 4), [x], backend: backend, threads: 1)
            XCTAssertEqual(y.shape, [1, 4, 4, 1])
            XCTAssertEqual(y.data, expected, backend.name)
        }
    }

    /// Downscaling reads only the two nearest pixels (no antialiasing): width 3 → 2 maps output
    /// 0 to coordinate 1.5·½ − ½ = ¼ and output 1 to 1.5·1½ − ½ = 1¾. Two channels with
    /// different values check that channels stay apart.
    func testDownscaleByHand() throws {
        let x = Tensor(shape: [1, 1, 3, 2], data: [0, 100, 4, 200, 8, 400])
        for backend in [Backend.reference, .packed] {
            let y = try runOperator(BilinearResize(height: 1, width: 2), [x], backend: backend, threads: 1)
            XCTAssertEqual(y.shape, [1, 1, 2, 2])
            XCTAssertEqual(y.data, [1, 125, 7, 350], backend.name)
        }
    }

    func testImpossibleShapesAreClearErrors() {
        let b = PlanBuilder(pool: ThreadPool(threads: 1))
        XCTAssertThrowsError(try b.apply(BilinearResize(height: 0, width: 4), [b.input([1, 2, 2, 3])])) { error in
            XCTAssertTrue("\(error)".contains("to 0x4"), "\(error)")
        }
        XCTAssertThrowsError(try b.apply(BilinearResize(height: 2, width: 2), [b.input([4, 3])])) { error in
            XCTAssertTrue("\(error)".contains("rank 4"), "\(error)")
        }
    }
}
