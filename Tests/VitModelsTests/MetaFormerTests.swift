import XCTest
import VitEngine
import VitModels

/// PoolFormer (timm) and the metaformer_s12 mixer skeleton (peer_mixers.py) against their goldens.
final class MetaFormerGoldenTests: XCTestCase {
    func testPoolFormerMatchesTimm() throws { try checkGolden("poolformer_s12_small") }
    func testPoolingMixerMatchesPeerSkeleton() throws { try checkGolden("metaformer_s12_pooling") }
    func testRepMixerMatchesPeerSkeletonInBothForms() throws { try checkGolden("metaformer_s12_repmixer") }
    func testAttentionMixerMatchesPeerSkeleton() throws { try checkGolden("metaformer_s12_attention") }
    func testDepthwiseMixerMatchesPeerSkeleton() throws { try checkGolden("metaformer_s12_dwconv") }
}
