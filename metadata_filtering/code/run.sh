#!/usr/bin/env bash
# Stage 1: metadata filtering. Reads $DATA_DIR/metadata.tsv; writes filtered.tsv, filtered.rejects.tsv, filtered.report.json.
# Works from any directory; honours DATA_DIR (default: data/ at the repository root).
# Extra arguments go to `acav filter` (see `bash metadata_filtering/code/run.sh --help`).
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/env.sh"
exec "$ACAV_PYTHON" -m acav filter --data-dir "$DATA_DIR" "$@"
