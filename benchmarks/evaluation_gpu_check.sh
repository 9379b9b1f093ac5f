#!/usr/bin/env bash
# Evaluation GPU check (a few minutes on one GPU): generated clips -> stage-3 shards -> acav export
# (curated + random twin) -> pretraining of the FULL models (slow-only R50 + audio R50, batch 16,
# 32 frames of 224x224, 80x128 log-mel) on CUDA, with torchrun/DDP over all visible GPUs, stopped
# and resumed -> linear probe of the frozen FULL encoders (10 clips x 3 crops) -> steps/s, clips/s
# and peak GPU memory.
#
#   bash benchmarks/evaluation_gpu_check.sh                     # on a GPU machine
#   bash benchmarks/evaluation_gpu_check.sh --device cpu --model small --clips 8 --steps 4 --batch-size 4
#                                                               # plumbing check without a GPU
# Options: --device cuda|cpu  --model full|small  --clips N (generated clips)  --steps N  --batch-size N
#          --keep (keep the work directory)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
device=cuda model=full clips=48 steps=20 batch=16 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device="$2"; shift ;;
    --model) model="$2"; shift ;;
    --clips) clips="$2"; shift ;;
    --steps) steps="$2"; shift ;;
    --batch-size) batch="$2"; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "evaluation_gpu_check.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
PY="${ACAV_PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"; else PY="$(command -v python3)"; fi
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" ACAV_PROGRESS=0
WORK="$(mktemp -d -t acav-eval-gpu-check-XXXXXX)"
if [ "$keep" = 1 ]; then echo "work directory kept: $WORK"; else trap 'rm -rf "$WORK"' EXIT; fi
T0=$SECONDS
step() { echo; echo "== [$((SECONDS - T0)) s] $*"; }

gpus=1 workers=2
if [ "$device" = cuda ]; then
  gpus="$("$PY" -c 'import torch; print(torch.cuda.device_count())')"
  [ "$gpus" -ge 1 ] || { echo "evaluation_gpu_check: no CUDA device visible" >&2; exit 1; }
  workers=6
fi
[ $((batch % gpus)) = 0 ] || { echo "evaluation_gpu_check: --batch-size $batch not divisible by $gpus GPUs" >&2; exit 2; }

step "generating $clips clips of 10 s at 320x240 in stage-3 shards; output.csv = every other clip"
"$PY" benchmarks/feature_extraction.py --make-data "$WORK/data" --shards 2 --clips $((clips / 2)) --seconds 10 --size 320x240
"$PY" - "$WORK/data" <<'PYEOF'
import csv, json, sys
from pathlib import Path
data = Path(sys.argv[1])
rows = []
for index in sorted(data.glob("videos/shard-*.json")):
    for i, entry in enumerate(json.loads(index.read_text())):
        if i % 2 == 0:
            rows.append([index.stem, entry["filename"], entry["id"], str(list(entry["segment"]))])
with open(data / "output.csv", "w", newline="") as handle:
    csv.writer(handle, lineterminator="\n").writerows(rows)
print(f"output.csv: {len(rows)} clips")
PYEOF

step "acav export (curated + random twin, 4 shards each so that every process gets shards)"
per_shard=$(( (clips / 2 + 3) / 4 ))
"$PY" -m acav export --data-dir "$WORK/data" --random-subset --clips-per-shard "$per_shard"

run_pretrain() {
  local args=(evaluate pretrain --shards "$WORK/data/export/curated" --out "$WORK/run" --model "$model"
    --batch-size "$batch" --steps "$steps" --warmup-steps 5 --checkpoint-every $((steps / 2)) --log-every 5
    --device "$device" --workers "$workers" --shuffle-buffer 16 "$@")
  if [ "$gpus" -gt 1 ]; then
    "$PY" -m torch.distributed.run --standalone --nproc_per_node="$gpus" -m acav "${args[@]}"
  else
    "$PY" -m acav "${args[@]}"
  fi
}
step "pretraining the $model models on $device ($gpus process(es)), first half of $steps steps"
run_pretrain --steps $((steps / 2))
step "resuming to step $steps (must continue from the checkpoint, not restart)"
run_pretrain
"$PY" - "$WORK/run" "$steps" <<'PYEOF'
import json, sys
from pathlib import Path
run, steps = Path(sys.argv[1]), int(sys.argv[2])
log = [json.loads(l) for l in (run / "pretrain.log.jsonl").read_text().splitlines()]
done = sorted(p.name for p in (run / "checkpoints").glob("step-*.pt"))
assert done[-1] == f"step-{steps:07d}.pt", done
assert all(r["loss"] == r["loss"] for r in log), "non-finite loss"
print("checkpoints:", done)
print("loss by step:", [(r["step"], r["loss"]) for r in log])
PYEOF

step "linear probe of the frozen $model encoders on $device (2 arbitrary classes, 10 clips x 3 crops per test video)"
"$PY" - "$WORK" "$device" "$steps" <<'PYEOF'
import sys, tarfile, time
from pathlib import Path
import torch
from acav.evaluation.linear import Item, ProbeConfig, linear_probe
from acav.evaluation.pretrain import load_encoders
work, device, steps = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
model = load_encoders(work / "run" / "checkpoints" / f"step-{steps:07d}.pt").to(device)
clips = []
for tar_path in sorted((work / "data" / "export").glob("*/shard-*.tar")):
    with tarfile.open(tar_path) as tar:
        clips += [tar.extractfile(m).read() for m in tar if m.name.endswith(".mp4")]
items = [Item(c, i % 2, f"clip{i}") for i, c in enumerate(clips[:12])]
half = len(items) // 2
start = time.perf_counter()
result = linear_probe(model, items[:half], items[half:], 2, "both", ProbeConfig(epochs=5, batch_size=8))
seconds = time.perf_counter() - start
assert result["test_videos"] == len(items) - half and not result["failures"], result
peak = f", peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB" if device == "cuda" else ""
print(f"probe: top1 {result['top1']:.2f} (arbitrary labels) on {result['test_videos']} videos, {seconds:.1f} s{peak}")
PYEOF
grep -h '"seconds"' "$WORK/run/pretrain.log.jsonl" | tail -1
echo "evaluation_gpu_check: OK"
echo "== done in $((SECONDS - T0)) s"
