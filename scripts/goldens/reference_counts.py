#!/usr/bin/env python3
"""Parameter counts (train-time and reparameterised) and GMACs of timm's models, measured with
timm itself: the reference `vitbench info` and the count tests compare against.
Writes Tests/VitModelsTests/Goldens/reference_counts.json (merged with what is there).
MACs: torch.utils.flop_counter.FlopCounterMode FLOPs / 2, reparameterised form, batch 1.
Usage (peer environment): python scripts/goldens/reference_counts.py [MODEL ...]"""
import json
import os
import sys

import timm
import torch
from timm.utils.model import reparameterize_model
from torch.utils.flop_counter import FlopCounterMode

from common import GOLDENS

DEFAULT = ['fastvit_t8', 'fastvit_t12', 'fastvit_s12', 'fastvit_sa12', 'fastvit_sa24', 'fastvit_sa36', 'fastvit_ma36',
           'mobileone_s0', 'mobileone_s1', 'mobileone_s2', 'mobileone_s3', 'mobileone_s4',
           'poolformer_s12', 'poolformer_s24', 'poolformer_s36',
           'mobilevit_xxs', 'mobilevit_xs', 'mobilevit_s',
           'levit_128s', 'levit_128', 'levit_192', 'levit_256', 'levit_384',
           'deit_tiny_patch16_224', 'deit_small_patch16_224', 'deit_base_patch16_224']
RES = {'fastvit': 256, 'mobilevit': 256}

path = os.path.join(GOLDENS, 'reference_counts.json')
table = json.load(open(path)) if os.path.exists(path) else {}
for name in sys.argv[1:] or DEFAULT:
    m = timm.create_model(name, pretrained=False).eval()
    params = sum(p.numel() for p in m.parameters())
    f = reparameterize_model(m)
    fused = sum(p.numel() for p in f.parameters())
    res = next((r for k, r in RES.items() if name.startswith(k)), 224)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        f(torch.randn(1, 3, res, res))
    table[name] = dict(params=params, params_reparam=fused, resolution=res, gmacs=fc.get_total_flops() / 2e9,
                       timm_version=timm.__version__)
    print(name, table[name], flush=True)
with open(path, 'w') as fh:
    json.dump(table, fh, indent=1, sort_keys=True)
