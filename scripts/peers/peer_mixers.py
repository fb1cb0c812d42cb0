#!/usr/bin/env python3
"""Latency of the metaformer_s12 token-mixer skeleton under ONNX Runtime and OpenVINO (and,
optionally, PyTorch eager): the peers of vitbench's `metaformer_s12` with `--mixer MIXER`, running
the very same network. The network is scripts/peers/metaformer_s12.py (its docstring is the
definition vitbench's Sources/VitModels/Families/MetaFormerS12.swift follows), built in its
inference form: repmixer as its single reparameterised depthwise conv, like vitbench's default
`--form inference`. Weights are random; timing works as in peer_models.py (same export, same
engine settings, same warm-up and stopping rule, outputs checked against PyTorch).

Full attention is quadratic in the number of tokens (stage 1 has (res/4)^2 of them), so it is
skipped above --max-attention-res (512, as in Suites/mixers.yaml).

Usage: peer_mixers.py [--res 224,512] [--mixers pooling,repmixer,attention,dwconv,identity]
                      [--batch 1] [--threads 1] [--engines ort,ov[,torch]] [--reps 20]
                      [--min-seconds 1] [--json]
With --json, one JSON object per mixer and resolution per line, with the fields of peer_models.py
and `model` = metaformer_s12:MIXER. Needs the peer environment (scripts/peers/setup.sh); timm is
not needed."""
import argparse
import hashlib
import os
import sys

import torch

from metaformer_s12 import MIXERS, metaformer_s12
from peer_models import common_args, emit, engine_list, time_network, versions


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--mixers', default=','.join(MIXERS))
    ap.add_argument('--max-attention-res', type=int, default=512)
    common_args(ap)
    ap.set_defaults(res='224,512')
    a = ap.parse_args()
    engines = engine_list(a.engines)
    mixers = [m for m in a.mixers.split(',') if m]
    unknown = [m for m in mixers if m not in MIXERS]
    if unknown:
        sys.exit(f'unknown mixer(s) {unknown}; known: {", ".join(MIXERS)}')

    here = os.path.dirname(os.path.abspath(__file__))
    definition = hashlib.sha256(open(os.path.join(here, 'metaformer_s12.py'), 'rb').read()).hexdigest()[:12]
    tag = f'torch{torch.__version__.split("+")[0]}-def{definition}'
    ver = versions(engines)
    for res in [int(r) for r in a.res.split(',') if r]:
        for mixer in mixers:
            if mixer == 'attention' and res > a.max_attention_res:
                print(f'metaformer_s12:attention @{res}: skipped (above --max-attention-res {a.max_attention_res})',
                      file=sys.stderr, flush=True)
                continue
            torch.manual_seed(a.seed)
            model = metaformer_s12(mixer, inference=True)
            x = torch.randn(a.batch, 3, res, res, generator=torch.Generator().manual_seed(a.seed + 1))
            row = {'model': f'metaformer_s12:{mixer}', 'mixer': mixer, 'res': res, 'batch': a.batch,
                   'threads': a.threads, 'params_M': round(sum(p.numel() for p in model.parameters()) / 1e6, 3),
                   'versions': ver}
            path = os.path.join(a.cache, f'metaformer_s12_{mixer}_{res}_b{a.batch}_seed{a.seed}_opset17_{tag}.onnx')
            row.update(time_network(model, x, path, a, engines))
            emit(row, a.json)


if __name__ == '__main__':
    main()
