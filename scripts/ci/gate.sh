#!/usr/bin/env bash
# The CI regression gate: runs a suite with two vitbench binaries (the base commit's and the
# change's) interleaved round by round — base, new; new, base; ... — so that whatever the shared
# machine does in a given minute hits both sides alike; each round is one repetition of every
# configuration, in its own process. Then `vitbench compare` tests the change against the base
# on the rounds as independent repetitions (Welch on log medians, Holm-corrected).
#
# Usage: scripts/ci/gate.sh --base BIN --new BIN [--suite Suites/ci.yaml] [--rounds 3]
#                           [--out gate-results] [-- COMPARE-OPTIONS...]
# Writes OUT/base/round-R/NAME.csv, OUT/new/round-R/NAME.csv and OUT/compare.md; exits with
# compare's status (0 no regression, 1 regression, 2 bad input). VITBENCH_TEST_SLOWDOWN in the
# environment of the new side only (GATE_NEW_ENV="VITBENCH_TEST_SLOWDOWN=0.15") checks that the
# gate catches a known slowdown.
set -euo pipefail
base="" new="" suite="Suites/ci.yaml" rounds=3 out="gate-results"
while [ $# -gt 0 ]; do
  case "$1" in
    --base) base="$2"; shift 2 ;;
    --new) new="$2"; shift 2 ;;
    --suite) suite="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "gate.sh: unknown argument $1 (see --help)" >&2; exit 64 ;;
  esac
done
[ -x "$base" ] || { echo "gate.sh: --base must name an executable vitbench (got '$base')" >&2; exit 64; }
[ -x "$new" ] || { echo "gate.sh: --new must name an executable vitbench (got '$new')" >&2; exit 64; }
[ -f "$suite" ] || { echo "gate.sh: no suite at $suite" >&2; exit 64; }
case "$rounds" in ''|*[!0-9]*) echo "gate.sh: --rounds must be a whole number" >&2; exit 64 ;; esac
if [ "$rounds" -lt 2 ] || [ "$rounds" -gt 50 ]; then echo "gate.sh: --rounds must be between 2 and 50" >&2; exit 64; fi

name=$(basename "$suite" .yaml)
side() {  # side LABEL BIN ROUND
  local dir="$out/$1/round-$3"
  echo "gate: round $3/$rounds, $1" >&2
  if [ "$1" = new ] && [ -n "${GATE_NEW_ENV:-}" ]; then
    env $GATE_NEW_ENV "$2" run "$suite" --out "$dir" --overwrite 2>"$dir.log" >/dev/null
  else
    "$2" run "$suite" --out "$dir" --overwrite 2>"$dir.log" >/dev/null
  fi
}
mkdir -p "$out/base" "$out/new"
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) -eq 1 ]; then side base "$base" "$r"; side new "$new" "$r"
  else side new "$new" "$r"; side base "$base" "$r"; fi
done
args=()
for r in $(seq 1 "$rounds"); do args+=(--base "$out/base/round-$r/$name.csv"); done
for r in $(seq 1 "$rounds"); do args+=(--new "$out/new/round-$r/$name.csv"); done
set +e
"$new" compare "${args[@]}" --out "$out/compare.md" "$@" >/dev/null
status=$?
set -e
cat "$out/compare.md" 2>/dev/null || true
echo "gate: compare exited $status" >&2
exit $status
