#!/usr/bin/env python3
"""Goldens for DeiT (timm deit.py: VisionTransformer without distillation token).

Cases (every tensor randomised by common.export, the position embedding and class token included;
float16-exact values to keep the files small):
  deit_tiny_small     deit_tiny_patch16_224's layout at width 48, 2 blocks, 3 heads, 37 classes, at 224
                      (the checkpoint's 14x14 grid: the position embedding is used as stored)
  deit_tiny_pos_up    the same model run at 320x288 (a 20x18 grid): the 14x14 position embedding is
                      upsampled by timm's resample_abs_pos_embed (bicubic, antialias=True)
  deit_tiny_pos_down  the same model run at 160x128 (10x8): downsampled, where antialiasing changes the
                      filter's support
The resampled cases build the model as timm runs a checkpoint at another size, with
dynamic_img_size=True: the weights keep the 14x14 embedding and timm resamples it on the fly. That
flag is a runtime switch of timm's, not part of the model, so it is not in the golden's `config`
(vitbench always resamples); everything else in `config` is a keyword argument of timm.create_model
and a JSON key of vitbench's DeiT.Config.
Usage (peer environment): python scripts/goldens/export_deit.py"""
import timm

from common import export

SMALL = dict(embed_dim=48, depth=2, num_heads=3, num_classes=37)
CASES = [
    # case, zoo model, timm overrides, batch, height, width
    ('deit_tiny_small', 'deit_tiny_patch16_224', SMALL, 1, 224, 224),
    ('deit_tiny_pos_up', 'deit_tiny_patch16_224', SMALL, 1, 320, 288),
    ('deit_tiny_pos_down', 'deit_tiny_patch16_224', SMALL, 2, 160, 128),
]

for case, name, config, batch, height, width in CASES:
    model = timm.create_model(name, pretrained=False, dynamic_img_size=True, **config)
    export(case, model, name, config, batch=batch, height=height, width=width, dtype='F16')
