#!/usr/bin/env bash
# Stage 6: subset selection. Reads $DATA_DIR/clusters/ + videos/shard-*.json; writes output.csv.
# Works from any directory; honours DATA_DIR (default: data/ at the repository root).
# Extra arguments go to `acav select` (see `bash subset_selection/code/run.sh --help`).
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/env.sh"
exec "$ACAV_PYTHON" -m acav select --data-dir "$DATA_DIR" "$@"
