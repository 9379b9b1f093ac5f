#!/usr/bin/env bash
# Correspondence retrieval: the paper's controlled experiments.
# Works from any directory; honours DATA_DIR (default: data/ at the repository root).
# Extra arguments go to `acav retrieval` (see `bash correspondence_retrieval/code/run.sh --help`).
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/env.sh"
exec "$ACAV_PYTHON" -m acav retrieval --data-dir "$DATA_DIR" "$@"
