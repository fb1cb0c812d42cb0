#!/usr/bin/env python3
"""vitbench beside ONNX Runtime and OpenVINO, measured in one sitting on this machine.

Runs `vitbench bench --json` and the peer tools of ../shared/tools (peer_models.py for timm models,
peer_mixers.py for the metaformer_s12 mixer skeleton), each pinned to the same core with taskset,
and prints one Markdown table of medians and ratios (vitbench / peer; < 1 means vitbench is faster).
On a shared, noisy machine the speed of a core drifts by tens of percent over minutes: with
`--rounds N` every model is measured N times, vitbench and the peers alternating, and the table
shows the median over rounds of each engine's median, and the range of the per-round ratios.
Usage (peer environment from ../shared/tools/peer-setup.sh):
  python scripts/peers/compare.py [--models fastvit_t8@224,fastvit_t8@256,...] [--mixers 224,512]
                                  [--threads 1] [--cpu 0] [--python ~/.vitbench-peers/bin/python]"""
import argparse
import json
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.normpath(os.path.join(here, '..', '..'))
tools = os.path.normpath(os.path.join(root, '..', 'shared', 'tools'))

ap = argparse.ArgumentParser()
ap.add_argument('--models', default='fastvit_t8@224,fastvit_t8@256,poolformer_s12@224,mobileone_s0@224')
ap.add_argument('--mixers', default='224,512', help='resolutions for metaformer_s12 (empty: none)')
ap.add_argument('--mixer-kinds', default='pooling,repmixer,dwconv,attention')
ap.add_argument('--threads', type=int, default=1)
ap.add_argument('--cpu', default='0', help='taskset CPU list for every process')
ap.add_argument('--python', default=os.path.expanduser('~/.vitbench-peers/bin/python'))
ap.add_argument('--vitbench', default=os.path.join(root, '.build', 'release', 'vitbench'))
ap.add_argument('--min-seconds', default='2')
ap.add_argument('--rounds', type=int, default=1, help='alternate vitbench and the peers this many times per model')
a = ap.parse_args()
pin = ['taskset', '-c', a.cpu]


def vitbench(model, res, mixer=None):
    cmd = pin + [a.vitbench, 'bench', '--model', model, '--resolution', str(res), '--threads', str(a.threads),
                 '--json', '--min-seconds', a.min_seconds]
    if mixer:
        cmd += ['--mixer', mixer]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f'vitbench failed: {out.stdout}{out.stderr}')
    return float(json.loads(out.stdout.strip().splitlines()[-1])['median_ms'])


def peer_models(model, res):
    out = subprocess.run(pin + [a.python, os.path.join(tools, 'peer_models.py'), '--models', model, '--res', str(res),
                                '--threads', str(a.threads), '--engines', 'ort,ov'], capture_output=True, text=True)
    rows = [l for l in out.stdout.splitlines() if l.startswith('{')]
    if not rows:
        sys.exit(f'peer_models failed: {out.stdout}{out.stderr}')
    d = eval(rows[-1])  # the tool prints a Python dict
    return d.get('ort_ms'), d.get('ov_ms')


def peer_mixers(res, kinds):
    out = subprocess.run(pin + [a.python, os.path.join(tools, 'peer_mixers.py'), '--res', str(res), '--mixers', kinds,
                                '--threads', str(a.threads)], capture_output=True, text=True)
    got = {}
    for line in out.stdout.splitlines()[1:]:
        k, r, *_, ms = line.split(',')
        got[k] = float(ms)
    return got


def median(values):
    v = sorted(x for x in values if x is not None)
    return None if not v else (v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2)


rows, spreads = [], {}
for spec in filter(None, a.models.split(',')):
    model, res = spec.split('@')
    rounds = []
    for r in range(a.rounds):
        ours = vitbench(model, res)
        ort, ov = peer_models(model, res)
        rounds.append((ours, ort, ov))
        print(f'{model}@{res} round {r + 1}: vitbench {ours:.2f} ms, ORT {ort}, OV {ov}', file=sys.stderr, flush=True)
    ratios = [o / min(v for v in (ort, ov) if v is not None) for o, ort, ov in rounds]
    spreads[(model, res)] = (min(ratios), max(ratios))
    rows.append((model, res, median(x[0] for x in rounds), median(x[1] for x in rounds), median(x[2] for x in rounds)))
for res in filter(None, a.mixers.split(',')):
    peers = peer_mixers(res, a.mixer_kinds)
    for kind in a.mixer_kinds.split(','):
        if kind == 'attention' and int(res) > 512:
            continue
        ours = vitbench('metaformer_s12', res, kind)
        rows.append((f'metaformer_s12:{kind}', res, ours, peers.get(kind), None))
        print(f'metaformer_s12:{kind}@{res}: vitbench {ours:.2f} ms, ORT {peers.get(kind)}', file=sys.stderr, flush=True)


def fmt(v):
    return '—' if v is None else f'{v:.2f}'


print(f'| model | res | vitbench ms | ONNX Runtime ms | OpenVINO ms | vitbench / faster peer | per-round range |')
print('|---|---|---:|---:|---:|---:|---|')
for model, res, ours, ort, ov in rows:
    best = min(v for v in (ort, ov) if v is not None)
    lo, hi = spreads.get((model, res), (None, None))
    spread = '—' if lo is None else f'{lo:.2f}–{hi:.2f}'
    print(f'| {model} | {res} | {ours:.2f} | {fmt(ort)} | {fmt(ov)} | {ours / best:.2f} | {spread} |')
