#!/usr/bin/env python3
"""Latency of timm models under ONNX Runtime and OpenVINO (and, optionally, PyTorch eager) on this
CPU: the peers that vitbench's latency is set beside (scripts/peers/compare.py does that in one
sitting). Models are timed in their inference form: timm.utils.model.reparameterize_model folds
every reparameterisable branch first, as vitbench's `--form inference` does.

Weights are randomised before the export (every parameter, BatchNorm statistic and layer scale,
as the goldens do: scripts/goldens/common.py randomize_), not left at timm's initialisation.
Latency does not depend on the values, but it does depend on how many distinct weight tensors
the runtime streams: timm zero-initialises the BatchNorm that ends each LeViT residual branch
(bn_weight_init=0), torch.onnx.export merges identical initializers, and ONNX Runtime and
OpenVINO then read one all-zero matrix that stays in cache where a trained checkpoint has five
different ones (LeViT ran 4-10% faster on it; see scripts/onnx/compare_exports.py).

Per model and resolution: PyTorch builds the model and exports it once to ONNX
(torch.onnx.export, opset 17, the TorchScript exporter (dynamo=False), constant folding) into a
cache folder (--cache), keyed by model, resolution, batch, seed and the torch/timm versions. Then
every engine runs it on one fixed random batch:
  ort    ONNX Runtime, CPU execution provider: intra-op threads = --threads, inter-op threads 1,
         sequential execution, every graph optimisation (ORT_ENABLE_ALL)
  ov     OpenVINO on CPU: INFERENCE_NUM_THREADS = --threads, PERFORMANCE_HINT LATENCY,
         INFERENCE_PRECISION_HINT f32 (no bf16/f16 downcast), ENABLE_CPU_PINNING on
  torch  PyTorch eager under inference_mode, torch.set_num_threads(--threads)
Each engine first runs --warmup times, then is timed run by run until both --reps runs and
--min-seconds seconds are reached; the median and the minimum are reported. Outputs of ORT and
OpenVINO are checked against PyTorch's (relative max error) so that a broken export is not timed.

DeiT and LeViT fix their input size when built: at a resolution other than 224 they are built
with img_size = that resolution (LeViT's attention biases then change shape; weights are random
anyway).

Usage: peer_models.py [--models fastvit_t8,levit_128s] [--res 224,256] [--batch 1] [--threads 1]
                      [--engines ort,ov[,torch]] [--reps 20] [--min-seconds 1] [--json]
With --json, one JSON object per model and resolution per line: model, res, batch, threads,
params_M, versions (of the engines), ort_ms / ov_ms / torch_ms (medians), ort_min_ms / ...,
ort_runs / ..., ort_rel_err / ov_rel_err. Pin it as vitbench is pinned (taskset -c CPU ...).
Needs the peer environment (scripts/peers/setup.sh)."""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings

ENGINES = ('ort', 'ov', 'torch')


def default_cache():
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'vitbench-peers', 'onnx')


