# Sourced by run.sh and every stage's code/run.sh: finds the repository, makes sure the
# environment is installed, and sets DATA_DIR (default: data/ at the repository root).
# Set ACAV_SKIP_SETUP=1 to skip the set-up and use $ACAV_PYTHON (default: python3 on PATH; acav
# must be importable there). ACAV_SETUP_SET=dev (scripts/test.sh) also installs the test dependencies.
ACAV_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ACAV_ROOT
if [ "${ACAV_SKIP_SETUP:-0}" != "1" ]; then
  bash "$ACAV_ROOT/scripts/setup.sh" "${ACAV_SETUP_SET:-runtime}"
  ACAV_PYTHON="${ACAV_VENV:-$ACAV_ROOT/.venv}/bin/python"
else
  ACAV_PYTHON="${ACAV_PYTHON:-$(command -v python3)}"
fi
export ACAV_PYTHON
export DATA_DIR="${DATA_DIR:-$ACAV_ROOT/data}"
