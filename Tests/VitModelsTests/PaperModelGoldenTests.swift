import XCTest

/// The families built from papers without public code, against independent PyTorch ports
/// written from their doc comments alone (scripts/goldens/export_psvit.py, export_mlvit.py):
/// the same documented design, implemented a second time outside the engine and its reference
/// operators. Each golden checks the tensor names, the parameter count and the logits.
final class PaperModelGoldenTests: XCTestCase {
    // MARK: - PSViT

    /// PSViT-1D at its native 8x8 patch grid: two 1D token poolings (64 → 16 → 4 patch tokens),
    /// a sharing layer after a sharing layer, the class-token head.
    func testPSViT1DMatchesPort() throws { try checkGolden("psvit_1d_small") }
    /// PSViT-1D at 76x58: a 9x7 grid (pixels past the last patch unseen), the position embedding
    /// resampled bicubically with antialiasing, 63 → 16 → 4 tokens (a pooling window past the end).
    func testPSViT1DResampledMatchesPort() throws { try checkGolden("psvit_1d_small_76x58") }
    /// PSViT-2D at its native grid: stride-2 conv poolings 8x8 → 4x4 → 2x2, average-pool head.
    func testPSViT2DMatchesPort() throws { try checkGolden("psvit_2d_small") }
    /// PSViT-2D at 76x58: a resampled position embedding and odd maps, 9x7 → 5x4 → 3x2.
    func testPSViT2DResampledMatchesPort() throws { try checkGolden("psvit_2d_small_76x58") }

    // MARK: - Mobile-level ViT (IPE + APF)

    /// IPE (6x6 + 3x3 + global token), encoder, APF at the native 96x96.
    func testMobileLevelViTMatchesPort() throws { try checkGolden("mlvit_small") }
    /// At 118x70 the grids become 8x5 + 4x3 + 1x1: `pos_embed` and `apf.global_weight` are
    /// resampled bilinearly grid by grid.
    func testMobileLevelViTResampledMatchesPort() throws { try checkGolden("mlvit_small_118x70") }
    /// The no-APF ablation at 118x70: a class token whose position row is kept while the grids'
    /// rows are resampled, and the class-token head.
    func testMobileLevelViTWithoutAPFMatchesPort() throws { try checkGolden("mlvit_small_no_apf_118x70") }
    /// The no-IPE ablation: uniform 12x12 tokens through the 1x1 `patch_embed.proj`.
    func testMobileLevelViTWithoutIPEMatchesPort() throws { try checkGolden("mlvit_small_no_ipe") }
}
