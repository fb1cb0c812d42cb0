#!/usr/bin/env python3
"""Goldens for FastViT (timm fastvit.py), train-time and reparameterised (timm's reparameterize_model).

Cases (every tensor randomised by common.export):
  fastvit_t8           the real fastvit_t8, float16-exact values, 1x3x128x128
  fastvit_sa12_small   sa12 (RepMixer stages, attention + RepCPE in stage 4) at small widths and
                       two blocks in stages 2 and 4, batch 2, non-square 96x80 (odd stride-32 map)
  fastvit_ma36_tails   ma36's layout at widths that are not multiples of 16 (stage 4 a multiple of
                       the head dim 32; each width divides the next, as the grouped downsample
                       conv needs), MLP ratio 3, 112x72
The `config` of each case is exactly the keyword arguments given to timm.create_model, which are
the JSON keys of vitbench's FastViT.Config.
Usage (peer environment): python scripts/goldens/export_fastvit.py"""
import timm
from timm.utils.model import reparameterize_model

from common import export

CASES = [
    # case, zoo model, timm overrides, batch, height, width, dtype
    ('fastvit_t8', 'fastvit_t8', {}, 1, 128, 128, 'F16'),
    ('fastvit_sa12_small', 'fastvit_sa12',
     dict(layers=[1, 2, 1, 2], embed_dims=[16, 32, 64, 64], num_classes=37), 2, 96, 80, 'F32'),
    ('fastvit_ma36_tails', 'fastvit_ma36',
     dict(layers=[1, 1, 1, 1], embed_dims=[6, 12, 24, 96], mlp_ratios=[3, 3, 3, 3], num_classes=37), 1, 112, 72, 'F32'),
]

for case, name, config, batch, height, width, dtype in CASES:
    model = timm.create_model(name, pretrained=False, **config)
    # The full-size case keeps only its float16 train-time file (8 MB); the small cases carry
    # timm's reparameterised key set.
    export(case, model, name, config, batch=batch, height=height, width=width, dtype=dtype,
           reparameterize=reparameterize_model, save_reparam=dtype != 'F16')
