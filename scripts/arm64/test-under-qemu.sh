#!/usr/bin/env bash
# ARM64 Linux, proven on an x86-64 Debian machine: cross-compiles vitbench and its test bundle for
# aarch64, then runs, under qemu user-mode emulation (QEMU_CPU=neoverse-n1 unless set):
#   the whole XCTest suite, `vitbench env`, `vitbench infer` on the fastvit_t8 golden (its logits
#   checked against the golden's, as the golden tests do) and a short `vitbench bench`.
# It proves correctness on aarch64 (NEON kernels, hwloc/OpenBLAS/XNNPACK on arm64, the ARM paths of
# MachineInfo), not speed: emulated timings mean nothing.
#
# How: Debian unstable packages Swift (6.2.x, `swiftlang`) for amd64 and arm64. The script unpacks
# two roots from .debs (apt-get download + dpkg-deb -x: no maintainer script runs under emulation):
#   amd64-root  swiftlang for amd64 (the compiler), chrooted into to build;
#   arm64-root  swiftlang's arm64 runtime and modules, libc, OpenBLAS, hwloc, BLIS, netlib BLAS and
#               XNNPACK for arm64 (XNNPACK also from bookworm: the 2022 API vitbench uses): the
#               cross-compilation sysroot, and the chroot the tests run in (binfmt_misc hands its
#               aarch64 executables to qemu-aarch64-static).
# The roots are cached in $VITBENCH_ARM64_CACHE (default ~/.cache/vitbench-arm64) and reused; the
# build goes to its own scratch path ($VITBENCH_ARM64_SCRATCH, default .build-arm64) and is
# incremental. Needs root (chroot, mounts, binfmt_misc, apt-get), network access to the Debian
# mirror on the first run (and to the package dependencies' git hosts if SwiftPM's cache lacks
# them), ~6 GB of disk (4.7 GB of cached roots). Installs qemu-user-static if missing and leaves
# qemu-aarch64 registered in binfmt_misc. Exits non-zero when anything fails; ends with a summary.
#
# Environment: VITBENCH_ARM64_CACHE, VITBENCH_ARM64_SCRATCH, VITBENCH_ARM64_MIRROR (Debian mirror,
# default http://deb.debian.org/debian), VITBENCH_ARM64_SUITE (default unstable),
# VITBENCH_ARM64_REFRESH=1 (rebuild the cached roots from the current suite), QEMU_CPU,
# VITBENCH_ARM64_XNNPACK_SUITE (where the tested XNNPACK comes from, default bookworm; empty: $SUITE's),
# VITBENCH_ARM64_TEST_ARGS (extra arguments for the XCTest bundle, e.g. a test filter: VitEngineTests.KernelISATests).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
HERE=$REPO/scripts/arm64
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo --preserve-env=VITBENCH_ARM64_CACHE,VITBENCH_ARM64_SCRATCH,VITBENCH_ARM64_MIRROR,VITBENCH_ARM64_SUITE,VITBENCH_ARM64_REFRESH,VITBENCH_ARM64_TEST_ARGS,VITBENCH_ARM64_XNNPACK_SUITE,QEMU_CPU \
      VITBENCH_ARM64_CACHE="${VITBENCH_ARM64_CACHE:-$HOME/.cache/vitbench-arm64}" bash "$0" "$@"
  fi
  echo "test-under-qemu.sh needs root (chroot, mounts, binfmt_misc, apt-get)" >&2
  exit 1
fi