def measure(fn, warmup, reps, min_seconds):
    """Runs fn `warmup` times, then times it until both `reps` runs and `min_seconds` are done.
    Returns (median ms, min ms, runs)."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < reps or time.perf_counter() - start < min_seconds:
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times), min(times), len(times)


def export_onnx(model, x, path):
    """Exports `model` at input `x` to `path` unless it is already there (written atomically)."""
    import torch
    if os.path.exists(path):
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix='.onnx', dir=os.path.dirname(path))
    os.close(fd)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # The TorchScript exporter is deprecated, and tracing warns about Python-side shape
            # arithmetic; both are expected here.
            warnings.simplefilter('ignore', DeprecationWarning)
            warnings.simplefilter('ignore', torch.jit.TracerWarning)
            torch.onnx.export(model, (x,), tmp, opset_version=17, dynamo=False, do_constant_folding=True,
                              input_names=['input'], output_names=['logits'])
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def ort_session(path, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    s = ort.InferenceSession(path, so, providers=['CPUExecutionProvider'])
    name = s.get_inputs()[0].name
    return lambda x: s.run(None, {name: x})[0]


def ov_request(path, threads):
    import openvino as ov
    import openvino.properties as props
    import openvino.properties.hint as hints
    core = ov.Core()
    compiled = core.compile_model(path, 'CPU', {
        props.inference_num_threads: threads,
        hints.performance_mode: hints.PerformanceMode.LATENCY,
        hints.inference_precision: ov.Type.f32,
        hints.enable_cpu_pinning: True,
    })
    req = compiled.create_infer_request()

    def run(x):
        req.infer({0: x})
        return req.get_output_tensor(0).data
    return run


def versions(engines):
    import torch
    v = {'torch': torch.__version__}
    if 'ort' in engines:
        import onnxruntime
        v['onnxruntime'] = onnxruntime.__version__
    if 'ov' in engines:
        import openvino
        v['openvino'] = openvino.__version__
    return v


def rel_err(got, want):
    import numpy as np
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30))


def time_network(model, x, onnx_path, a, engines):
    """Times `model` (eval, inference form) on batch `x` under `engines`. Returns the result fields."""
    import torch
    torch.set_num_threads(a.threads)
    with torch.inference_mode():
        want = model(x).numpy()
    row = {}
    xn = x.numpy()
    if 'ort' in engines or 'ov' in engines:
        export_onnx(model, x, onnx_path)
    for engine in ENGINES:
        if engine not in engines:
            continue
        if engine == 'torch':
            def run(_, m=model):
                with torch.inference_mode():
                    return m(x)
        else:
            run = ort_session(onnx_path, a.threads) if engine == 'ort' else ov_request(onnx_path, a.threads)
            row[f'{engine}_rel_err'] = float(f'{rel_err(run(xn), want):.3g}')
        med, best, runs = measure(lambda: run(xn), a.warmup, a.reps, a.min_seconds)
        row.update({f'{engine}_ms': round(med, 4), f'{engine}_min_ms': round(best, 4), f'{engine}_runs': runs})
    return row


def engine_list(spec):
    engines = [e for e in spec.split(',') if e]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        sys.exit(f'unknown engine(s) {unknown}; known: {", ".join(ENGINES)}')
    return engines


def common_args(ap):
    ap.add_argument('--res', default='224', help='comma-separated square resolutions')
    ap.add_argument('--batch', type=int, default=1)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--engines', default='ort,ov', help=f'comma-separated, of {", ".join(ENGINES)}')
    ap.add_argument('--warmup', type=int, default=3, help='untimed runs per engine')
    ap.add_argument('--reps', type=int, default=20, help='timed runs per engine (at least)')
    ap.add_argument('--min-seconds', type=float, default=1.0, help='timed seconds per engine (at least)')
    ap.add_argument('--cache', default=default_cache(), help='folder for the exported .onnx files')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--json', action='store_true', help='one JSON object per line')


def emit(row, as_json):
    if as_json:
        print(json.dumps(row), flush=True)
        return
    name = row.get('model')
    parts = [f'{name} @{row["res"]} batch {row["batch"]}, {row["threads"]} thread(s):']
    for e in ENGINES:
        if f'{e}_ms' in row:
            err = f', err {row[f"{e}_rel_err"]:.1e}' if f'{e}_rel_err' in row else ''
            parts.append(f'{e} {row[f"{e}_ms"]:.2f} ms (min {row[f"{e}_min_ms"]:.2f}, {row[f"{e}_runs"]} runs{err})')
    print(' '.join(parts), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--models', default='fastvit_t8,mobileone_s0,poolformer_s12,levit_128s,deit_tiny_patch16_224,mobilevit_xxs')
    common_args(ap)
    a = ap.parse_args()
    engines = engine_list(a.engines)

    import timm
    import torch
    from timm.utils.model import reparameterize_model
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'goldens'))
    from common import randomize_

    tag = f'torch{torch.__version__.split("+")[0]}-timm{timm.__version__}-randomized'
    ver = versions(engines)
    ver['timm'] = timm.__version__
    for name in filter(None, a.models.split(',')):
        for res in [int(r) for r in a.res.split(',')]:
            kw = {'img_size': res} if name.startswith(('deit', 'levit')) and res != 224 else {}
            torch.manual_seed(a.seed)
            model = timm.create_model(name, pretrained=False, **kw).eval()
            model = reparameterize_model(randomize_(model, seed=a.seed))
            x = torch.randn(a.batch, 3, res, res, generator=torch.Generator().manual_seed(a.seed + 1))
            row = {'model': name, 'res': res, 'batch': a.batch, 'threads': a.threads,
                   'params_M': round(sum(p.numel() for p in model.parameters()) / 1e6, 3), 'versions': ver}
            path = os.path.join(a.cache, f'{name}_{res}_b{a.batch}_seed{a.seed}_opset17_{tag}.onnx')
            row.update(time_network(model, x, path, a, engines))
            emit(row, a.json)


if __name__ == '__main__':
    main()
