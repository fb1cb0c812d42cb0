#!/usr/bin/env python3
"""Goldens for PoolFormer (timm) and the metaformer_s12 mixer skeleton (../shared/tools/peer_mixers.py).

PoolFormer comes from timm at small widths. metaformer_s12 comes from the peer skeleton's own
classes (read from peer_mixers.py, whose definition vitbench's metaformer_s12 follows), at small
widths, with its Sequential names mapped onto vitbench's timm-style names. For `repmixer` the
train-time form is timm's RepMixer (x + s·(mixer(x) − norm(x))), whose reparameterised form is
the peer's single depthwise 3x3 conv.
Usage (peer environment): python scripts/goldens/export_metaformer.py [--peer ../shared/tools/peer_mixers.py]"""
import argparse
import os

import timm
import torch
import torch.nn as nn
from timm.layers import GroupNorm1
from timm.models.fastvit import RepMixer
from timm.models.metaformer import MetaFormer
from timm.utils.model import reparameterize_model

from common import export

ap = argparse.ArgumentParser()
ap.add_argument('--peer', default=os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared', 'tools', 'peer_mixers.py'))
a = ap.parse_args()

# PoolFormer: timm's MetaFormer with poolformer_s12's arguments (its entry point fixes depths and
# dims), small widths.
small = dict(depths=[1, 1, 2, 1], dims=[16, 24, 40, 56])
pf = MetaFormer(**small, downsample_norm=None, mlp_act=nn.GELU, mlp_bias=True, norm_layers=GroupNorm1,
                layer_scale_init_values=1e-5, res_scale_init_values=None, use_mlp_head=False)
export('poolformer_s12_small', pf, 'poolformer_s12', small, batch=2, height=61, width=53)

# The peer skeleton's classes, without running its command line.
source = open(a.peer).read()
peer = {}
exec(compile(source[:source.index('ap = argparse')], a.peer, 'exec'), peer)
Block = peer['Block']


class RepMixerToken(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.token_mixer = RepMixer(d, kernel_size=3, layer_scale_init_value=0.5)

    def forward(self, x):
        return self.token_mixer(x)


class Stage(nn.Module):
    def __init__(self, kind, d_in, d, depth, downsample):
        super().__init__()
        self.downsample = nn.Conv2d(d_in, d, 3, 2, 1) if downsample else None
        self.blocks = nn.Sequential(*[Block(kind, d) for _ in range(depth)])
        if kind == 'repmixer':
            for b in self.blocks:
                b.mix = RepMixerToken(d)

    def forward(self, x):
        if self.downsample is not None:
            x = self.downsample(x)
        return self.blocks(x)


class Skeleton(nn.Module):
    """peer_mixers.metaformer_s12 with configurable widths and depths."""
    def __init__(self, kind, dims, depths):
        super().__init__()
        self.stem = nn.Conv2d(3, dims[0], 7, 4, 3)
        self.stages = nn.Sequential(*[Stage(kind, dims[max(i - 1, 0)], d, n, i > 0) for i, (d, n) in enumerate(zip(dims, depths))])
        self.fc = nn.Linear(dims[-1], 1000)

    def forward(self, x):
        return self.fc(self.stages(self.stem(x)).mean((2, 3)))


def rename(sd):
    """Peer names -> vitbench's metaformer_s12 names."""
    out = {}
    for k, v in sd.items():
        n = k
        n = n.replace('stem.', 'stem.conv.', 1)
        n = n.replace('.downsample.', '.downsample.conv.')
        n = n.replace('.mix.token_mixer.', '.token_mixer.')
        n = n.replace('.mix.norm.', '.token_mixer.norm.').replace('.mix.op.', '.token_mixer.conv.')
        n = n.replace('.mix.qkv.', '.token_mixer.qkv.').replace('.mix.proj.', '.token_mixer.proj.')
        n = n.replace('.n2.', '.norm.').replace('.mlp.0.', '.mlp.fc1.').replace('.mlp.2.', '.mlp.fc2.')
        if n.endswith('.mix.ls'):
            n, v = n.replace('.mix.ls', '.token_mixer.layer_scale'), v.reshape(-1)
        elif n.endswith('.ls'):
            n, v = n[:-3] + '.layer_scale', v.reshape(-1)
        n = n.replace('fc.', 'head.fc.', 1) if n.startswith('fc.') else n
        out[n] = v
    return out


class Renamed(nn.Module):
    """Presents the skeleton's state_dict under vitbench's names (for export only)."""
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)


dims, depths = [32, 32, 64, 64], [1, 1, 2, 1]
for kind in ['pooling', 'repmixer', 'attention', 'dwconv']:
    net = Skeleton(kind, dims, depths)
    # Mixers other than their own carry unused norm/ls (peer Mixer always makes them): drop them.
    for m in net.modules():
        if isinstance(m, peer['Mixer']) and m.kind == 'repmixer':
            del m.norm, m.ls
    export(f'metaformer_s12_{kind}', net, f'metaformer_s12:{kind}', dict(dims=dims, depths=depths),
           batch=2, height=64, width=48, reparameterize=reparameterize_model if kind == 'repmixer' else None,
           source='peer_mixers.py', state_dict_names=rename)


# Reference counts of the full-size skeleton (peer_mixers.metaformer_s12), for `vitbench info` tests:
# parameters and MACs (FlopCounterMode / 2, batch 1, 224x224) of the inference form.
import json
from torch.utils.flop_counter import FlopCounterMode
from common import GOLDENS
path = os.path.join(GOLDENS, 'reference_counts.json')
table = json.load(open(path)) if os.path.exists(path) else {}
for kind in ['pooling', 'repmixer', 'attention', 'dwconv']:
    net = peer['metaformer_s12'](kind)
    for m in net.modules():  # the peer Mixer makes norm/ls for every kind; repmixer uses neither
        if isinstance(m, peer['Mixer']) and m.kind == 'repmixer':
            del m.norm, m.ls
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        net(torch.randn(1, 3, 224, 224))
    params = sum(p.numel() for p in net.parameters())
    table[f'metaformer_s12:{kind}'] = dict(params_reparam=params, resolution=224, gmacs=fc.get_total_flops() / 2e9,
                                          source='peer_mixers.py')
    print(kind, table[f'metaformer_s12:{kind}'])
with open(path, 'w') as fh:
    json.dump(table, fh, indent=1, sort_keys=True)
