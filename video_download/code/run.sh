#!/usr/bin/env bash
# Stage 2: video download. Reads $DATA_DIR/filtered.tsv; writes videos/raw/{ID}.mp4 and videos/raw/download.log.jsonl.
# Works from any directory; honours DATA_DIR (default: data/ at the repository root).
# Extra arguments go to `acav download` (see `bash video_download/code/run.sh --help`).
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/env.sh"
exec "$ACAV_PYTHON" -m acav download --data-dir "$DATA_DIR" "$@"
