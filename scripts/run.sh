#!/usr/bin/env bash
# The main job on a fresh machine: install system libraries if missing, build in release mode,
# run. With no arguments it runs the default suite (the token-mixer table, a few minutes; results
# in the repository's Results/<machine-id>/default.{csv,md,json}, continued if interrupted);
# arguments go to `vitbench` instead (e.g. scripts/run.sh bench --model fastvit_t8), run from the
# directory you called it in, so that paths you pass (your own suites, --out) mean what they say.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
(cd "$repo" && bash scripts/ensure-deps.sh && swift build -c release --product vitbench)
if [ $# -eq 0 ]; then cd "$repo"; set -- run Suites/default.yaml --resume; fi
exec "$repo/.build/release/vitbench" "$@"
