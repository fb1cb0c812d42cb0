#!/usr/bin/env python3
"""Compares `vitbench infer` logits with a golden's: compare-logits.py GOT.npy EXPECTED.npy [TOLERANCE]

Passes when max|got - expected| / max|expected| <= TOLERANCE (default 1e-4, the golden tests' bound)
and every row's top-1 class agrees. Prints the error either way; exit status 1 on a mismatch.
"""
import sys

import numpy as np

got, expected = np.load(sys.argv[1]), np.load(sys.argv[2])
tolerance = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-4
if got.shape != expected.shape:
    print(f"logits: shape {got.shape}, expected {expected.shape}")
    sys.exit(1)
err = float(np.max(np.abs(got.astype(np.float64) - expected)) / np.max(np.abs(expected)))
top1 = bool(np.all(got.argmax(axis=-1) == expected.argmax(axis=-1)))
ok = err <= tolerance and top1
print(f"logits {got.shape}: max|d|/max|ref| = {err:.3g} (tolerance {tolerance:g}), top-1 "
      f"{'agrees' if top1 else 'DIFFERS'}: {'ok' if ok else 'MISMATCH'}")
sys.exit(0 if ok else 1)
