#!/usr/bin/env bash
# Set up the development environment (if needed: runtime + test dependencies, and Chromium for the
# report's browser test), lint with ruff, and run the test suite. Extra arguments go to pytest.
set -euo pipefail
export ACAV_SETUP_SET=dev
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"
cd "$ACAV_ROOT"
[ "${ACAV_SKIP_SETUP:-0}" = "1" ] || bash "$ACAV_ROOT/scripts/setup-test-deps.sh"
export ACAV_PROGRESS="${ACAV_PROGRESS:-0}"
"$ACAV_PYTHON" -m ruff check --quiet "$ACAV_ROOT"
exec "$ACAV_PYTHON" -m pytest -n 2 "$@"
