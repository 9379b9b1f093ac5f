#!/usr/bin/env bash
# Evaluation: pretrain on a curated subset, then linear evaluation.
# Works from any directory; honours DATA_DIR (default: data/ at the repository root).
# Extra arguments go to `acav evaluate` (see `bash evaluation/code/run.sh --help`).
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/env.sh"
exec "$ACAV_PYTHON" -m acav evaluate --data-dir "$DATA_DIR" "$@"
