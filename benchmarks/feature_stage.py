"""Stage 4 as a whole process: ``acav extract`` against a model of the original release's pipeline.

    nice python benchmarks/feature_stage.py                       # 8 clips of 10 s, 320x240, 2 rounds
    nice python benchmarks/feature_stage.py --clips 16 --rounds 3 --size 640x360

Both sides are separate processes started the same way and timed the same way (CPU seconds of
the process and of the processes it waited for, from ``os.wait4``; peak RSS of its largest
process), rounds interleaved (the order alternates), on the same generated WebDataset shard and
the same random model weights (written once to a weights directory both load), so only the
pipeline around the models differs:

* ours: ``python -m acav extract`` as a user runs it (``--threads 1 --workers 1``: 1 decoding
  worker and 1 torch thread; and ``--workers -1``: decoding in the main process, which is now the
  default on a CPU with these networks);
* the release model (``--release-run``, this file): its per-clip steps as the release ran them
  (feature_extraction/code/data/video.py, models/slowfast.py, models/vggish.py and
  models/utils_*), written here independently: the clip written to a temp file and opened with
  PyAV, every video frame decoded and converted to full-size RGB, then 32 frames chosen with
  ``linspace(0, T - 1, 32)``; the audio decoded in a second pass over the file; SlowFast input
  normalised in float at full size, short side scaled to 256 (bilinear), top/left 256 crop,
  slow pathway by ``linspace``; VGGish examples by torchvggish's front end (mono mean, resampy
  to 16 kHz, log-mel, 0.96 s examples); batches of ``--batch-size`` clips through the same
  models (SlowFast pooled by the release's head-pool rule); decoding in the main process, 1
  decoder thread and 1 torch thread.

Ours runs with ``--slowfast-crop start --slowfast-pooling acav100m`` (the release's choices), so
the two differ only where the decoding differs by design (where and how the frames are resized,
how the audio is resampled); the features are compared after the runs (shapes must agree; the
relative distance per layer is printed next to that between different clips). Random weights: the numbers are about speed only.
Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

RELEASE_FRAMES = 32  # data.media.num_frames in the release's config.py
RELEASE_DURATION = 10.0  # acav.duration: frames and audio read up to 10 s
RELEASE_SKIP_SHORTER = RELEASE_DURATION / 4  # acav.skip_shorter_ratio
SLOWFAST_SIDE = 256  # PySlowFast SLOWFAST_8x8_R50 TEST_CROP_SIZE
SLOWFAST_MEAN = (0.45, 0.45, 0.45)
SLOWFAST_STD = (0.225, 0.225, 0.225)
SLOWFAST_ALPHA = 4


# --------------------------------------------------------------------------------------------
# The release model (runs in its own process: ``--release-run``)
# --------------------------------------------------------------------------------------------
def release_read(path: str, end_s: float) -> tuple[list[Any], list[Any], float, int]:
    """PyAV frames as the release read them: the video stream, then the audio stream in a second pass."""
    import av

    with av.open(path, metadata_errors="ignore") as container:
        video_stream = container.streams.video[0]
        video_stream.thread_count = 1  # one thread, as the other side of the comparison
        video = [f for f in container.decode(video_stream) if f.time is None or f.time <= end_s]
        fps = float(video_stream.average_rate)
        audio: list[Any] = []
        rate = 0
        if container.streams.audio:
            audio_stream = container.streams.audio[0]
            container.seek(0)
            audio = [f for f in container.decode(audio_stream) if f.time is None or f.time <= end_s]
            rate = int(audio_stream.rate)
    return video, audio, fps, rate


def release_audio(frames: list[Any], end_s: float) -> np.ndarray:
    """Audio frames concatenated (channels first), cut at ``end_s`` by the frames' pts, channels last."""
    samples = np.concatenate([f.to_ndarray() for f in frames], axis=1)
    first, last = frames[0].pts, frames[-1].pts
    step = (last - first + 1) / samples.shape[1]
    ref_end = int(math.ceil(end_s / float(frames[-1].time_base)))
    stop = samples.shape[1] if last <= ref_end else int((ref_end - last) / step)
    return samples[:, :stop].T


