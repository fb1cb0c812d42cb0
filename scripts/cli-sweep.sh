#!/usr/bin/env bash
# Every numeric option of every vitbench subcommand with extreme values — 0, -1, 99999999999999999999,
# 2^63, inf, nan, -inf, 1e309 and the empty string — each on an otherwise tiny configuration
# (a 4x4 block of width 8, one short measured run), under `timeout 20`.
#
#   scripts/cli-sweep.sh [--binary PATH] [--verbose]
#
# Reports each invocation that dies of a signal (exit >= 128), times out (exit 124), or exits 0
# for a value its option must refuse, and exits 1 if there is any; 2 when vitbench is not built.
# It also lists options that `--help` shows but the table below does not classify, so that a new
# numeric option is not silently left out of the sweep.
set -uo pipefail
cd "$(dirname "$0")/.."

binary=.build/release/vitbench
verbose=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
        --verbose) verbose=1; shift ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "cli-sweep.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
[[ -x "$binary" ]] || { echo "cli-sweep.sh: $binary is not built (swift build -c release)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Fixtures: a tiny NCHW input, a suite of one tiny block, a results CSV to compare with itself.
python3 - "$work" <<'EOF' || { echo "cli-sweep.sh: python3 is needed for the fixtures" >&2; exit 2; }
import struct, sys, math
d = sys.argv[1]
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 16, 16), }"
header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
with open(f"{d}/x.npy", "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    f.write(struct.pack("<768f", *[math.sin(i) for i in range(768)]))
with open(f"{d}/tiny.yaml", "w") as f:
    f.write("name: tiny\nprotocol: {warmup_runs: 0, warmup_seconds: 0, min_runs: 1, min_seconds: 0, max_seconds: 1}\n"
            "runs:\n  - block: metaformer.pooling\n    dims: [8]\n    resolutions: [4]\n")
EOF
"$binary" bench --block metaformer.pooling --dim 8 --resolution 4 --warmup-runs 0 --warmup-seconds 0 --min-runs 3 \
    --min-seconds 0 --max-seconds 1 --csv >"$work/r.csv" 2>/dev/null \
    || { echo "cli-sweep.sh: the base bench run failed; is vitbench working?" >&2; exit 2; }

values=(0 -1 99999999999999999999 9223372036854775808 inf nan -inf 1e309 "")

# Each numeric option: subcommand, option, kind, the base command line it is added to (tiny),
# optionally a value that must succeed (default: by kind) and `slow`: the base runs longer than
# the timeout at any size (kernels measures fixed FastViT shapes), so only refusals are checked.
# Kinds say which of the values may exit 0:
#   int1  an integer >= 1: every value above must be refused
#   int0  an integer >= 0: only 0 may succeed
#   real0 a finite number >= 0 with no upper bound: 0, 1e20 and 2^63 may succeed
#   real0cap  seconds to spend: only 0 may succeed (1e20 s must be refused, not waited for)
#   frac  a number in [0, 1) or (0, 1): only 0 may succeed, or none
#   size  a size such as 8G: none of the values may succeed but 0 (= no limit)
tiny_block="--block metaformer.pooling --dim 8 --resolution 4"
tiny_proto="--warmup-runs 0 --warmup-seconds 0 --min-runs 1 --min-seconds 0 --max-seconds 1"
specs=(
    "info|--resolution|int1|info fastvit.repmixer"
    "info|--dim|int1|info fastvit.repmixer --resolution 4"
    "info|--batch|int1|info fastvit.repmixer --resolution 4"
    "info|--threads|int1|info fastvit.repmixer --resolution 4"
    "infer|--threads|int1|infer --model metaformer_s12:identity --input $work/x.npy --output $work/y.npy"
    "infer|--memory-limit|size|infer --model metaformer_s12:identity --input $work/x.npy --output $work/y.npy"
    "bench|--dim|int1|bench --block metaformer.pooling --resolution 4 $tiny_proto"
    "bench|--resolution|int1|bench --block metaformer.pooling --dim 8 $tiny_proto"
    "bench|--batch|int1|bench $tiny_block $tiny_proto"
    "bench|--threads|int1|bench $tiny_block $tiny_proto"
    "bench|--blas-threads|int1|bench $tiny_block $tiny_proto"
    "bench|--warmup-runs|int0|bench $tiny_block --warmup-seconds 0 --min-runs 1 --min-seconds 0 --max-seconds 1"
    "bench|--warmup-seconds|real0cap|bench $tiny_block --warmup-runs 0 --min-runs 1 --min-seconds 0 --max-seconds 1"
    "bench|--min-runs|int1|bench $tiny_block --warmup-runs 0 --warmup-seconds 0 --min-seconds 0 --max-seconds 1"
    "bench|--min-seconds|real0cap|bench $tiny_block --warmup-runs 0 --warmup-seconds 0 --min-runs 1 --max-seconds 1"
    "bench|--max-seconds|real0|bench $tiny_block --warmup-runs 0 --warmup-seconds 0 --min-runs 1 --min-seconds 0"
    "bench|--noise-threshold|real0|bench $tiny_block $tiny_proto"
    "bench|--memory-limit|size|bench $tiny_block $tiny_proto"
    "profile|--dim|int1|profile --block metaformer.pooling --resolution 4 --passes 1"
    "profile|--resolution|int1|profile --block metaformer.pooling --dim 8 --passes 1"
    "profile|--batch|int1|profile $tiny_block --passes 1"
    "profile|--threads|int1|profile $tiny_block --passes 1"
    "profile|--passes|int1|profile $tiny_block"
    "profile|--top|int1|profile $tiny_block --passes 1"
    "profile|--memory-limit|size|profile $tiny_block --passes 1"
    "export|--dim|int1|export --block metaformer.pooling --resolution 4 --onnx $work/o.onnx"
    "export|--resolution|int1|export --block metaformer.pooling --dim 8 --onnx $work/o.onnx"
    "export|--batch|int1|export $tiny_block --onnx $work/o.onnx"
    "export|--memory-limit|size|export $tiny_block --onnx $work/o.onnx"
    "kernels|--threads|int1|kernels --isa baseline --sgemm-size 16||slow"
    "kernels|--sgemm-size|int1|kernels --isa baseline|16|slow"
    "run|--memory-limit|size|run $work/tiny.yaml --dry-run --out $work/run"
    "compare|--threshold|real0|compare $work/r.csv $work/r.csv"
    "compare|--alpha|frac|compare $work/r.csv $work/r.csv"
    "compare|--min-repetitions|int1|compare $work/r.csv $work/r.csv|2"
    "env|--threads|int1|env"
)
# Options that take no number (or a name): listed so that --help is fully classified.
non_numeric=" --model --block --mixer --form --backend --pin --json --csv --isa --allow-oversubscription --weights "
non_numeric+=" --input --output --reparameterize --allow-nonfinite --onnx --out --filter --resume --overwrite --dry-run "
non_numeric+=" --base --new --across --strict --topology --synthetic --pivot --baseline --baseline-backend "
non_numeric+=" --baseline-machine --plots --trace --blocks --help "

failures=()
unclassified=()
for sub in list info infer bench profile run report compare env export kernels; do
    while IFS= read -r opt; do
        classified=0
        for s in "${specs[@]}"; do [[ "$s" == "$sub|$opt|"* ]] && classified=1; done
        [[ $classified == 1 || "$non_numeric" == *" $opt "* ]] || unclassified+=("$sub $opt")
    done < <("$binary" "$sub" --help 2>&1 | grep -oE '^\s+(-[a-zA-Z], )?--[a-z0-9-]+' | grep -oE -- '--[a-z0-9-]+' | sort -u)
done

may_succeed() {  # kind value -> 0 when exit 0 is acceptable for this value
    local kind=$1 v=$2
    case "$kind" in
        int0) [[ "$v" == 0 ]] ;;
        real0) [[ "$v" == 0 || "$v" == 99999999999999999999 || "$v" == 9223372036854775808 ]] ;;
        real0cap|frac|size) [[ "$v" == 0 ]] ;;
        *) return 1 ;;
    esac
}

