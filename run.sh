#!/usr/bin/env bash
# Run the six curation stages in order; stop at the first one that fails; then write the run report.
#
#   bash ./run.sh                  # the pipeline on data/ (or $DATA_DIR), starting from data/metadata.tsv
#   bash ./run.sh --demo           # generate the offline demo under data/demo/ and run everything on it,
#                                  # then report how well the selection found the matching clips
#   bash ./run.sh --from clustering --to subset_selection   # a range of stages
#   bash ./run.sh --no-export      # skip the export of the selection as WebDataset shards (acav export)
#   bash ./run.sh --config my.yaml # options for every stage (one YAML section per stage folder name)
#   bash ./run.sh --no-report      # skip the last step, `acav report` (DATA_DIR/report.html)
#   bash ./run.sh --engine ray [--ray-address HOST:6379]  # per-item work on Ray (docs/SCALING.md)
#
# Stages: metadata_filtering video_download clip_segmentation feature_extraction clustering subset_selection
# The first run creates .venv and installs the runtime dependencies (scripts/setup.sh).
# GPUs: feature extraction uses all visible GPUs, clustering and selection the first one:
#   export CUDA_VISIBLE_DEVICES=2,3; bash ./run.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STAGES=(metadata_filtering video_download clip_segmentation feature_extraction clustering subset_selection)

die() { echo "run.sh: $*" >&2; exit 2; }

# Position of a stage in STAGES, or fail naming the valid stages (checked before anything runs).
stage_index() {
  local i
  for i in "${!STAGES[@]}"; do
    if [ "${STAGES[$i]}" = "$2" ]; then echo "$i"; return 0; fi
  done
  die "unknown stage '$2' for $1; stages: ${STAGES[*]}"
}

demo=0
export_step=1
report=1
from="${STAGES[0]}"
to="${STAGES[${#STAGES[@]}-1]}"
config=""
while [ $# -gt 0 ]; do
  opt="$1"
  value=""
  has_value=0
  case "$opt" in
    --*=*) value="${opt#*=}"; opt="${opt%%=*}"; has_value=1 ;;
  esac
  case "$opt" in
    --from|--to|--config|--engine|--ray-address)
      if [ "$has_value" = 0 ]; then
        if [ $# -lt 2 ] || [ -z "$2" ] || [ "${2#--}" != "$2" ]; then
          die "$opt needs a value (try --help)"
        fi
        value="$2"
        shift
      fi
      [ -n "$value" ] || die "$opt needs a value (try --help)"
      case "$opt" in
        --from) from="$value" ;;
        --to) to="$value" ;;
        --config) config="$value" ;;
        --engine)
          case "$value" in local|ray) ;; *) die "--engine $value: choose local or ray" ;; esac
          export ACAV_ENGINE="$value" ;;  # read by every stage (acav/engine)
        --ray-address) export ACAV_RAY_ADDRESS="$value" ;;
      esac
      ;;
    --demo|--no-report|--no-export|-h|--help)
      [ "$has_value" = 0 ] || die "$opt takes no value"
      case "$opt" in
        --demo) demo=1 ;;
        --no-report) report=0 ;;
        --no-export) export_step=0 ;;
        *) sed -n '2,17p' "$0"; exit 0 ;;
      esac
      ;;
    *) die "unknown option '$1' (try --help)" ;;
  esac
  shift
done

first=$(stage_index --from "$from")
last=$(stage_index --to "$to")
if [ "$first" -gt "$last" ]; then
  die "--from $from comes after --to $to; stages run in this order: ${STAGES[*]}"
fi
if [ -n "$config" ]; then
  [ -f "$config" ] || die "--config $config: no such file"
  config="$(cd "$(dirname "$config")" && pwd)/$(basename "$config")"
  export ACAV_CONFIG="$config"  # every stage (and `acav demo`, `acav report`) reads its section
fi

source "$ROOT/scripts/env.sh"
if [ "$demo" = 1 ] && [ "$DATA_DIR" = "$ROOT/data" ]; then
  export DATA_DIR="$ROOT/data/demo"
fi
case "$DATA_DIR" in
  *://*) ;;  # object storage (s3://bucket/prefix): each acav command stages it (docs/SCALING.md)
  *) mkdir -p "$DATA_DIR" ;;
esac
export ACAV_SKIP_SETUP=1 ACAV_PYTHON  # set up once here, not again in every stage
# One run, one set of once-per-run notices (e.g. "no GPU is visible"), however many stages ask.
ACAV_RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/acav-run.XXXXXX")"
export ACAV_RUN_DIR
trap 'rm -rf "$ACAV_RUN_DIR"' EXIT

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

for stage in "${STAGES[@]:$first:$((last - first + 1))}"; do
  echo "==> $stage" >&2
  extra=()
  [ "$demo" = 1 ] && demo_args "$stage"
  if ! bash "$ROOT/$stage/code/run.sh" "${extra[@]}"; then
    echo "run.sh: stage '$stage' failed; fix the error above and re-run (finished work is kept): bash ./run.sh --from $stage$([ "$demo" = 1 ] && echo ' --demo')" >&2
    exit 1
  fi
done

if [ "$demo" = 1 ] && [ "$to" = "${STAGES[${#STAGES[@]}-1]}" ]; then
  "$ACAV_PYTHON" -m acav demo report --data-dir "$DATA_DIR"
fi
if [ "$export_step" = 1 ] && [ "$to" = "${STAGES[${#STAGES[@]}-1]}" ]; then
  echo "==> export (skip with --no-export)" >&2
  "$ACAV_PYTHON" -m acav export --data-dir "$DATA_DIR" $([ "$demo" = 1 ] && echo --random-subset)
fi
if [ "$report" = 1 ]; then
  echo "==> report" >&2
  if ! "$ACAV_PYTHON" -m acav report --data-dir "$DATA_DIR"; then
    echo "run.sh: the report failed (the stages' outputs are complete); retry with: acav report --data-dir $DATA_DIR" >&2
    exit 1
  fi
fi
