#!/usr/bin/env bash
# The test suite on a fresh machine: install system libraries if missing, build in release mode
# (numeric code is too slow in debug builds), run every test. Extra arguments go to `swift test`
# (e.g. --filter AttentionTests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
exec swift test -c release -Xswiftc -enable-testing --disable-swift-testing "$@"
