#!/usr/bin/env bash
# Not available yet: see this folder's README.md for what it will do and its status.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
echo "$(basename "$here"): not implemented yet in this release; see $here/README.md" >&2
exit 1
