#!/usr/bin/env bash
# Installs the system libraries vitbench links (OpenBLAS, hwloc, pkg-config) if they are missing.
# Idempotent: does nothing when pkg-config already finds both.
set -euo pipefail
if command -v pkg-config >/dev/null 2>&1 && pkg-config --exists openblas hwloc 2>/dev/null; then
  exit 0
fi
packages="libopenblas-dev libhwloc-dev pkg-config"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "vitbench needs OpenBLAS and hwloc development files ($packages on Debian/Ubuntu)," >&2
  echo "and this machine has no apt-get: install them with your package manager, then rerun." >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo="sudo -n"
else
  echo "vitbench needs: $packages. Installing them needs root; run:" >&2
  echo "  sudo apt-get install -y $packages" >&2
  exit 1
fi
echo "installing $packages ..." >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $packages >/dev/null
pkg-config --exists openblas hwloc || { echo "pkg-config still cannot find openblas and hwloc" >&2; exit 1; }
