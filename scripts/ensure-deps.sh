#!/usr/bin/env bash
# Installs the system libraries vitbench needs if they are missing: OpenBLAS, hwloc and
# pkg-config (linked), and BLIS, the reference (netlib) BLAS and XNNPACK (loaded at run time by
# the `blis`, `netlib` and `xnnpack` backends; without them those backends give an error naming
# the package); and rsvg-convert (librsvg2-bin), which the plot tests render the report's SVG
# figures with (they are skipped without it, except on CI).
# Idempotent: does nothing when everything is there.
set -euo pipefail
multiarch=$(gcc -print-multiarch 2>/dev/null || dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo "$(uname -m)-linux-gnu")
have_linked() { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists openblas hwloc 2>/dev/null; }
# XNNPACK: the names the loader tries (Sources/CXNNPACK): libXNNPACK.so.0 (bookworm), else the -dev
# package's libXNNPACK.so (newer Debian versions the soname: libXNNPACK.so.0.20241108).
have_loaded() {
  [ -e "/usr/lib/$multiarch/libblis.so.4" ] && [ -e "/usr/lib/$multiarch/blas/libblas.so.3" ] &&
    { [ -e "/usr/lib/$multiarch/libXNNPACK.so.0" ] || [ -e "/usr/lib/$multiarch/libXNNPACK.so" ]; } &&
    command -v rsvg-convert >/dev/null 2>&1
}
if have_linked && have_loaded; then
  exit 0
fi
packages="libopenblas-dev libhwloc-dev pkg-config"
optional="libblis-dev libblas-dev libxnnpack-dev librsvg2-bin"
if ! command -v apt-get >/dev/null 2>&1; then
  have_linked && { echo "note: BLIS, the reference BLAS or XNNPACK ($optional on Debian/Ubuntu) are missing: the blis, netlib and xnnpack backends will not run, the SVG rendering tests are skipped" >&2; exit 0; }
  echo "vitbench needs OpenBLAS and hwloc development files ($packages on Debian/Ubuntu)," >&2
  echo "and this machine has no apt-get: install them with your package manager, then rerun." >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo="sudo -n"
else
  have_linked && { echo "note: the blis, netlib and xnnpack backends need: sudo apt-get install -y $optional" >&2; exit 0; }
  echo "vitbench needs: $packages (and, for the blis, netlib and xnnpack backends, $optional). Installing them needs root; run:" >&2
  echo "  sudo apt-get install -y $packages $optional" >&2
  exit 1
fi
echo "installing $packages $optional ..." >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $packages >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $optional >/dev/null \
  || echo "note: could not install $optional: the blis, netlib and xnnpack backends will not run, the SVG rendering tests are skipped" >&2
pkg-config --exists openblas hwloc || { echo "pkg-config still cannot find openblas and hwloc" >&2; exit 1; }
