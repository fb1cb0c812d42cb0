#!/usr/bin/env python3
"""Runs ONNX files with ONNX Runtime: what vitbench's export tests check the export against.

Usage: run_onnxruntime.py MANIFEST.json
MANIFEST is a JSON list of jobs {"onnx": PATH, "input": NPY, "output": NPY}: each job checks the
model with onnx.checker (full shape inference), runs it on the input with ONNX Runtime's CPU
provider (one thread, all graph optimisations: the graph the runtime would time) and writes the
first output. A job that fails prints "FAILED <onnx>: <why>" and the others go on; the exit
status is 1 if any failed. Needs the peer environment: scripts/peers/setup.sh --light.
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort


def run(job):
    model = onnx.load(job["onnx"])
    onnx.checker.check_model(model, full_check=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(job["onnx"], options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: np.load(job["input"])}
    np.save(job["output"], session.run(None, feed)[0].astype(np.float32))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        jobs = json.load(f)
    failed = 0
    for job in jobs:
        try:
            run(job)
        except Exception as e:  # one bad file is one failure, never the end of the run
            failed += 1
            print(f"FAILED {job['onnx']}: {e}".replace("\n", " ")[:2000], flush=True)
    print(f"onnxruntime {ort.__version__}: {len(jobs) - failed} of {len(jobs)} ran")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