def release_slowfast_input(frames: Any) -> tuple[Any, Any]:
    """uint8 [T, H, W, 3] -> (slow, fast) float [3, T', 256, 256], in PySlowFast's order of steps."""
    import torch
    import torch.nn.functional as F

    x = frames.float() / 255.0
    x = (x - torch.tensor(SLOWFAST_MEAN)) / torch.tensor(SLOWFAST_STD)
    x = x.permute(3, 0, 1, 2)  # C T H W
    h, w = x.shape[2:]
    if not ((w <= h and w == SLOWFAST_SIDE) or (h <= w and h == SLOWFAST_SIDE)):
        if w < h:
            size = (int(math.floor(h / w * SLOWFAST_SIDE)), SLOWFAST_SIDE)
        else:
            size = (SLOWFAST_SIDE, int(math.floor(w / h * SLOWFAST_SIDE)))
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    h, w = x.shape[2:]
    top, left = int(math.ceil((h - SLOWFAST_SIDE) / 2)), int(math.ceil((w - SLOWFAST_SIDE) / 2))
    if h > w:  # spatial_idx 0: the top crop of a portrait frame, the left crop of a landscape one
        top = 0
    else:
        left = 0
    fast = x[:, :, top : top + SLOWFAST_SIDE, left : left + SLOWFAST_SIDE]
    t = fast.shape[1]
    slow = fast.index_select(1, torch.linspace(0, t - 1, t // SLOWFAST_ALPHA).long())
    return slow, fast


def release_clip(data: bytes, front_end: Any) -> tuple[Any, Any, Any] | None:
    """One clip's (slow, fast, vggish examples), or None where the release dropped it."""
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "sample.mp4")
        with open(path, "wb") as handle:
            handle.write(data)
        video, audio, fps, rate = release_read(path, RELEASE_DURATION)
    if not video or not audio:
        return None
    rgb = torch.as_tensor(np.stack([f.to_rgb().to_ndarray() for f in video]))  # every frame, full size
    if rgb.shape[0] / fps < RELEASE_SKIP_SHORTER:
        return None
    picked = rgb.index_select(0, torch.linspace(0, rgb.shape[0] - 1, RELEASE_FRAMES).long())
    slow, fast = release_slowfast_input(picked)
    examples = front_end(release_audio(audio, RELEASE_DURATION), rate)
    if examples.numel() == 0:
        return None
    return slow, fast, examples


def release_batch(rows: list[tuple[str, Any]], slowfast: Any, vggish: Any) -> dict[str, Any]:
    """Features of a batch, layer lists per clip: SlowFast on the stacked pathways, VGGish per clip mean."""
    import torch

    with torch.no_grad():
        slow = torch.stack([r[1][0] for r in rows])
        fast = torch.stack([r[1][1] for r in rows])
        video = [layer.numpy() for layer in slowfast.forward_pooled(slow, fast, pooling="acav100m")]
        counts = {r[1][2].shape[0] for r in rows}
        if len(counts) == 1:  # the release stacked equal-length clips and ran them as one batch
            examples = torch.cat([r[1][2] for r in rows])
            n = counts.pop()
            audio = [
                layer.reshape(len(rows), n, -1).mean(1).numpy() for layer in vggish.forward_pooled(examples)
            ]
        else:  # otherwise it looped over the clips
            per_clip = [[layer.mean(0).numpy() for layer in vggish.forward_pooled(r[1][2])] for r in rows]
            audio = [np.stack([clip[i] for clip in per_clip]) for i in range(len(per_clip[0]))]
    return {
        name: {"video": [v[i] for v in video], "audio": [a[i] for a in audio]}
        for i, (name, _) in enumerate(rows)
    }


def release_run(videos: Path, out: Path, weights: Path, batch_size: int) -> int:
    import torch

    torch.set_num_threads(1)
    from feature_models import import_torchvggish

    from acav.feature_extraction.models.slowfast import build_slowfast
    from acav.feature_extraction.models.vggish import build_vggish

    torchvggish = import_torchvggish()
    if torchvggish is None:
        print("torchvggish (the release's audio front end) is not installed", file=sys.stderr)
        return 2
    front_end = torchvggish.vggish_input.waveform_to_examples
    slowfast = build_slowfast(weights / "SLOWFAST_8x8_R50.pyth", False, pooling="acav100m")
    vggish = build_vggish(weights / "vggish-10086976.pth", False)
    features: dict[str, Any] = {}
    rows: list[tuple[str, Any]] = []
    split = {"decode and prepare": 0.0, "models": 0.0}  # CPU s of this (one-thread) process
    for shard in sorted(videos.glob("shard-*.tar")):
        with tarfile.open(shard) as tar:
            for member in tar:
                if not member.name.endswith(".mp4"):
                    continue
                handle = tar.extractfile(member)
                start = time.process_time()
                clip = release_clip(handle.read(), front_end) if handle else None
                split["decode and prepare"] += time.process_time() - start
                if clip is not None:
                    rows.append((member.name, clip))
                if len(rows) == batch_size:
                    start = time.process_time()
                    features.update(release_batch(rows, slowfast, vggish))
                    split["models"] += time.process_time() - start
                    rows = []
    if rows:
        start = time.process_time()
        features.update(release_batch(rows, slowfast, vggish))
        split["models"] += time.process_time() - start
    with open(out, "wb") as handle:
        pickle.dump(features, handle)
    out.with_suffix(".split.json").write_text(json.dumps(split))
    return 0


# --------------------------------------------------------------------------------------------
# The driver
# --------------------------------------------------------------------------------------------
def write_weights(directory: Path, seed: int) -> dict[str, str]:
    """Seeded random weights in the canonical file names; returns the env pinning their SHA-256."""
    import torch

    from acav.feature_extraction.models.slowfast import SlowFastR50
    from acav.feature_extraction.models.vggish import VGGish
    from acav.feature_extraction.models.weights import sha256_of

    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    slowfast, vggish = directory / "SLOWFAST_8x8_R50.pyth", directory / "vggish-10086976.pth"
    torch.save({"model_state": SlowFastR50().state_dict()}, slowfast)
    torch.save(VGGish().state_dict(), vggish)
    return {"ACAV_SLOWFAST_SHA256": sha256_of(slowfast), "ACAV_VGGISH_SHA256": sha256_of(vggish)}


def timed(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, float, float]:
    """Run ``cmd``; (CPU s of it and its reaped children, peak RSS MiB of its largest process, wall s)."""
    start = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}); see {log}:\n{log.read_text()[-3000:]}")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, wall


