#!/usr/bin/env bash
# Create (or update) the project's virtual environment .venv and install acav into it.
# Idempotent and quick when nothing changed: a stamp records the hash of the dependency files.
# Honours: PYTHON (interpreter to build the venv with, default python3), ACAV_VENV (venv path).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ACAV_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"

if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
  echo "acav needs Python 3.10 or newer; '$PY' is $("$PY" --version 2>&1 || echo missing). Set PYTHON=/path/to/python3.x" >&2
  exit 1
fi

want="$(cat "$ROOT/pyproject.toml" "$ROOT/requirements.txt" "$ROOT/requirements-dev.txt" | sha256sum | cut -d' ' -f1)"
stamp="$VENV/.acav-installed"
if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

echo "Setting up $VENV (first run or dependencies changed; this takes a few minutes) ..." >&2
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
VPY="$VENV/bin/python"
"$VPY" -m pip install --quiet --upgrade pip
# torch first: the CPU build 2.13.0 where the machine has it; otherwise any torch >= 2.1.
if ! "$VPY" -c 'import torch' 2>/dev/null; then
  "$VPY" -m pip install --quiet "torch==2.13.0" || "$VPY" -m pip install --quiet "torch>=2.1"
fi
"$VPY" -m pip install --quiet -r "$ROOT/requirements-dev.txt"
"$VPY" -m pip install --quiet --no-deps -e "$ROOT"
echo "$want" > "$stamp"
echo "Environment ready: $VENV" >&2
