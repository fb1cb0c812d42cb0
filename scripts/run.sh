#!/usr/bin/env bash
# The main job on a fresh machine: install system libraries if missing, build in release mode,
# run. With no arguments it runs the built-in kernel benchmark; arguments go to `vitbench`
# (e.g. scripts/run.sh kernels --threads 2).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
swift build -c release --product vitbench
if [ $# -eq 0 ]; then set -- kernels; fi
exec .build/release/vitbench "$@"
