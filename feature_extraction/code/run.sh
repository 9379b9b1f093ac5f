#!/usr/bin/env bash
# Stage 4: feature extraction. Reads $DATA_DIR/videos/shard-*.tar; writes features/shard-NNNNNN.pkl.
# Works from any directory; honours DATA_DIR (default: data/ at the repository root).
# Extra arguments go to `acav extract` (see `bash feature_extraction/code/run.sh --help`).
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/env.sh"
exec "$ACAV_PYTHON" -m acav extract --data-dir "$DATA_DIR" "$@"
