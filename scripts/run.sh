#!/usr/bin/env bash
# The main job on a fresh machine: install system libraries if missing, build in release mode,
# run. With no arguments it runs the default suite (the token-mixer table, a few minutes; results
# in Results/<machine-id>/default.{csv,md,json}, continued if interrupted); arguments go to
# `vitbench` instead (e.g. scripts/run.sh bench --model fastvit_t8).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
swift build -c release --product vitbench
if [ $# -eq 0 ]; then set -- run Suites/default.yaml --resume; fi
exec .build/release/vitbench "$@"
