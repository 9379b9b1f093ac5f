#!/usr/bin/env bash
# Correspondence retrieval: the paper's controlled experiments (tables, CSV and plots).
# Writes $DATA_DIR/correspondence_retrieval/{exp1,exp2,...}/ and index.md. Works from any directory;
# honours DATA_DIR (default: data/ at the repository root). Extra arguments go to `acav retrieval`:
#   bash correspondence_retrieval/code/run.sh                      # exp1, exp2, exp3, exp5 on the offline data sets
#   bash correspondence_retrieval/code/run.sh --quick              # the same with exp1's quick settings
#   bash correspondence_retrieval/code/run.sh --experiment exp4 --experiment sweep
#   bash correspondence_retrieval/code/run.sh --experiment exp1 --datasets cifar_flip mnist_fsdd --root DIR
#   bash correspondence_retrieval/code/run.sh download --root DIR  # CIFAR-10, MNIST, FSDD (needs internet)
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/env.sh"
# The runs are many small problems: one BLAS/OpenMP thread each is faster than contention.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
exec "$ACAV_PYTHON" -m acav retrieval --data-dir "$DATA_DIR" "$@"
