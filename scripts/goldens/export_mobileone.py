#!/usr/bin/env python3
"""Goldens for MobileOne (timm byobnet, mobileone_s0 ... s4) at small widths.

timm fixes each variant's widths inside `model_cfgs`, so the small networks are built the way timm
builds the real ones: `ByoModelCfg(blocks=_mobileone_bcfg(...), stem_type='one', stem_chs=...)`
given to `ByobNet`, with width factors chosen so that 64/128/256/512 x wf are the wanted widths.
meta.json's config holds vitbench's MobileOne.Config keys (depths, widths, stem_width,
num_conv_branches, se_blocks, num_classes).
Usage (peer environment): python scripts/goldens/export_mobileone.py"""
from timm.models.byobnet import ByobNet, ByoModelCfg, _mobileone_bcfg
from timm.utils.model import reparameterize_model

from common import export

BASE = (64, 128, 256, 512)  # _mobileone_bcfg's stage widths before width factors


def mobileone(depths, widths, stem_width, num_conv_branches=1, se_blocks=(), num_classes=1000):
    # vitbench's stage-0 depthwise block keeps the stem width; timm gives it min(64, 64 * wf[0]),
    # which is stem_chs in every real variant — keep the small ones the same.
    assert stem_width == min(64, widths[0]), 'stage 0 depthwise width must equal the stem width'
    assert all(w % 8 == 0 for w in widths), 'timm rounds widths to multiples of 8'
    wf = tuple(w / c for w, c in zip(widths, BASE))  # exact: power-of-two denominators
    cfg = ByoModelCfg(blocks=_mobileone_bcfg(d=tuple(depths), wf=wf, se_blocks=tuple(se_blocks),
                                             num_conv_branches=num_conv_branches),
                      stem_type='one', stem_chs=stem_width)
    model = ByobNet(cfg, num_classes=num_classes)
    assert model.num_features == widths[-1]
    config = dict(depths=list(depths), widths=list(widths), stem_width=stem_width,
                  num_conv_branches=num_conv_branches, se_blocks=list(se_blocks), num_classes=num_classes)
    return model, config


# S0-like: four conv branches per block (s0's distinguishing feature), two blocks in the first
# stages so that depthwise and pointwise blocks with identity branches occur.
net, cfg = mobileone(depths=(2, 2, 2, 1), widths=(16, 24, 32, 48), stem_width=16, num_conv_branches=4)
export('mobileone_s0_small', net, 'mobileone_s0', cfg, batch=2, height=64, width=80,
       reparameterize=reparameterize_model)

# S4-like: squeeze-excitation (`attn`) on the last blocks of the last two stages, as se_blocks=(0, 0, 5, 1).
net, cfg = mobileone(depths=(1, 1, 3, 2), widths=(24, 32, 64, 96), stem_width=24, se_blocks=(0, 0, 2, 1),
                     num_classes=37)
export('mobileone_s4_small', net, 'mobileone_s4', cfg, batch=1, height=96, width=72,
       reparameterize=reparameterize_model)
