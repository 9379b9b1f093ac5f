#!/usr/bin/env bash
# Run the six curation stages in order; stop at the first one that fails.
#
#   bash ./run.sh                  # the pipeline on data/ (or $DATA_DIR), starting from data/metadata.tsv
#   bash ./run.sh --demo           # generate the offline demo under data/demo/ and run everything on it,
#                                  # then report how well the selection found the matching clips
#   bash ./run.sh --from clustering --to subset_selection   # a range of stages
#   bash ./run.sh --no-export      # skip the export of the selection as WebDataset shards (acav export)
#
# The first run creates .venv and installs the dependencies (scripts/setup.sh).
# GPUs: every stage that can use one uses all visible GPUs: export CUDA_VISIBLE_DEVICES=2,3; bash ./run.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STAGES=(metadata_filtering video_download clip_segmentation feature_extraction clustering subset_selection)

demo=0
export_step=1
from="${STAGES[0]}"
to="${STAGES[${#STAGES[@]}-1]}"
while [ $# -gt 0 ]; do
  case "$1" in
    --demo) demo=1 ;;
    --no-export) export_step=0 ;;
    --from) from="$2"; shift ;;
    --to) to="$2"; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

source "$ROOT/scripts/env.sh"
if [ "$demo" = 1 ] && [ "$DATA_DIR" = "$ROOT/data" ]; then
  export DATA_DIR="$ROOT/data/demo"
fi
mkdir -p "$DATA_DIR"
export ACAV_SKIP_SETUP=1 ACAV_PYTHON  # set up once here, not again in every stage

# Extra arguments per stage in demo mode: local source videos instead of YouTube, small shards
# (so the multi-shard paths run), the weight-free extractors (pretrained weights cannot be
# downloaded offline), and 10 clusters instead of 32: the demo has ~200 clips in 6 classes, and
# with 32 clusters nearly every clip gets its own cluster pair, which hides the correspondence.
demo_args() {
  case "$1" in
    video_download) extra=(--source-dir "$DATA_DIR/source_videos") ;;
    clip_segmentation) extra=(--clips-per-shard 64) ;;
    feature_extraction) extra=(--visual-extractor basic_visual --audio-extractor basic_audio) ;;
    clustering) extra=(--ncentroids 10) ;;
  esac
}

if [ "$demo" = 1 ]; then
  echo "==> demo data in $DATA_DIR" >&2
  "$ACAV_PYTHON" -m acav demo generate --data-dir "$DATA_DIR"
fi

running=0
for stage in "${STAGES[@]}"; do
  [ "$stage" = "$from" ] && running=1
  if [ "$running" = 1 ]; then
    echo "==> $stage" >&2
    extra=()
    [ "$demo" = 1 ] && demo_args "$stage"
    if ! bash "$ROOT/$stage/code/run.sh" "${extra[@]}"; then
      echo "run.sh: stage '$stage' failed; fix the error above and re-run (finished work is kept): bash ./run.sh --from $stage$([ "$demo" = 1 ] && echo ' --demo')" >&2
      exit 1
    fi
  fi
  [ "$stage" = "$to" ] && break
done
if [ "$running" = 0 ]; then
  echo "run.sh: unknown stage '$from'; stages: ${STAGES[*]}" >&2
  exit 2
fi

if [ "$demo" = 1 ] && [ "$to" = "${STAGES[${#STAGES[@]}-1]}" ]; then
  "$ACAV_PYTHON" -m acav demo report --data-dir "$DATA_DIR"
fi
if [ "$export_step" = 1 ] && [ "$to" = "${STAGES[${#STAGES[@]}-1]}" ]; then
  echo "==> export (skip with --no-export)" >&2
  "$ACAV_PYTHON" -m acav export --data-dir "$DATA_DIR" $([ "$demo" = 1 ] && echo --random-subset)
fi
