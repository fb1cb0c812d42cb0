#!/usr/bin/env bash
# The peer environment: a Python virtual environment with the runtimes vitbench is measured
# against (ONNX Runtime, OpenVINO) and what builds their inputs (PyTorch and timm for the models,
# onnx/onnxscript for the export, safetensors and numpy for the goldens). Versions are pinned, so
# that peer latencies and goldens from different machines and days come from the same software.
#
# Usage: scripts/peers/setup.sh [--light] [DIR]
#   DIR      where the environment goes (default: $HOME/.vitbench-peers)
#   --light  the runtimes without PyTorch: onnx, onnxruntime, openvino (+ numpy) — what the
#            `onnxruntime` and `openvino` backends and the ONNX export's tests need (CI runs this)
# The full set is large (PyTorch alone is several GB) and takes minutes on a first run. Running it
# again is cheap: an existing environment is reused and pip leaves satisfied pins alone.
# Then:  DIR/bin/python scripts/peers/peer_models.py --help
#        DIR/bin/python scripts/peers/peer_mixers.py --help
#        DIR/bin/python scripts/peers/compare.py --help
set -euo pipefail

light=0
dir=
for arg in "$@"; do
  case "$arg" in
    --light) light=1 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
    *) [ -z "$dir" ] || { echo "setup.sh: one directory only" >&2; exit 2; }; dir=$arg ;;
  esac
done
dir=${dir:-$HOME/.vitbench-peers}

light_pins=(numpy==2.4.6 onnx==1.23.2 onnxruntime==1.32.0 openvino==2026.4.1)
full_pins=("${light_pins[@]}" torch==2.15.0 timm==1.0.31 onnxscript==0.7.2 safetensors==0.8.0)
if [ $light = 1 ]; then pins=("${light_pins[@]}"); else pins=("${full_pins[@]}"); fi

python=${PYTHON:-python3}
if [ -x "$dir/bin/python" ]; then
  echo "reusing the environment in $dir"
else
  echo "creating a virtual environment in $dir ($("$python" --version 2>&1))"
  "$python" -m venv "$dir"
fi
"$dir/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}"

# What is there now, package by package (a pin pip could not honour would have failed above).
names=()
for p in "${pins[@]}"; do names+=("${p%%==*}"); done
"$dir/bin/python" - "${names[@]}" <<'EOF'
import sys
from importlib.metadata import version
for name in sys.argv[1:]:
    print(f'  {name:12} {version(name)}')
EOF
echo "peer environment ready: $dir/bin/python"
