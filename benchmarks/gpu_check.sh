#!/usr/bin/env bash
# Stage-4 GPU check (about 2-5 minutes on one GPU, well under 8): generates clips and shards, runs
# the real architectures (SlowFast 8x8 R50 + VGGish, RANDOM weights) on CUDA with bf16 autocast,
# pinned-memory staging and DataLoader decoding workers, checks the feature shards and prints clips/s.
#
#   bash benchmarks/gpu_check.sh                        # on a GPU machine (CUDA_VISIBLE_DEVICES honoured)
#   bash benchmarks/gpu_check.sh --device cpu --shards 1 --clips 2 --seconds 2 --size 160x120 --batch-size 2
#                                                       # plumbing check without a GPU (slow models on CPU)
# Options: --device cuda|cpu  --shards N  --clips N (per shard)  --seconds S  --size WxH  --batch-size N
#          --workers N (decoding workers; default: auto)  --keep (keep the work directory)
# Python: $ACAV_PYTHON, else .venv/bin/python, else python3 (needs torch, av, numpy, pyyaml, tqdm, braceexpand).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

device=cuda shards=4 clips=32 seconds=10 size=320x240 batch=16 workers=-1 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device="$2"; shift ;;
    --shards) shards="$2"; shift ;;
    --clips) clips="$2"; shift ;;
    --seconds) seconds="$2"; shift ;;
    --size) size="$2"; shift ;;
    --batch-size) batch="$2"; shift ;;
    --workers) workers="$2"; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

PY="${ACAV_PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"; else PY="$(command -v python3)"; fi
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" ACAV_PROGRESS=0
WORK="$(mktemp -d -t acav-gpu-check-XXXXXX)"
if [ "$keep" = 1 ]; then echo "work directory kept: $WORK"; else trap 'rm -rf "$WORK"' EXIT; fi
T0=$SECONDS
step() { echo; echo "== [$((SECONDS - T0)) s] $*"; }

step "environment"
"$PY" - "$device" <<'EOF'
import sys
import torch
import av  # noqa: F401  (decoding)
device = sys.argv[1]
print(f"python {sys.version.split()[0]}, torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}, "
      f"visible GPUs: {torch.cuda.device_count()}")
for i in range(torch.cuda.device_count()):
    print(f"  cuda:{i}: {torch.cuda.get_device_name(i)}, bf16 supported: {torch.cuda.is_bf16_supported()}")
if device.startswith("cuda") and not torch.cuda.is_available():
    sys.exit("gpu_check: --device cuda but no CUDA device is visible (check the driver and CUDA_VISIBLE_DEVICES)")
EOF

step "generating $shards shard(s) x $clips clips of ${seconds} s at $size"
"$PY" benchmarks/feature_extraction.py --make-data "$WORK/data" --shards "$shards" --clips "$clips" \
  --seconds "$seconds" --size "$size"

step "model-only throughput on $device (random inputs, bf16 autocast on CUDA)"
timeout 240 "$PY" - "$device" "$batch" <<'EOF'
import sys
import time
import torch
from acav.feature_extraction.base import ExtractorOptions, create_extractor

device, batch = torch.device(sys.argv[1]), int(sys.argv[2])
options = ExtractorOptions(allow_random_weights=True, autocast=True)
rng = torch.Generator().manual_seed(0)
frames = torch.randint(0, 256, (32, 256, 256, 3), dtype=torch.uint8, generator=rng)
examples = torch.randn(10, 96, 64, generator=rng).numpy()  # one 10 s clip = 10 VGGish examples
rounds = 5 if device.type == "cuda" else 1
for name, item in (("slowfast_r50", frames), ("vggish", examples)):
    extractor = create_extractor(name, options)
    extractor.load(device)
    inputs = [item] * batch
    extractor.forward(inputs)  # warm-up: cuDNN autotuning, lazy initialisation
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(rounds):
        out = extractor.forward(inputs)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    widths = [o.shape[1] for o in out]
    assert widths == list(extractor.layer_widths), widths
    assert all(bool(torch.isfinite(torch.from_numpy(o)).all()) for o in out), f"{name}: non-finite features"
    peak = f", peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB" if device.type == "cuda" else ""
    print(f"{name:>13} on {device}, batch {batch}: {rounds * batch / seconds:9.2f} clips/s "
          f"({rounds} x {batch} clips in {seconds:.2f} s{peak}); widths {widths}")
    del extractor
    if device.type == "cuda":
        torch.cuda.empty_cache()
EOF

step "end to end: acav extract with slowfast_r50 + vggish (random weights) on $device"
timeout 300 "$PY" -m acav extract --data-dir "$WORK/data" --device "$device" --batch-size "$batch" \
  --num-workers "$workers" --allow-random-weights --dtype float16 2>&1 | grep -v '^!!' || {
  echo "gpu_check: the extraction failed or timed out" >&2; exit 1; }

step "end to end: weight-free pair (basic_visual + basic_audio) on the same shards"
timeout 180 "$PY" -m acav extract --data-dir "$WORK/data" --device "$device" --batch-size "$batch" \
  --num-workers "$workers" --visual-extractor basic_visual --audio-extractor basic_audio \
  --output-dir "$WORK/basic" -q

step "checking the outputs"
"$PY" - "$WORK" <<'EOF'
import sys
from pathlib import Path
from acav.core.records import read_jsonl
from acav.core.safe_pickle import safe_load

work = Path(sys.argv[1])
for label, out, widths in (
    ("slowfast_r50+vggish", work / "data" / "features", ([88, 352, 704, 1408, 2304], [64, 128, 256, 512, 128])),
    ("basic_visual+basic_audio", work / "basic", ([108, 64, 64, 48, 48], [64, 35, 45, 40, 52])),
):
    log = list(read_jsonl(out / "extract.log.jsonl"))
    shards = [r for r in log if r.get("event") == "shard"]
    end = [r for r in log if r.get("event") == "run_end"][-1]
    clips = sum(r["written"] for r in shards)
    failed = sum(r["failed"] for r in shards)
    busy = sum(r["seconds"] for r in shards)
    for name in sorted(r["shard"] for r in shards):
        records = safe_load(out / f"{name}.pkl")
        for rec in records:
            got = ([rec["video_features"][0]["array"][f"layer_{i}"].shape[0] for i in range(5)],
                   [rec["audio_features"][0]["array"][f"layer_{i}"].shape[0] for i in range(5)])
            assert got == widths, (name, rec["filename"], got)
    per_shard = ", ".join(f"{r['clips_per_s']:.1f}" for r in shards)
    print(f"{label:>25}: {clips} clips, {failed} failed, device {shards[0]['device'] if shards else '?'}; "
          f"{clips / end['seconds']:.2f} clips/s wall incl. start-up, {clips / busy:.2f} clips/s in shards "
          f"(per shard: {per_shard})")
    if failed or clips == 0:
        sys.exit(f"gpu_check: {label}: {failed} failed clip(s), {clips} written; see {out}/extract.log.jsonl")
print("gpu_check: OK")
EOF
echo "== done in $((SECONDS - T0)) s"
