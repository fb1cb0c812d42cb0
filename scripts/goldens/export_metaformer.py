#!/usr/bin/env python3
"""Goldens for PoolFormer (timm) and the metaformer_s12 mixer skeleton (scripts/peers/metaformer_s12.py).

PoolFormer comes from timm at small widths. metaformer_s12 comes from the project's own PyTorch
definition, scripts/peers/metaformer_s12.py (the network vitbench's metaformer_s12 builds; its
parameter names are vitbench's, so the state_dict is written as it is), at small widths. For
`repmixer` the train-time form is FastViT's RepMixer (x + s·(mixer(x) − norm(x))) and the
reparameterised form its single depthwise 3x3 conv, both as metaformer_s12.py defines them.
Also writes the full-size skeleton's parameter and MAC counts into reference_counts.json.
Usage (the peer environment, scripts/peers/setup.sh): python scripts/goldens/export_metaformer.py
(VITBENCH_GOLDENS=DIR writes into DIR instead of Tests/VitModelsTests/Goldens.)"""
import json
import os
import sys

import torch
import torch.nn as nn
from timm.layers import GroupNorm1
from timm.models.metaformer import MetaFormer
from torch.utils.flop_counter import FlopCounterMode

from common import GOLDENS, export

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'peers'))
from metaformer_s12 import metaformer_s12  # noqa: E402

# PoolFormer: timm's MetaFormer with poolformer_s12's arguments (its entry point fixes depths and
# dims), small widths.
small = dict(depths=[1, 1, 2, 1], dims=[16, 24, 40, 56])
pf = MetaFormer(**small, downsample_norm=None, mlp_act=nn.GELU, mlp_bias=True, norm_layers=GroupNorm1,
                layer_scale_init_values=1e-5, res_scale_init_values=None, use_mlp_head=False)
export('poolformer_s12_small', pf, 'poolformer_s12', small, batch=2, height=61, width=53)

# metaformer_s12 at small widths, one golden per mixer (identity has nothing of its own to check).
config = dict(dims=[32, 32, 64, 64], depths=[1, 1, 2, 1])
for kind in ['pooling', 'repmixer', 'attention', 'dwconv']:
    export(f'metaformer_s12_{kind}', metaformer_s12(kind, config), f'metaformer_s12:{kind}', config,
           batch=2, height=64, width=48, reparameterize=(lambda m: m.reparameterize()) if kind == 'repmixer' else None,
           source='scripts/peers/metaformer_s12.py')

# Reference counts of the full-size skeleton, for `vitbench info` tests: parameters and MACs
# (FlopCounterMode / 2, batch 1, 224x224) of the inference form.
path = os.path.join(GOLDENS, 'reference_counts.json')
table = json.load(open(path)) if os.path.exists(path) else {}
for kind in ['pooling', 'repmixer', 'attention', 'dwconv']:
    net = metaformer_s12(kind, inference=True)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        net(torch.randn(1, 3, 224, 224))
    params = sum(p.numel() for p in net.parameters())
    table[f'metaformer_s12:{kind}'] = dict(params_reparam=params, resolution=224, gmacs=fc.get_total_flops() / 2e9,
                                          source='scripts/peers/metaformer_s12.py')
    print(kind, table[f'metaformer_s12:{kind}'])
with open(path, 'w') as fh:
    json.dump(table, fh, indent=1, sort_keys=True)
