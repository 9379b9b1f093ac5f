#!/usr/bin/env bash
# Stage 5: clustering. Reads $DATA_DIR/features/shard-*.pkl; writes clusters/shard-NNNNNN.pkl, log_*.json, centroids.
# Works from any directory; honours DATA_DIR (default: data/ at the repository root).
# Extra arguments go to `acav cluster` (see `bash clustering/code/run.sh --help`).
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/env.sh"
exec "$ACAV_PYTHON" -m acav cluster --data-dir "$DATA_DIR" "$@"
