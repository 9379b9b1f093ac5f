#!/usr/bin/env bash
# Stage 3: clip segmentation. Reads $DATA_DIR/videos/raw/*.mp4; writes videos/clips/ and videos/shard-NNNNNN.tar + .json.
# Works from any directory; honours DATA_DIR (default: data/ at the repository root).
# Extra arguments go to `acav segment` (see `bash clip_segmentation/code/run.sh --help`).
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/env.sh"
exec "$ACAV_PYTHON" -m acav segment --data-dir "$DATA_DIR" "$@"
