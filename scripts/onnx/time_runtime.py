#!/usr/bin/env python3
"""Times an ONNX file with ONNX Runtime or OpenVINO under vitbench's measurement protocol.

vitbench's `onnxruntime` and `openvino` backends run this: the model is vitbench's own export
(`vitbench export`), so the runtime runs exactly the network and weights the engine runs; the
protocol is vitbench's (a cold first run reported apart, warm-up by count and time, measured runs
until a minimum count and time, never past a maximum time), and every sample comes back.

Settings, as vitbench's workers have them: `--threads` threads for the runtime's intra-op work
(one inference at a time, no inter-op parallelism), the process confined to `--cpus` (the PUs the
configuration's pinning policy gives vitbench's workers; the runtime places its threads inside
them), float32 execution forced (OpenVINO would pick bf16 on CPUs that have it).

Prints one JSON object: runtime (name and version), settings, cold_ms, samples_ms. Errors print
{"error": "..."} and exit 1. Needs the peer environment: scripts/peers/setup.sh (ONNX Runtime
alone: --light).
"""
import argparse
import json
import os
import sys
import time


def session(runtime, path, threads):
    """A callable running one inference on the input, and (name, settings) for the row."""
    import numpy as np
    if runtime == "onnxruntime":
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        s = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        meta = s.get_inputs()[0]
        x = np.random.default_rng(0).standard_normal(meta.shape).astype(np.float32)
        feed = {meta.name: x}
        return (lambda: s.run(None, feed)), f"onnxruntime {ort.__version__}", \
            f"CPUExecutionProvider, {threads} intra-op threads, sequential, all graph optimisations, float32"
    if runtime == "openvino":
        import openvino as ov
        core = ov.Core()
        config = {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32",
                  "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}
        compiled = core.compile_model(core.read_model(path), "CPU", config)
        request = compiled.create_infer_request()
        shape = list(compiled.input(0).shape)
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        hint = compiled.get_property("INFERENCE_PRECISION_HINT")
        precision = hint.get_type_name() if hasattr(hint, "get_type_name") else str(hint)
        return (lambda: request.infer({0: x})), f"openvino {ov.get_version()}", \
            f"CPU, {threads} inference threads, 1 stream, latency hint, precision {precision}"
    raise ValueError(f"unknown runtime {runtime!r}: onnxruntime or openvino")


def measure(run, warmup_runs, warmup_seconds, min_runs, min_seconds, max_seconds):
    clock = time.perf_counter
    t0 = clock()
    run()
    cold = clock() - t0
    warm_start, warm = clock(), 0
    while warm < warmup_runs or clock() - warm_start < warmup_seconds:
        run()
        warm += 1
        if clock() - warm_start > max_seconds:
            break
    samples, start = [], clock()
    while True:
        t = clock()
        run()
        samples.append(clock() - t)
        elapsed = clock() - start
        if (len(samples) >= min_runs and elapsed >= min_seconds) or elapsed >= max_seconds:
            break
    return cold, samples


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runtime", required=True, choices=["onnxruntime", "openvino"])
    p.add_argument("--onnx", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--cpus", default="", help="comma-separated OS CPU numbers the process is confined to")
    p.add_argument("--warmup-runs", type=int, default=3)
    p.add_argument("--warmup-seconds", type=float, default=0.5)
    p.add_argument("--min-runs", type=int, default=20)
    p.add_argument("--min-seconds", type=float, default=2.0)
    p.add_argument("--max-seconds", type=float, default=20.0)
    a = p.parse_args()
    try:
        if not 1 <= a.threads <= 4096:
            raise ValueError(f"--threads must be between 1 and 4096 (got {a.threads})")
        if a.cpus:
            cpus = {int(c) for c in a.cpus.split(",")}
            os.sched_setaffinity(0, cpus)
        run, name, settings = session(a.runtime, a.onnx, a.threads)
        if a.cpus:
            settings += f", confined to CPUs {a.cpus}"
        cold, samples = measure(run, a.warmup_runs, a.warmup_seconds, a.min_runs, a.min_seconds, a.max_seconds)
    except ImportError as e:
        print(json.dumps({"error": f"{a.runtime} is not installed in {sys.executable} ({e}); "
                                   "install it with: scripts/peers/setup.sh"}))
        sys.exit(1)
    except Exception as e:  # the caller turns this into an error row
        print(json.dumps({"error": f"{a.runtime}: {e}".replace("\n", " ")[:2000]}))
        sys.exit(1)
    print(json.dumps({"runtime": name, "settings": settings, "cold_ms": cold * 1e3,
                      "samples_ms": [s * 1e3 for s in samples]}))


if __name__ == "__main__":
    main()
