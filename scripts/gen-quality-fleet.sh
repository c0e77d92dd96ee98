#!/usr/bin/env bash
# Quality benchmark (issue 5): simulate ≥1,000 devices × 7 days with 30 labeled incidents of
# every kind plus the benign changes into fixtures/generated/ (git-ignored), backtest
# pipelines/default.yaml on it and refresh the generated tables in docs/quality.md.
#   bash scripts/gen-quality-fleet.sh                 # full run
#   bash scripts/gen-quality-fleet.sh --skip-sim      # re-score an existing fleet (detector changes)
#   bash scripts/gen-quality-fleet.sh --pipeline pipelines/x.yaml --no-docs
set -euo pipefail
cd "$(dirname "$0")/.."
exec npx tsx scripts/gen-quality-fleet.ts "$@"
