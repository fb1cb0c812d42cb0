#!/usr/bin/env python3
"""Goldens for LeViT (timm levit.py, linear form, LevitDistilled), train-time and fused (timm's
reparameterize_model, which calls each ConvNorm/LinearNorm/NormLinear's fuse()).

Cases (every tensor randomised by common.export, attention biases and BatchNorm statistics included;
float16-exact values to keep the files small):
  levit_128s_small    levit_128s's three stages at widths 32/48/64, key dim 8, heads 2/3/4, one block
                      per stage, 37 classes, at 224: a 14x14 grid, then the two shrink attentions to
                      7x7 and 4x4 (odd grid: the subsampling keeps the last row and column)
  levit_128s_grid12x10  the same layout built by timm for img_size (192, 160): the attention biases
                      and their offset index are for 12x10, 6x5 and 3x3 grids (a non-square grid
                      checks the |dy|·width + |dx| index), batch 2; without timm's fused file (the
                      first case checks that key set)
The `config` of each case is exactly the keyword arguments given to timm.create_model, which are
the JSON keys of vitbench's LeViT.Config.
Usage (peer environment): python scripts/goldens/export_levit.py"""
import timm
from timm.utils.model import reparameterize_model

from common import export

SMALL = dict(embed_dim=[32, 48, 64], key_dim=8, num_heads=[2, 3, 4], depth=[1, 1, 1], num_classes=37)
CASES = [
    # case, zoo model, timm overrides, batch, height, width, save timm's fused state_dict
    ('levit_128s_small', 'levit_128s', SMALL, 1, 224, 224, True),
    ('levit_128s_grid12x10', 'levit_128s', dict(SMALL, img_size=[192, 160]), 2, 192, 160, False),
]

for case, name, config, batch, height, width, save_reparam in CASES:
    model = timm.create_model(name, pretrained=False, **config)
    export(case, model, name, config, batch=batch, height=height, width=width, dtype='F16',
           reparameterize=reparameterize_model, save_reparam=save_reparam)
