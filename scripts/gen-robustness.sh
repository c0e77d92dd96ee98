#!/usr/bin/env bash
# Robustness check (issue #20 item 5): the default pipeline over the benchmark fleet and eight
# drawn worlds, judged on the worst; refreshes the generated section of docs/quality.md.
#   bash scripts/gen-robustness.sh                       # full run (~25 min on 2 cores)
#   bash scripts/gen-robustness.sh --reuse               # re-score existing worlds (detector changes)
#   bash scripts/gen-robustness.sh --no-benchmark -w 4 -e 200000 --max-days 3   # quick iteration
# Any `m2m-sentinel robustness` flag passes through (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
exec npx tsx scripts/dev-cli.ts robustness --docs docs/quality.md "$@"
