#!/usr/bin/env bash
# Fuzzes the file readers with libFuzzer + AddressSanitizer: the .npy reader, the safetensors
# reader, the suite (YAML) reader and the CSV reader (Fuzz/<target>.swift, seeds in
# Fuzz/corpus/<target>/).
#
#   scripts/fuzz.sh [--seconds N] [--target NAME]... [--max-len BYTES] [--build-dir DIR] [--no-build]
#
# Builds the library modules with coverage and ASan (SwiftPM, a scratch folder of their own,
# default .build/fuzz), links each target against their objects with swiftc -sanitize=fuzzer,address,
# runs each for N seconds (default 60), and prints one line per target: executions, executions/s,
# crashes. New inputs go to the build folder's corpus, never into Fuzz/corpus; a crash leaves
# its input as <build-dir>/artifacts/<target>/crash-* (rerun: <build-dir>/fuzz-<target> FILE).
# Exits 1 when any target crashed (or leaked, or timed out on one input), 2 on a usage or build error.
set -uo pipefail
cd "$(dirname "$0")/.."

all_targets=(npy safetensors suite csv)
seconds=60
max_len=65536
build_dir=.build/fuzz
build=1
targets=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seconds) seconds="${2:?--seconds needs a value}"; shift 2 ;;
        --target) targets+=("${2:?--target needs a value}"); shift 2 ;;
        --max-len) max_len="${2:?--max-len needs a value}"; shift 2 ;;
        --build-dir) build_dir="${2:?--build-dir needs a value}"; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "fuzz.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$seconds" =~ ^[1-9][0-9]{0,6}$ ]] || { echo "fuzz.sh: --seconds must be a positive integer, got '$seconds'" >&2; exit 2; }
[[ "$max_len" =~ ^[1-9][0-9]{0,8}$ ]] || { echo "fuzz.sh: --max-len must be a positive integer, got '$max_len'" >&2; exit 2; }
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
    [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target '$t'; targets: ${all_targets[*]}" >&2; exit 2; }
done
mkdir -p "$build_dir"
build_dir="$(cd "$build_dir" && pwd)"

# The modules each target links: its own and everything below it.
engine=(VitEngine CKernels CXNNPACK SwiftProtobuf)
declare -A modules=(
    [npy]="${engine[*]}"
    [safetensors]="${engine[*]}"
    [suite]="VitHarness VitModels VitReports ${engine[*]} Yams CYaml"
    [csv]="VitReports"
)
declare -A swiftpm_target=([npy]=VitEngine [safetensors]=VitEngine [suite]=VitHarness [csv]=VitReports)

# One -sanitize= list: swiftc keeps only the last -sanitize= flag it is given (two flags lost the coverage).
flags=(-Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address)
if [[ $build == 1 ]]; then
    built=" "
    for t in "${targets[@]}"; do
        st=${swiftpm_target[$t]}
        [[ "$built" == *" $st "* ]] && continue
        echo "fuzz.sh: building $st with coverage and ASan in $build_dir" >&2
        if ! swift build -c release --scratch-path "$build_dir" --target "$st" "${flags[@]}" >"$build_dir/build-$st.log" 2>&1; then
            tail -30 "$build_dir/build-$st.log" >&2
            echo "fuzz.sh: the sanitized build of $st failed (log: $build_dir/build-$st.log)" >&2
            exit 2
        fi
        built+="$st "
    done
fi

release="$build_dir/release"
# Clang modules the Swift modules import (CBLAS, CKernels, CHwloc, CYaml, ...): their module maps.
module_maps=()
while IFS= read -r m; do module_maps+=(-Xcc "-fmodule-map-file=$m"); done \
    < <(find "$release" -maxdepth 2 -name module.modulemap 2>/dev/null; find Sources -maxdepth 2 -name module.modulemap
        find "$build_dir/checkouts" -name module.modulemap 2>/dev/null)
libs=(-lopenblas -lhwloc -ldl -lm)
# OpenBLAS and hwloc the way SwiftPM finds them (pkg-config), when they live off the default paths.
if command -v pkg-config >/dev/null; then
    read -r -a pc <<<"$(pkg-config --cflags --libs-only-L openblas hwloc 2>/dev/null)"
    for f in "${pc[@]}"; do case "$f" in -I*) module_maps+=(-Xcc "$f") ;; -L*) libs=("$f" "${libs[@]}") ;; esac; done
fi

status=0
summary=()
for t in "${targets[@]}"; do
    binary="$build_dir/fuzz-$t"
    objects=()
    for m in ${modules[$t]}; do
        while IFS= read -r o; do objects+=("$o"); done < <(find "$release/$m.build" -name '*.o' 2>/dev/null | sort)
    done
    if [[ ${#objects[@]} -eq 0 ]]; then
        echo "fuzz.sh: no objects for $t under $release (build first: drop --no-build)" >&2; exit 2
    fi
    if ! swiftc -O -parse-as-library -sanitize=fuzzer,address -I "$release/Modules" -I "$release" "${module_maps[@]}" \
            "Fuzz/$t.swift" "${objects[@]}" "${libs[@]}" -o "$binary" >"$build_dir/link-$t.log" 2>&1; then
        grep -v 'warning: Cannot export local symbol' "$build_dir/link-$t.log" | tail -30 >&2
        echo "fuzz.sh: linking $t failed (log: $build_dir/link-$t.log)" >&2
        exit 2
    fi
    corpus="$build_dir/corpus/$t"
    artifacts="$build_dir/artifacts/$t"
    rm -rf "$artifacts"  # a previous run's findings are not this run's
    mkdir -p "$corpus" "$artifacts"
    log="$build_dir/run-$t.log"
    echo "fuzz.sh: $t for ${seconds}s (max_len $max_len)" >&2
    # The seeds are read but not written to: new inputs go to the first folder, the build's.
    # Swift's own crash handler reads freed memory while it symbolicates, which ASan reports as
    # a second error over the real one: libFuzzer's handler prints the stack instead.
    SWIFT_BACKTRACE=enable=no "$binary" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=4096 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "Fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    [[ -n "$execs" ]] || execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    crashes=$(find "$artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    took=$(grep -oE '^Done [0-9]+ runs in [0-9]+ second' "$log" | grep -oE '[0-9]+ second' | grep -oE '[0-9]+')
    line="$t: ${execs:-?} executions in ${took:-under $seconds} s (${rate:-?}/s), exit $rc, $crashes crash/leak/timeout/oom input(s) in $artifacts"
    summary+=("$line")
    if [[ $rc -ne 0 || $crashes -gt 0 ]]; then
        status=1
        grep -E 'ERROR: |SUMMARY: |Fatal error|Test unit written' "$log" | head -8 >&2
    fi
done
printf '%s\n' "${summary[@]}"
exit $status
