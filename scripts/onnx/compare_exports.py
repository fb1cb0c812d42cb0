#!/usr/bin/env python3
"""ONNX Runtime on vitbench's export of a timm model against ONNX Runtime on torch.onnx.export of
the same timm model: does the runtime run vitbench's graph as fast as the graph users would
otherwise export? Both in the inference (reparameterised) form at the model's published
resolution, batch 1, opset 17; the same session settings (ORT_ENABLE_ALL, --threads intra-op
threads, sequential); the two sessions alternated round by round (each round times both, so
drift hits both alike), and the per-round ratios' median reported.

Both graphs carry the same weights: timm builds the model and every parameter, BatchNorm
statistic and layer scale is randomised as the goldens randomise them (scripts/goldens/common.py,
seed 0); its train-time state_dict is saved as safetensors and loaded by `vitbench export
--weights` (vitbench fuses the branches itself), while torch.onnx.export writes timm's
reparameterised model (cached by scripts/peers/peer_models.py). Same weights matter: random values
of another scale can put a runtime's kernels on denormals and time the weights instead of the
graph. Randomised weights matter too: timm's init zeroes the BatchNorm scale that ends each LeViT
residual branch (bn_weight_init=0) and sets every layer scale to 1e-5, so many tensors are
identical; torch.onnx.export deduplicates identical initializers (one all-zero 768x384 matrix
shared by five Gemms), and ONNX Runtime then reads one hot weight where a trained checkpoint has
five: the graph would be timed on an artefact of untrained weights. The two files' outputs on one
input are compared too (max|Δ|/max|ref|): the same network, exported twice.
Needs the full peer environment (scripts/peers/setup.sh).

Usage: compare_exports.py [--vitbench .build/release/vitbench] [--models a,b] [--threads 1]
                          [--rounds 5] [--min-seconds 0.5] [--json]
Pin it as vitbench is pinned (taskset -c CPU ...). Prints one line per model: the two medians
and vitbench/torch (above 1: ONNX Runtime runs vitbench's graph slower), then the geometric mean.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'peers'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'goldens'))
import peer_models  # noqa: E402  (the torch export and its cache)

TIMM = ['fastvit_t8', 'fastvit_t12', 'fastvit_s12', 'fastvit_sa12', 'fastvit_sa24', 'fastvit_sa36', 'fastvit_ma36',
        'mobileone_s0', 'mobileone_s1', 'mobileone_s2', 'mobileone_s3', 'mobileone_s4',
        'poolformer_s12', 'poolformer_s24', 'poolformer_s36',
        'deit_tiny_patch16_224', 'deit_small_patch16_224', 'deit_base_patch16_224',
        'levit_128s', 'levit_128', 'levit_192', 'levit_256', 'levit_384',
        'mobilevit_xxs', 'mobilevit_xs', 'mobilevit_s']


def resolution(name):
    return 256 if name.startswith(('fastvit', 'mobilevit')) else 224


def torch_export(name, res, cache, weights):
    """timm's model, every tensor randomised (seed 0): its train-time state_dict saved to
    `weights`, its reparameterised form exported (cached)."""
    import timm
    import torch
    from safetensors.torch import save_file
    from timm.utils.model import reparameterize_model
    from common import randomize_
    torch.manual_seed(0)
    model = randomize_(timm.create_model(name, pretrained=False).eval(), seed=0)
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, weights)
    tag = f'torch{torch.__version__.split("+")[0]}-timm{timm.__version__}-randomized'
    path = os.path.join(cache, f'{name}_{res}_b1_seed0_opset17_{tag}.onnx')
    if not os.path.exists(path):
        peer_models.export_onnx(reparameterize_model(model), torch.randn(1, 3, res, res), path)
    return path


def time_once(run, min_seconds):
    times, start = [], time.perf_counter()
    while len(times) < 5 or time.perf_counter() - start < min_seconds:
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--vitbench', default='.build/release/vitbench')
    ap.add_argument('--models', default=','.join(TIMM))
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--rounds', type=int, default=5)
    ap.add_argument('--min-seconds', type=float, default=0.5)
    ap.add_argument('--cache', default=peer_models.default_cache())
    ap.add_argument('--json', action='store_true')
    a = ap.parse_args()
    import numpy as np
    import onnxruntime as ort

    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in filter(None, a.models.split(',')):
            res = resolution(name)
            ours, weights = os.path.join(tmp, f'{name}.onnx'), os.path.join(tmp, f'{name}.safetensors')
            theirs = torch_export(name, res, a.cache, weights)
            subprocess.run([a.vitbench, 'export', '--model', name, '--resolution', str(res), '--weights', weights,
                            '--form', 'inference', '--onnx', ours], check=True, stdout=subprocess.DEVNULL)
            x = np.random.default_rng(0).standard_normal((1, 3, res, res)).astype(np.float32)
            runs, outputs = {}, {}
            for label, path in (('vitbench', ours), ('torch', theirs)):
                s = peer_models.ort_session(path, a.threads)
                outputs[label] = s(x)
                runs[label] = (lambda s=s: s(x))
            agreement = float(np.abs(outputs['vitbench'] - outputs['torch']).max() / np.abs(outputs['torch']).max())
            per_round, medians = [], {'vitbench': [], 'torch': []}
            for r in range(a.rounds):
                order = ('vitbench', 'torch') if r % 2 == 0 else ('torch', 'vitbench')
                t = {label: time_once(runs[label], a.min_seconds) for label in order}
                for label in t:
                    medians[label].append(t[label])
                per_round.append(t['vitbench'] / t['torch'])
            ratio = statistics.median(per_round)
            ratios.append(ratio)
            row = {'model': name, 'res': res, 'threads': a.threads, 'ort': ort.__version__,
                   'vitbench_export_ms': round(statistics.median(medians['vitbench']), 3),
                   'torch_export_ms': round(statistics.median(medians['torch']), 3),
                   'ratio': round(ratio, 3), 'ratio_range': [round(min(per_round), 3), round(max(per_round), 3)],
                   'outputs_rel_err': float(f'{agreement:.2e}')}
            print(json.dumps(row) if a.json else
                  f"{name:24} {res}  vitbench export {row['vitbench_export_ms']:9.3f} ms  torch export "
                  f"{row['torch_export_ms']:9.3f} ms  ratio {ratio:.3f} ({min(per_round):.3f}-{max(per_round):.3f})"
                  f"  outputs agree to {agreement:.1e}",
                  flush=True)
    if ratios:
        g = math.exp(sum(map(math.log, ratios)) / len(ratios))
        print(json.dumps({'geomean_ratio': round(g, 4), 'models': len(ratios)}) if a.json else
              f"geometric mean of vitbench/torch over {len(ratios)} models: {g:.3f}")


if __name__ == '__main__':
    main()
