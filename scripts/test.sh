#!/usr/bin/env bash
# Set up the environment (if needed), lint with ruff, and run the test suite. Extra arguments go to pytest.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"
cd "$ACAV_ROOT"
export ACAV_PROGRESS="${ACAV_PROGRESS:-0}"
"$ACAV_PYTHON" -m ruff check --quiet "$ACAV_ROOT"
exec "$ACAV_PYTHON" -m pytest -n 2 "$@"