def ours_features(out_dir: Path) -> dict[str, Any]:
    features = {}
    for path in sorted(out_dir.glob("shard-*.pkl")):
        with open(path, "rb") as handle:
            for rec in pickle.load(handle):
                layers = {kind: rec[f"{kind}_features"][0]["array"] for kind in ("video", "audio")}
                features[rec["filename"]] = {
                    k: [v[f"layer_{i}"] for i in range(len(v))] for k, v in layers.items()
                }
    return features


def per_clip_only(videos: Path, rounds: int) -> None:
    """Decoding and per-clip preparation alone, in this process, one thread, rounds interleaved.

    Ours: the stage's per-clip worker function (``process_clip``: frames, audio, both ``prepare``) as a
    decoding worker runs it (1 decoder thread); the release model: :func:`release_clip`. This is
    the part that stays on the CPU when the models run on a GPU.
    """
    import torch
    from feature_models import import_torchvggish

    import acav.feature_extraction.dataset as dataset
    from acav.feature_extraction.base import ExtractorOptions, create_extractor

    torch.set_num_threads(1)
    dataset.DECODE_THREADS = 1  # what worker_init sets in a decoding worker
    options = ExtractorOptions(extra={"slowfast_crop": "start", "slowfast_pooling": "acav100m"})
    visual, audio = create_extractor("slowfast_r50", options), create_extractor("vggish", options)
    front_end = import_torchvggish().vggish_input.waveform_to_examples
    clips = []
    for shard in sorted(videos.glob("shard-*.tar")):
        with tarfile.open(shard) as tar:
            clips += [(m.name, tar.extractfile(m).read()) for m in tar if m.name.endswith(".mp4")]
    sides = {
        "ours (process_clip)": lambda name, data: dataset.process_clip(data, name, visual, audio),
        "release model (release_clip)": lambda name, data: release_clip(data, front_end),
    }
    times: dict[str, list[float]] = {name: [] for name in sides}
    for r in range(rounds):
        for name in list(sides) if r % 2 == 0 else list(sides)[::-1]:
            start = time.process_time()
            for clip_name, data in clips:
                sides[name](clip_name, data)
            times[name].append(time.process_time() - start)
    base = statistics.median(times["release model (release_clip)"])
    print(f"\ndecode and per-clip preparation only, in one process, 1 thread, median of {rounds} rounds:")
    for name, runs in times.items():
        cpu = statistics.median(runs)
        print(
            f"  {name:30s} {cpu:6.2f} CPU-s ({cpu / len(clips):5.3f} per clip)  release model / this {base / cpu:5.2f}x"
        )


def compare(ours: dict[str, Any], release: dict[str, Any]) -> None:
    """Shapes must agree; print the relative distance per layer, against that between different clips."""
    common = sorted(set(ours) & set(release))
    print(f"\nfeatures: ours {len(ours)} clips, release model {len(release)} clips, {len(common)} in both")
    if len(common) != len(ours) or len(common) != len(release):
        raise SystemExit("the two sides did not keep the same clips")
    for kind in ("video", "audio"):
        for i in range(len(ours[common[0]][kind])):
            a = np.stack([ours[n][kind][i] for n in common]).astype(np.float64)
            b = np.stack([release[n][kind][i] for n in common]).astype(np.float64)
            if a.shape != b.shape:
                raise SystemExit(f"{kind} layer_{i}: shapes differ, ours {a.shape}, release {b.shape}")
            rel = np.linalg.norm(a - b, axis=1) / np.maximum(np.linalg.norm(b, axis=1), 1e-30)
            # Yardstick: the same distance between different clips (release features, rolled by one).
            other = np.linalg.norm(b - np.roll(b, 1, axis=0), axis=1) / np.maximum(
                np.linalg.norm(b, axis=1), 1e-30
            )
            print(f"  {kind} layer_{i}: width {a.shape[1]:5d}, |ours - release| / |release| median "
                  f"{np.median(rel):.4f} max {rel.max():.4f} (between different clips: median {np.median(other):.4f})")  # fmt: skip


