#!/usr/bin/env bash
# Create (or update) the project's virtual environment .venv and install acav into it.
#
#   bash scripts/setup.sh            # runtime dependencies only (requirements.txt): enough for run.sh
#   bash scripts/setup.sh dev        # + test and reference-model dependencies (requirements-dev.txt)
#
# Idempotent and quick when nothing changed: a stamp per set (.venv/.acav-installed-runtime,
# .venv/.acav-installed-dev) records the hash of the files that set depends on.
# Honours: PYTHON (interpreter to build the venv with, default python3), ACAV_VENV (venv path).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ACAV_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
SET="${1:-runtime}"
case "$SET" in
  runtime) requirements="$ROOT/requirements.txt" ;;
  dev) requirements="$ROOT/requirements-dev.txt" ;;
  *) echo "setup.sh: unknown set '$SET' (runtime or dev)" >&2; exit 2 ;;
esac

stamp_of() {  # the hash a set's stamp must hold
  case "$1" in
    runtime) cat "$ROOT/pyproject.toml" "$ROOT/requirements.txt" ;;
    dev) cat "$ROOT/pyproject.toml" "$ROOT/requirements.txt" "$ROOT/requirements-dev.txt" ;;
  esac | sha256sum | cut -d' ' -f1
}
up_to_date() { [ -f "$VENV/.acav-installed-$1" ] && [ "$(cat "$VENV/.acav-installed-$1")" = "$(stamp_of "$1")" ]; }

if [ -x "$VENV/bin/python" ]; then
  if up_to_date "$SET" || { [ "$SET" = runtime ] && up_to_date dev; }; then
    exit 0  # the dev set includes the runtime set
  fi
fi

if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
  echo "acav needs Python 3.10 or newer; '$PY' is $("$PY" --version 2>&1 || echo missing). Set PYTHON=/path/to/python3.x" >&2
  exit 1
fi

echo "Setting up $VENV ($SET dependencies; first run or dependencies changed; this takes a few minutes) ..." >&2
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
VPY="$VENV/bin/python"
"$VPY" -m pip install --quiet --upgrade pip
# torch first: the CPU build 2.13.0 where the machine has it; otherwise any torch >= 2.1.
if ! "$VPY" -c 'import torch' 2>/dev/null; then
  "$VPY" -m pip install --quiet "torch==2.13.0" || "$VPY" -m pip install --quiet "torch>=2.1"
fi
"$VPY" -m pip install --quiet -r "$requirements"
"$VPY" -m pip install --quiet --no-deps -e "$ROOT"
stamp_of "$SET" > "$VENV/.acav-installed-$SET"
echo "Environment ready ($SET): $VENV. For the acav command: source $VENV/bin/activate" >&2