CACHE=${VITBENCH_ARM64_CACHE:-$HOME/.cache/vitbench-arm64}
SCRATCH=${VITBENCH_ARM64_SCRATCH:-$REPO/.build-arm64}
MIRROR=${VITBENCH_ARM64_MIRROR:-http://deb.debian.org/debian}
SUITE=${VITBENCH_ARM64_SUITE:-unstable}
export QEMU_CPU=${QEMU_CPU:-neoverse-n1}
AMD64_ROOT=$CACHE/amd64-root
ARM64_ROOT=$CACHE/arm64-root
SDKS=$CACHE/sdks
SDK_NAME=vitbench-aarch64
TRIPLE=aarch64-unknown-linux-gnu
BIN=$SCRATCH/$TRIPLE/release
LOGS=$SCRATCH/logs
GOLDEN=$REPO/Tests/VitModelsTests/Goldens/fastvit_t8
# What each root holds (the closure of these, Recommends left out). The arm64 list mirrors what
# scripts/ensure-deps.sh installs on a real machine, plus the Swift runtime.
AMD64_PACKAGES="swiftlang libc6-dev libc-bin git bash coreutils dash sed grep findutils"
ARM64_PACKAGES="swiftlang libc6-dev libc-bin libopenblas-dev libhwloc-dev pkg-config libblis-dev libblas-dev libxnnpack-dev git bash coreutils dash sed grep findutils"
# XNNPACK for the xnnpack backend's tests: Debian bookworm's (see make_root); empty: the suite's.
XNNPACK_SUITE=${VITBENCH_ARM64_XNNPACK_SUITE-bookworm}
XNNPACK_PACKAGES="libxnnpack0 libcpuinfo0 libpthreadpool0"
ROOT_FORMAT=3  # bump when the way roots are made changes: cached roots are then rebuilt

mkdir -p "$CACHE" "$SCRATCH" "$LOGS"
SCRIPT_START=$(date +%s)
PHASES=()
PHASE=""
PHASE_START=0
FAILURES=()

fmt() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }
phase() {
  PHASE=$1
  PHASE_START=$(date +%s)
  echo
  echo "==> [$(date +%T)] $PHASE"
}
done_phase() {  # done_phase [note]
  local d=$(($(date +%s) - PHASE_START))
  PHASES+=("$(printf '%-52s %7s  %s' "$PHASE" "$(fmt $d)" "${1:-}")")
  echo "<== $PHASE: $(fmt $d)${1:+ ($1)}"
}
trap 'rc=$?; [ $rc -ne 0 ] && echo "test-under-qemu.sh: failed in phase \"$PHASE\" (exit $rc)" >&2' EXIT