def whole_process(args: argparse.Namespace, data_dir: Path, env: dict[str, str]) -> None:
    """``acav extract`` and the release model as processes, rounds interleaved; then their features compared."""
    extract = [sys.executable, "-m", "acav", "extract", "--data-dir", str(data_dir), "--weights-dir",
               str(data_dir / "weights"), "--batch-size", str(args.batch_size), "--slowfast-crop", "start",
               "--slowfast-pooling", "acav100m", "--overwrite", "--device", "cpu", "-q", "--threads", "1"]  # fmt: skip
    release = [sys.executable, str(Path(__file__).resolve()), "--batch-size", str(args.batch_size),
               "--release-run", str(data_dir / "videos"), str(data_dir / "release.pkl"),
               str(data_dir / "weights")]  # fmt: skip
    sides = {
        # 1 decoding worker beside a 1-thread model (before 1 Dec the default at --threads 1; the
        # default now decodes in the main process with a network: the --workers -1 side)
        "ours --threads 1": [*extract, "--workers", "1", "--output-dir", str(data_dir / "ours")],
        "ours --threads 1 --workers -1": [
            *extract,
            "--workers",
            "-1",
            "--output-dir",
            str(data_dir / "ours_main"),
        ],
        "release model": release,
    }
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in sides}
    names = list(sides)
    for r in range(args.rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            cpu, rss, wall = timed(sides[name], env, data_dir / f"log-{r}-{len(results[name])}.txt")
            results[name].append((cpu, rss, wall))
            print(f"round {r + 1}: {name:30s} CPU {cpu:7.2f} s  peak RSS {rss:6.0f} MiB  wall {wall:6.1f} s",
                  flush=True)  # fmt: skip
    base = statistics.median(c for c, _, _ in results["release model"])
    print(f"\nmedian over {args.rounds} rounds ({args.clips} clips; CPU incl. children):")
    for name, runs in results.items():
        cpu = statistics.median(c for c, _, _ in runs)
        rss = max(m for _, m, _ in runs)
        print(f"  {name:30s} {cpu:7.2f} CPU-s ({cpu / args.clips:5.2f} per clip)  peak RSS {rss:6.0f} MiB  "
              f"release model / this {base / cpu:5.2f}x")  # fmt: skip
    split = json.loads((data_dir / "release.split.json").read_text())
    print("  release model, last run: " + ", ".join(f"{k} {v:.2f} CPU-s" for k, v in split.items())
          + " (the rest: start-up, imports, model building)")  # fmt: skip
    with open(data_dir / "release.pkl", "rb") as handle:
        release = pickle.load(handle)
    compare(ours_features(data_dir / "ours"), release)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=8, help="generated clips (one shard)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--size", default="320x240", help="generated video size WxH")
    parser.add_argument("--audio-rate", type=int, default=44100, help="soundtrack sample rate of the clips")
    parser.add_argument("--batch-size", type=int, default=8, help="clips per model call, both sides")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--per-clip-rounds", type=int, default=3, help="rounds of the decode/prepare-only part (0: skip)"
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the data here (default: temp dir)")
    parser.add_argument("--release-run", nargs=3, type=Path, metavar=("VIDEOS", "OUT", "WEIGHTS"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    if args.release_run:
        return release_run(*args.release_run, args.batch_size)

    from feature_extraction import make_data

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="acav-feature-stage-"))
    try:
        size = tuple(int(v) for v in args.size.lower().split("x"))
        t0 = time.perf_counter()
        make_data(data_dir, 1, args.clips, args.seconds, size, args.audio_rate)  # type: ignore[arg-type]
        shutil.rmtree(data_dir / "bench_clips", ignore_errors=True)
        env = {**os.environ, **write_weights(data_dir / "weights", seed=0), "ACAV_PROGRESS": "0",
               "PYTHONPATH": str(ROOT)}  # fmt: skip
        print(f"# {args.clips} clips of {args.seconds:g} s at {args.size}, audio {args.audio_rate} Hz, "
              f"batch {args.batch_size}, random weights (seed 0); data in {time.perf_counter() - t0:.1f} s")  # fmt: skip
        if args.rounds > 0:
            whole_process(args, data_dir, env)
        if args.per_clip_rounds > 0:
            per_clip_only(data_dir / "videos", args.per_clip_rounds)
        return 0
    finally:
        if args.data_dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
