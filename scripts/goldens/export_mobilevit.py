#!/usr/bin/env python3
"""Goldens for MobileViT v1 (timm mobilevit.py on byobnet.py).

Cases (every tensor randomised by common.export):
  mobilevit_xxs               the real mobilevit_xxs, float16-exact values, 1x3x256x256 (every
                              MobileViT map divisible by the 2x2 patches)
  mobilevit_xs_small_320      xs's layout (MV2 expansion 4, the default) at small widths, float16-exact
                              values, 320x320
  mobilevit_s_small_250       s's layout at widths that make_divisible rounds up (12 -> 16, 20 -> 24),
                              expansion 3, 3x3 patches in stages.2 (its 32x32 map is resized to 33x33
                              and back), the default 4x4 patches in stages.4, no final_conv, 250x250
  mobilevit_xxs_small_odd     xxs's layout at small widths, batch 2, non-square 200x136: the maps of
                              all three MobileViT blocks (25x17, 13x9, 7x5) are resized
The `config` of each case is what vitbench's MobileViT.Config overrides take: `stem_chs`,
`num_features`, `num_classes` go to timm.create_model as they are; `blocks` lists one dict per
stage holding the arguments of timm's `_inverted_residual_block`, or of `_mobilevit_block` where
it has a `transformer_dim`.
Usage (peer environment): python scripts/goldens/export_mobilevit.py"""
import timm
from timm.models.mobilevit import _inverted_residual_block, _mobilevit_block

from common import export


def timm_blocks(stages):
    return tuple(_mobilevit_block(**s) if 'transformer_dim' in s else _inverted_residual_block(**s) for s in stages)


CASES = [
    # case, zoo model, overrides, batch, height, width, dtype
    ('mobilevit_xxs', 'mobilevit_xxs', {}, 1, 256, 256, 'F16'),
    ('mobilevit_xs_small_320', 'mobilevit_xs',
     dict(blocks=[dict(d=1, c=8, s=1), dict(d=3, c=16, s=2),
                  dict(d=1, c=16, s=2, transformer_dim=24, transformer_depth=1, patch_size=2),
                  dict(d=1, c=24, s=2, transformer_dim=32, transformer_depth=2, patch_size=2),
                  dict(d=1, c=32, s=2, transformer_dim=40, transformer_depth=1, patch_size=2)],
          stem_chs=8, num_features=48, num_classes=37), 1, 320, 320, 'F16'),
    ('mobilevit_s_small_250', 'mobilevit_s',
     dict(blocks=[dict(d=1, c=12, s=1, br=3), dict(d=2, c=20, s=2, br=3),
                  dict(d=1, c=24, s=2, br=3, transformer_dim=36, transformer_depth=2, patch_size=3),
                  dict(d=1, c=32, s=2, br=3, transformer_dim=20, transformer_depth=1, patch_size=2),
                  dict(d=1, c=40, s=2, br=3, transformer_dim=24, transformer_depth=1)],
          stem_chs=12, num_features=0, num_classes=29), 1, 250, 250, 'F32'),
    ('mobilevit_xxs_small_odd', 'mobilevit_xxs',
     dict(blocks=[dict(d=1, c=16, s=1, br=2), dict(d=3, c=24, s=2, br=2),
                  dict(d=1, c=24, s=2, br=2, transformer_dim=32, transformer_depth=2, patch_size=2),
                  dict(d=1, c=32, s=2, br=2, transformer_dim=40, transformer_depth=1, patch_size=2),
                  dict(d=1, c=40, s=2, br=2, transformer_dim=48, transformer_depth=1, patch_size=2)],
          num_features=64, num_classes=37), 2, 200, 136, 'F32'),
]

for case, name, config, batch, height, width, dtype in CASES:
    kwargs = dict(config)
    if 'blocks' in kwargs:
        kwargs['blocks'] = timm_blocks(kwargs['blocks'])
    model = timm.create_model(name, pretrained=False, **kwargs)
    export(case, model, name, config, batch=batch, height=height, width=width, dtype=dtype)