# Runs a bash script inside ROOT: a private mount namespace (every mount vanishes with it) with
# /proc, /sys, /dev, the repository and the scratch path at their own paths, plus SRC=DST binds.
run_in_root() {  # run_in_root ROOT SCRIPT [SRC=DST]...
  local root=$1 script=$2
  shift 2
  unshare --mount --propagation private -- /bin/bash -euo pipefail -c '
    root=$1 script=$2 repo=$3 scratch=$4
    shift 4
    mount -t proc proc "$root/proc"
    mount -t sysfs sysfs "$root/sys"
    mount --bind /dev "$root/dev"
    for b in "$repo=$repo" "$scratch=$scratch" "$@"; do
      src=${b%%=*} dst=$root${b#*=}
      mkdir -p "$dst"
      mount --bind "$src" "$dst"
    done
    exec chroot "$root" /usr/bin/env -i PATH=/usr/libexec/swift/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
      TERM=dumb TMPDIR=/tmp QEMU_CPU="$QEMU_CPU" /bin/bash -euo pipefail -c "$script"
  ' run_in_root "$root" "$script" "$REPO" "$SCRATCH" "$@"
}

# apt-get on one suite with its own lists and an empty dpkg status (nothing counts as installed),
# all under $CACHE/apt/SUITE: the machine's own apt setup is neither used nor touched.
apt_suite() {  # apt_suite SUITE ARCH apt-get-arguments...
  local dir=$CACHE/apt/$1 arch=$2
  shift 2
  apt-get -q -o APT::Sandbox::User=root -o Debug::NoLocking=1 \
    -o Dir::Etc::SourceList="$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null \
    -o Dir::State="$dir/state" -o Dir::State::status="$dir/state/status" \
    -o Dir::Cache="$dir/cache" -o Dir::Cache::archives="$CACHE/debs/$arch" \
    -o APT::Architecture="$arch" -o APT::Architectures=amd64,arm64 -o APT::Install-Recommends=false "$@"
}
apt_suite_update() {  # apt_suite_update SUITE
  local dir=$CACHE/apt/$1
  mkdir -p "$dir/state/lists/partial" "$dir/cache"
  : >"$dir/state/status"
  echo "deb [arch=amd64,arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $1 main" >"$dir/sources.list"
  apt_suite "$1" amd64 update -qq
}

root_key() { echo "format $ROOT_FORMAT; $MIRROR $SUITE; $1: $2${XNNPACK_SUITE:+; xnnpack from $XNNPACK_SUITE}"; }
# What every run in the arm64 root starts with: XNNPACK from $XNNPACK_SUITE first on the path.
ARM64_ENV=${XNNPACK_SUITE:+export LD_LIBRARY_PATH=/opt/xnnpack-$XNNPACK_SUITE;}
root_cached() {  # root_cached ROOT KEY
  [ "${VITBENCH_ARM64_REFRESH:-0}" != 1 ] && [ -f "$1/.vitbench-root" ] && [ "$(cat "$1/.vitbench-root")" = "$2" ]
}

# Unpacks the closure of PACKAGES for ARCH into ROOT (via ROOT.tmp, so a cached root is complete).
make_root() {  # make_root ARCH ROOT PACKAGES
  local arch=$1 root=$2 packages=$3 debs=$CACHE/debs/$1 deb
  rm -rf "$root.tmp" "$root"
  mkdir -p "$root.tmp" "$debs/partial"
  # The exact .deb files of the closure (an empty dpkg status: nothing counts as installed).
  # shellcheck disable=SC2086
  # Simulated: "Inst NAME[:ARCH] (VERSION SUITE [DEBARCH])" for each package; the .deb is named
  # NAME_VERSION_DEBARCH.deb in the archives folder (an epoch's colon as %3a).
  apt_suite "$SUITE" "$arch" install -s $packages |
    sed -nE 's/^Inst ([^ :]+)(:[a-z0-9]+)? \(([^ ]+) .*\[([a-z0-9]+)\]\).*/\1_\3_\4.deb/p' | sed 's/:/%3a/' >"$root.tmp.list"
  [ -s "$root.tmp.list" ] || { echo "apt-get resolved nothing for $arch" >&2; return 1; }
  # shellcheck disable=SC2086
  apt_suite "$SUITE" "$arch" install -y -d -qq $packages >/dev/null
  # base-files first: it makes /bin, /lib and /sbin links into /usr, which later files go through.
  local excludes=(--exclude=./usr/share/doc --exclude=./usr/share/man --exclude=./usr/share/locale --exclude=./usr/share/info)
  # The arm64 root needs Swift's arm64 runtime and modules, not the arm64 compiler.
  [ "$arch" = arm64 ] && excludes+=(--exclude=./usr/libexec/swift/bin --exclude=./usr/libexec/swift/lib/swift/host
                                    --exclude=./usr/libexec/swift/lib/liblldb.so* --exclude=./usr/libexec/swift/lib/libsourcekitdInProc.so)
  local list
  mapfile -t list < <(grep '^base-files_' "$root.tmp.list"; grep -v '^base-files_' "$root.tmp.list")
  for deb in "${list[@]}"; do
    dpkg-deb --fsys-tarfile "$debs/$deb" | tar -x -C "$root.tmp" --keep-directory-symlink "${excludes[@]}"
  done
  (cd "$debs" && python3 "$HERE/fixup-root.py" "$root.tmp" "${list[@]}")
  mkdir -p "$root.tmp"/{proc,sys,dev,root,tmp}
  chmod 1777 "$root.tmp/tmp"
  cp /etc/resolv.conf "$root.tmp/etc/resolv.conf" 2>/dev/null || true
  # What base-passwd's maintainer script would write (git wants to know who root is).
  [ -e "$root.tmp/etc/passwd" ] || echo 'root:x:0:0:root:/root:/bin/bash' >"$root.tmp/etc/passwd"
  [ -e "$root.tmp/etc/group" ] || echo 'root:x:0:' >"$root.tmp/etc/group"
  if [ "$arch" = arm64 ] && [ -n "$XNNPACK_SUITE" ]; then
    # XNNPACK with the operator API vitbench uses (2022: bookworm's; newer Debian packages a
    # newer XNNPACK without it, and the xnnpack tests would only print "skipped"), with the
    # cpuinfo and pthreadpool it was built against, apart from the suite's own (same sonames).
    local xdir=$root.tmp/opt/xnnpack-$XNNPACK_SUITE x
    mkdir -p "$xdir" "$root.tmp.xnnpack"
    (cd "$debs" && apt_suite "$XNNPACK_SUITE" arm64 download -qq $XNNPACK_PACKAGES)
    for x in $XNNPACK_PACKAGES; do dpkg-deb -x "$(ls "$debs/${x}"_*_arm64.deb | head -1)" "$root.tmp.xnnpack"; done
    cp -a "$root.tmp.xnnpack/usr/lib/aarch64-linux-gnu/"*.so* "$xdir/"
    rm -rf "$root.tmp.xnnpack"
  fi
  if [ "$arch" = arm64 ]; then
    # Where Swift's runtime is: Debian's swiftlang finds it by rpath; these binaries carry the
    # sysroot's path instead, so tell the loader.
    echo /usr/libexec/swift/lib/swift/linux >"$root.tmp/etc/ld.so.conf.d/swiftlang.conf"
    chroot "$root.tmp" /usr/bin/env -i QEMU_CPU="$QEMU_CPU" /usr/sbin/ldconfig
    # SwiftPM's test runner links lib_Testing_Foundation, which Debian's package lacks: an empty
    # archive stands in (the tests are XCTest).
    local swiftlib=$root.tmp/usr/libexec/swift/lib/swift/linux
    [ -e "$swiftlib/lib_Testing_Foundation.so" ] || [ -e "$swiftlib/lib_Testing_Foundation.a" ] ||
      printf '!<arch>\n' >"$swiftlib/lib_Testing_Foundation.a"
  fi
  grep -o '^swiftlang_[^_]*' "$root.tmp.list" | sed 's/^swiftlang_//; s/%3a/:/' >"$root.tmp/.vitbench-swiftlang"
  rm -f "$root.tmp.list" "$debs"/*.deb
  mv "$root.tmp" "$root"
}

# MARK: Host tools ------------------------------------------------------------------------------
phase "host tools (qemu, binfmt)"
need=()
command -v qemu-aarch64-static >/dev/null 2>&1 || need+=(qemu-user-static)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
PYTHON=""
for py in python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import numpy' 2>/dev/null; then PYTHON=$(command -v "$py"); break; fi
done
[ -n "$PYTHON" ] || need+=(python3 python3-numpy)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  apt-get -q update >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get -q install -y -o DPkg::Lock::Timeout=600 --no-install-recommends "${need[@]}" >/dev/null
  [ -n "$PYTHON" ] || PYTHON=/usr/bin/python3
fi
QEMU=$(command -v qemu-aarch64-static)
# binfmt_misc: aarch64 executables run through qemu. The F flag opens qemu now, so that it also
# works inside the arm64 chroot (which has no qemu of its own).
[ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] && command -v update-binfmts >/dev/null 2>&1; then
  update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  printf '%s' ':qemu-aarch64:M::\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:'"$QEMU"':F' \
    >/proc/sys/fs/binfmt_misc/register
fi
grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 || echo 1 >/proc/sys/fs/binfmt_misc/qemu-aarch64
grep -q '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 || {
  echo "binfmt_misc's qemu-aarch64 entry lacks the F flag (interpreter $(sed -n 's/^interpreter //p' /proc/sys/fs/binfmt_misc/qemu-aarch64)):" >&2
  echo "remove it (echo -1 > /proc/sys/fs/binfmt_misc/qemu-aarch64) and rerun" >&2
  exit 1
}
done_phase "$("$QEMU" --version | head -1), QEMU_CPU=$QEMU_CPU"

# MARK: Roots -----------------------------------------------------------------------------------
phase "roots (amd64 compiler, arm64 sysroot)"
amd64_key=$(root_key amd64 "$AMD64_PACKAGES")
arm64_key=$(root_key arm64 "$ARM64_PACKAGES")
if root_cached "$AMD64_ROOT" "$amd64_key" && root_cached "$ARM64_ROOT" "$arm64_key"; then
  roots_note="cached in $CACHE"
else
  apt_suite_update "$SUITE"
  [ -z "$XNNPACK_SUITE" ] || apt_suite_update "$XNNPACK_SUITE"
  # Both at once (unpacking is mostly decompression: one core each).
  pids=()
  if ! root_cached "$AMD64_ROOT" "$amd64_key"; then
    make_root amd64 "$AMD64_ROOT" "$AMD64_PACKAGES" >"$LOGS/root-amd64.log" 2>&1 &
    pids+=($!)
  fi
  if ! root_cached "$ARM64_ROOT" "$arm64_key"; then
    make_root arm64 "$ARM64_ROOT" "$ARM64_PACKAGES" >"$LOGS/root-arm64.log" 2>&1 &
    pids+=($!)
  fi
  for pid in "${pids[@]}"; do
    wait "$pid" || { tail -n 20 "$LOGS"/root-*.log >&2; exit 1; }
  done
  echo "$amd64_key" >"$AMD64_ROOT/.vitbench-root"
  echo "$arm64_key" >"$ARM64_ROOT/.vitbench-root"
  roots_note="made from $SUITE"
fi
SWIFT_AMD64=$(cat "$AMD64_ROOT/.vitbench-swiftlang")
SWIFT_ARM64=$(cat "$ARM64_ROOT/.vitbench-swiftlang")
[ "$SWIFT_AMD64" = "$SWIFT_ARM64" ] || {
  echo "swiftlang differs between the roots ($SWIFT_AMD64 vs $SWIFT_ARM64): rerun with VITBENCH_ARM64_REFRESH=1" >&2
  exit 1
}
done_phase "$roots_note; swiftlang $SWIFT_AMD64, $(du -sh --apparent-size "$AMD64_ROOT" "$ARM64_ROOT" 2>/dev/null | awk '{print $1}' | paste -sd+)"

# MARK: Cross build -----------------------------------------------------------------------------
phase "cross build (swift build, $TRIPLE)"
# A Swift SDK: the arm64 root as sysroot and Swift resources, linked with lld.
variant=$SDKS/$SDK_NAME.artifactbundle/$SDK_NAME/$TRIPLE
mkdir -p "$variant"
cat >"$SDKS/$SDK_NAME.artifactbundle/info.json" <<EOF
{ "schemaVersion": "1.0",
  "artifacts": { "$SDK_NAME": { "type": "swiftSDK", "version": "$SWIFT_ARM64",
                                 "variants": [ { "path": "$SDK_NAME/$TRIPLE" } ] } } }
EOF
cat >"$variant/swift-sdk.json" <<EOF
{ "schemaVersion": "4.0",
  "targetTriples": { "$TRIPLE": {
    "sdkRootPath": "$ARM64_ROOT",
    "swiftResourcesPath": "$ARM64_ROOT/usr/libexec/swift/lib/swift",
    "swiftStaticResourcesPath": "$ARM64_ROOT/usr/libexec/swift/lib/swift_static",
    "toolsetPaths": [ "toolset.json" ] } } }
EOF
cat >"$variant/toolset.json" <<EOF
{ "schemaVersion": "1.0",
  "swiftCompiler": { "extraCLIOptions": [ "-use-ld=lld" ] } }
EOF
# SwiftPM's repository cache of the host (if any) saves fetching the dependencies again.
binds=("$ARM64_ROOT=$ARM64_ROOT" "$SDKS=$SDKS")
[ -d "$HOME/.cache/org.swift.swiftpm/repositories" ] && binds+=("$HOME/.cache/org.swift.swiftpm/repositories=/root/.cache/org.swift.swiftpm/repositories")
[ -d /etc/ssl/certs ] && binds+=("/etc/ssl/certs=/etc/ssl/certs")
build_rc=0
run_in_root "$AMD64_ROOT" "
  cd '$REPO'
  export PKG_CONFIG_PATH='$ARM64_ROOT/usr/lib/aarch64-linux-gnu/pkgconfig:$ARM64_ROOT/usr/share/pkgconfig'
  export PKG_CONFIG_SYSROOT_DIR='$ARM64_ROOT'
  swift-build -c release -Xswiftc -enable-testing --build-tests --disable-swift-testing \
    --scratch-path '$SCRATCH' --swift-sdks-path '$SDKS' --swift-sdk $SDK_NAME
" "${binds[@]}" 2>&1 | tee "$LOGS/build.log" || build_rc=$?
[ "$build_rc" -eq 0 ] || { echo "cross build failed (log: $LOGS/build.log)" >&2; exit 1; }
file_note=$(file -b "$BIN/vitbench" 2>/dev/null | cut -d, -f1-2 || true)
done_phase "${file_note:-built}"

# MARK: Tests under qemu ------------------------------------------------------------------------
phase "XCTest suite under qemu"
tests_rc=0
# shellcheck disable=SC2086
run_in_root "$ARM64_ROOT" "$ARM64_ENV
  cd '$REPO'
  uname -m
  '$BIN/vitbenchPackageTests.xctest' ${VITBENCH_ARM64_TEST_ARGS:-}
" 2>&1 | tee "$LOGS/tests.log" || tests_rc=$?
# XCTest's last summary line: "Executed N tests, with [S tests skipped and] F failures (U unexpected) in ..."
summary_line=$(grep -E '^[[:space:]]*Executed [0-9]+ tests?, with' "$LOGS/tests.log" | tail -1 || true)
tests_total=$(sed -nE 's/.*Executed ([0-9]+) tests?.*/\1/p' <<<"$summary_line")
tests_skipped=$(sed -nE 's/.* ([0-9]+) tests? skipped.*/\1/p' <<<"$summary_line")
tests_failed=$(sed -nE 's/.* ([0-9]+) failures? .*/\1/p' <<<"$summary_line")
failed_tests=$(grep -oE "Test Case '[^']+' failed" "$LOGS/tests.log" | sed -E "s/Test Case '(.*)' failed/\1/" | sort -u || true)
tests_failed_cases=$(grep -c . <<<"$failed_tests" || true)
tests_total=${tests_total:-0} tests_skipped=${tests_skipped:-0}
tests_passed=$((tests_total - tests_skipped - tests_failed_cases))
# Tests that return early where an optional library is missing print "skipped: ..." (and pass).
tests_notes=$(grep -c '^skipped:' "$LOGS/tests.log" || true)
if [ -z "$summary_line" ] || [ "$tests_rc" -ne 0 ] || [ "$tests_failed_cases" -gt 0 ] || [ "${tests_failed:-0}" -gt 0 ]; then
  FAILURES+=("XCTest suite (exit $tests_rc${summary_line:+; $summary_line})")
fi
done_phase "$tests_total run, $tests_passed passed, $tests_failed_cases failed, $tests_skipped skipped"

# MARK: The binary under qemu -------------------------------------------------------------------
phase "vitbench env / infer / bench under qemu"
smoke_out=$SCRATCH/smoke
rm -rf "$smoke_out"
mkdir -p "$smoke_out"
smoke() {  # smoke NAME SCRIPT: runs SCRIPT in the arm64 root, logs to smoke/NAME.txt
  local rc=0
  echo "--- $1"
  run_in_root "$ARM64_ROOT" "$ARM64_ENV cd '$REPO'; $2" >"$smoke_out/$1.txt" 2>&1 || rc=$?
  cat "$smoke_out/$1.txt"
  [ $rc -eq 0 ] || { FAILURES+=("$1 (exit $rc)"); return 1; }
}
smoke_notes=()
failures_before=${#FAILURES[@]}
# scripts/ensure-deps.sh as an arm64 machine runs it: with its packages in place (the arm64 root
# holds them) it must find everything and do nothing.
if smoke ensure-deps "bash scripts/ensure-deps.sh && echo 'ensure-deps.sh: nothing to install on arm64'"; then
  smoke_notes+=("ensure-deps.sh: finds OpenBLAS, hwloc, BLIS, netlib BLAS and XNNPACK on arm64")
fi
if smoke env "'$BIN/vitbench' env"; then
  machine_id=$(sed -nE 's/^ *machine_id[: ]+//p' "$smoke_out/env.txt" | head -1)
  kernel_isa=$(sed -nE 's/^ *kernel_isa[: ]+([a-z0-9]+).*/\1/p' "$smoke_out/env.txt" | head -1)
  smoke_notes+=("env: machine_id ${machine_id:-?}, kernel_isa ${kernel_isa:-?}")
  grep -qE '^ *arch[: ]+aarch64' "$smoke_out/env.txt" || FAILURES+=("vitbench env: arch is not aarch64")
  [ "$kernel_isa" = neon ] || FAILURES+=("vitbench env: kernel_isa is '${kernel_isa:-?}', not neon")
  host_model=$(sed -nE 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
  if [ -n "$host_model" ] && grep -qF "$host_model" "$smoke_out/env.txt"; then
    FAILURES+=("vitbench env names the host's x86 CPU ('$host_model')")
  fi
fi
if smoke infer "'$BIN/vitbench' infer --model fastvit_t8 --weights '$GOLDEN/weights.safetensors' --input '$GOLDEN/input.npy' --output '$smoke_out/logits.npy'"; then
  if "$PYTHON" "$HERE/compare-logits.py" "$smoke_out/logits.npy" "$GOLDEN/logits.npy" | tee -a "$smoke_out/infer.txt"; then
    smoke_notes+=("infer: $(tail -1 "$smoke_out/infer.txt")")
  else
    FAILURES+=("vitbench infer: logits differ from the fastvit_t8 golden")
  fi
fi
if smoke bench "'$BIN/vitbench' bench --model mobileone_s0 --resolution 96 --min-runs 2 --min-seconds 0 --warmup-runs 0 --json"; then
  grep -q '"kernel_isa" *: *"neon"' "$smoke_out/bench.txt" || FAILURES+=("vitbench bench: the row does not say kernel_isa neon")
  smoke_notes+=("bench: $(grep -oE '"median_ms" *: *"?[0-9.]+' "$smoke_out/bench.txt" | head -1 | tr -d '"' || echo row written)")
fi
done_phase "$((${#FAILURES[@]} - failures_before)) problems"

# MARK: Summary ---------------------------------------------------------------------------------
total=$(($(date +%s) - SCRIPT_START))
echo
echo "=== ARM64 under qemu: summary ==="
echo "swiftlang $SWIFT_ARM64 (Debian $SUITE), cross-built for $TRIPLE; qemu-aarch64 QEMU_CPU=$QEMU_CPU"
echo "tests: $tests_total run, $tests_passed passed, $tests_failed_cases failed, $tests_skipped skipped${summary_line:+ ($(echo "$summary_line" | sed 's/^[[:space:]]*//'))}"
[ "$tests_notes" -eq 0 ] || echo "  $tests_notes 'skipped:' notes from tests whose optional library is missing: $(grep '^skipped:' "$LOGS/tests.log" | cut -c1-100 | sort | uniq -c | sort -rn | head -3 | sed 's/^ *//' | paste -sd';')"
[ -z "$failed_tests" ] || sed 's/^/  failed: /' <<<"$failed_tests"
for n in "${smoke_notes[@]}"; do echo "$n"; done
echo "phases:"
for p in "${PHASES[@]}"; do echo "  $p"; done
echo "  $(printf '%-52s %7s' total "$(fmt $total)")"
echo "logs: $LOGS, $smoke_out"
if [ ${#FAILURES[@]} -gt 0 ]; then
  echo "FAILED:"
  for f in "${FAILURES[@]}"; do echo "  - $f"; done
  PHASE=summary
  exit 1
fi
echo "OK: every test and check passed under emulation"