good_value() {  # a value of each kind that must succeed: the base command line works
    case "$1" in int1) echo 1 ;; int0|real0cap) echo 0 ;; real0) echo 0.5 ;; frac) echo 0.05 ;; size) echo 1G ;; esac
}

count=0
for s in "${specs[@]}"; do
    IFS='|' read -r sub opt kind base good slow <<<"$s"
    [[ -n "$good" ]] || good=$(good_value "$kind")
    # shellcheck disable=SC2086
    timeout -k 5 20 "$binary" $base "$opt" "$good" >"$work/out" 2>&1
    rc=$?
    if [[ $rc -ne 0 && ! ( "$slow" == slow && $rc -eq 124 ) ]]; then
        failures+=("BASE FAILS (exit $rc) vitbench $base $opt $good: $(grep -m1 -iE 'error' "$work/out" | cut -c1-160)")
        continue
    fi
    for v in "${values[@]}"; do
        count=$((count + 1))
        # shellcheck disable=SC2086 # base is a word list by design
        timeout -k 5 20 "$binary" $base "$opt" "$v" >"$work/out" 2>&1
        rc=$?
        what="vitbench $base $opt '$v'"
        if [[ $rc -eq 124 || $rc -eq 137 ]]; then
            failures+=("TIMEOUT   $what")
        elif [[ $rc -ge 128 ]]; then
            failures+=("SIGNAL $((rc - 128))  $what: $(grep -m1 -E 'Fatal error|error|Error' "$work/out" | cut -c1-160)")
        elif [[ $rc -eq 0 ]] && ! may_succeed "$kind" "$v"; then
            failures+=("EXIT 0    $what")
        fi
        [[ $verbose == 1 ]] && echo "rc=$rc  $what: $(tail -1 "$work/out" | cut -c1-120)"
    done
done

echo "cli-sweep: $count invocations of ${#specs[@]} numeric options"
for u in "${unclassified[@]}"; do echo "UNCLASSIFIED option (add it to the table): $u"; done
for f in "${failures[@]}"; do echo "$f"; done
if [[ ${#failures[@]} -gt 0 || ${#unclassified[@]} -gt 0 ]]; then
    echo "cli-sweep: ${#failures[@]} finding(s), ${#unclassified[@]} unclassified option(s)"
    exit 1
fi
echo "cli-sweep: no signal, no timeout, no wrongly accepted value"
