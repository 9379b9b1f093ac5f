#!/usr/bin/env bash
# Evaluation: export the selection, pretrain on it, linear evaluation, and the offline proof.
# Works from any directory; honours DATA_DIR (default: data/ at the repository root).
#
#   bash evaluation/code/run.sh export [--random-subset] [--delete-clips]   # acav export on $DATA_DIR
#   bash evaluation/code/run.sh pretrain [--subset curated|random] [acav evaluate pretrain options]
#        # shards from $DATA_DIR/export/<subset>, run in $DATA_DIR/pretrain/<subset>; NPROC=8 uses torchrun
#   bash evaluation/code/run.sh linear --dataset ucf101 --root DIR (--checkpoint CKPT | --original PYTH)
#   bash evaluation/code/run.sh download ucf101|esc50 --root DIR           # needs internet
#   bash evaluation/code/run.sh proof [--seeds 3] [--steps 200]            # offline curated-vs-random proof
#        # under $DATA_DIR/proof: a 160-video demo pool (run.sh --demo, selection, export + random twin),
#        # a 48-video held-out demo (stages 1-3), then pretraining and probes; table in results/results.md
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/scripts/env.sh"
command="${1:-}"
[ $# -gt 0 ] && shift
case "$command" in
  export) exec "$ACAV_PYTHON" -m acav export --data-dir "$DATA_DIR" "$@" ;;
  pretrain)
    subset=curated
    if [ "${1:-}" = "--subset" ]; then subset="$2"; shift 2; fi
    args=(evaluate pretrain --shards "$DATA_DIR/export/$subset" --out "$DATA_DIR/pretrain/$subset" "$@")
    if [ "${NPROC:-1}" -gt 1 ]; then
      exec "$ACAV_PYTHON" -m torch.distributed.run --standalone --nproc_per_node="$NPROC" -m acav "${args[@]}"
    fi
    exec "$ACAV_PYTHON" -m acav "${args[@]}" ;;
  linear) exec "$ACAV_PYTHON" -m acav evaluate linear "$@" ;;
  download) exec "$ACAV_PYTHON" -m acav evaluate download "$@" ;;
  proof)
    proof="$DATA_DIR/proof"
    mkdir -p "$proof"
    printf 'demo:\n  num_videos: 160\n  seed: 0\nsubset_selection:\n  ratio: 0.4\n' > "$proof/pool.yaml"
    printf 'demo:\n  num_videos: 48\n  seed: 1\n' > "$proof/heldout.yaml"
    DATA_DIR="$proof/pool" ACAV_CONFIG="$proof/pool.yaml" bash "$ROOT/run.sh" --demo
    DATA_DIR="$proof/heldout" ACAV_CONFIG="$proof/heldout.yaml" bash "$ROOT/run.sh" --demo --to clip_segmentation --no-export
    exec "$ACAV_PYTHON" -m acav evaluate proof --pool "$proof/pool" --heldout "$proof/heldout" --out "$proof/results" "$@" ;;
  -h|--help|"") sed -n '2,12p' "$0"; [ -n "$command" ] ;;
  *) echo "evaluation/code/run.sh: unknown command '$command' (try --help)" >&2; exit 2 ;;
esac
