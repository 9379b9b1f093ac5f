"""Benchmark: stage 3 shot detection + diverse clip choice, ours vs the original approach.

Original (as in the ACAV100M release): ffmpeg ``scdet`` over the full-resolution video, once per
threshold try of the annealing; then, when a video has more candidates than clips wanted, every
pair of candidates is cut to disk, compared with ffmpeg's ``signature`` filter and deleted.
Ours: one PyAV decode at 64 px short side giving cached scdet scores (annealing in memory) and
per-frame fingerprints (diversity in memory).

Both run in this process on the same generated videos (known cut times). The final clip cutting is
the same work for both and is not timed. Prints per-video cuts of both, the speed ratio, and
whether both found the same cuts.

    python benchmarks/clip_segmentation.py              # 5 videos of 60-120 s, 320x240 (a few minutes)
    python benchmarks/clip_segmentation.py --scale 2    # each video twice as long
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from acav.clip_segmentation.candidates import plan_windows  # noqa: E402
from acav.clip_segmentation.cutter import cut_clip  # noqa: E402
from acav.clip_segmentation.diversity import choose_diverse, similarity_matrix, window_descriptor  # noqa: E402
from acav.clip_segmentation.reference import ffmpeg_scdet  # noqa: E402
from acav.clip_segmentation.runner import video_seed  # noqa: E402
from acav.clip_segmentation.scores import analyse_video  # noqa: E402
from acav.clip_segmentation.shots import anneal, shots_from_cuts  # noqa: E402
from acav.clip_segmentation.signature import signature_matches  # noqa: E402
from acav.core.encode import encode_mp4  # noqa: E402
from acav.core.media import probe_media  # noqa: E402

WIDTH, HEIGHT, FPS = 320, 240, 25.0
CLIP, WANTED, THRESHOLD, FACTOR = 10.0, 3, 10.0, 1.2

# Each video: scenes of (duration s, number of low-contrast sub-shots). Scenes differ strongly
# (new texture and tint: a clear cut); sub-shots of one scene differ by a brightness step of
# ~11 % scdet score, which fragments the scene at threshold 10 and forces annealing.
VIDEOS = {
    "bench_four_": [(12, 1), (15, 1), (11, 1), (22, 1)],
    "bench_six__": [(14, 1), (4, 1), (13, 1), (16, 1), (11, 1), (12, 1), (20, 1)],
    "bench_anneal": [(24, 3), (24, 3), (24, 3), (24, 3), (24, 3)],
    "bench_three": [(25, 1), (25, 1), (25, 1)],
    "bench_many_": [(10.5, 1), (12, 1), (13, 1), (9, 1), (15, 1), (14, 1), (26.5, 1)],
}


def _texture(rng: np.random.Generator, height: int, width: int, base: float) -> np.ndarray:
    """Smooth random colour texture (bilinear upsampling of a coarse random grid) around ``base``."""
    coarse = base + rng.uniform(-35, 35, size=(6, max(8, width // 40), 3)) + rng.uniform(-25, 25, size=3)
    rows = np.linspace(0, coarse.shape[0] - 1, height)
    cols = np.linspace(0, coarse.shape[1] - 1, width)
    r0 = np.floor(rows).astype(int).clip(0, coarse.shape[0] - 2)
    c0 = np.floor(cols).astype(int).clip(0, coarse.shape[1] - 2)
    fr, fc = (rows - r0)[:, None, None], (cols - c0)[None, :, None]
    top = coarse[r0][:, c0] * (1 - fc) + coarse[r0][:, c0 + 1] * fc
    bottom = coarse[r0 + 1][:, c0] * (1 - fc) + coarse[r0 + 1][:, c0 + 1] * fc
    return top * (1 - fr) + bottom * fr


# Scene brightness levels: neighbours differ by >= 60 grey levels, a clear cut (scdet score > 20).
BASES = [70.0, 150.0, 80.0, 170.0, 95.0, 180.0, 75.0]


def make_video(path: Path, scenes: list[tuple[float, int]], seed: int, scale: float) -> list[float]:
    """Write the video; return the true cut times (every scene and sub-shot boundary)."""
    rng = np.random.default_rng(seed)
    cuts, t = [], 0.0
    plan = []
    for index, (duration, parts) in enumerate(scenes):
        duration *= scale
        frames = int(round(duration * FPS))
        texture = _texture(rng, HEIGHT, WIDTH + frames, BASES[index % len(BASES)])
        part_len = frames // parts
        for p in range(parts):
            count = part_len if p < parts - 1 else frames - part_len * (parts - 1)
            plan.append((texture, 33.0 * (p % 2), p * part_len, count))
            if t > 0:
                cuts.append(round(t, 6))
            t += count / FPS

    def frames_iter():
        for texture, shift, offset, count in plan:
            for i in range(count):
                x = offset + i  # the texture pans 1 px per frame
                yield np.clip(texture[:, x : x + WIDTH] + shift, 0, 255).astype(np.uint8)

    total = sum(count for *_, count in plan) / FPS
    tone = (0.2 * np.sin(2 * np.pi * 330 * np.arange(int(total * 16000)) / 16000)).astype(np.float32)
    encode_mp4(path, frames_iter(), width=WIDTH, height=HEIGHT, fps=FPS, audio=tone, sample_rate=16000)
    return cuts


def original(path: Path, video_id: str, tmp: Path) -> dict:
    """scdet per threshold try + one signature process per candidate pair (cut, compare, delete)."""
    duration = probe_media(path).duration
    threshold, tries = THRESHOLD, 0
    while True:
        tries += 1
        cuts = [t for t, _ in ffmpeg_scdet(path, threshold)]
        shots = shots_from_cuts(cuts, duration)
        long_shots = [s for s in shots if s[1] - s[0] >= CLIP]
        if len(long_shots) >= WANTED or threshold >= 100:
            break
        threshold = min(threshold * FACTOR, 100.0)
    starts = [a + (b - a - CLIP) / 2 for a, b in long_shots] or [max(0.0, (duration - CLIP) / 2)]
    pairs = 0
    if len(starts) > WANTED:
        sim = np.eye(len(starts)) * 1e9
        for i, j in combinations(range(len(starts)), 2):
            a, b = tmp / f"{video_id}_a.mp4", tmp / f"{video_id}_b.mp4"
            cut_clip(path, a, starts[i], CLIP)
            cut_clip(path, b, starts[j], CLIP)
            sim[i, j] = sim[j, i] = signature_matches(a, b)  # a crash counts as no match
            a.unlink()
            b.unlink()
            pairs += 1
        picked = choose_diverse(sim, WANTED, random.Random(video_seed(0, video_id)))
        starts = sorted(starts[k] for k in picked)
    return {
        "cuts": cuts,
        "threshold": threshold,
        "tries": tries,
        "starts": starts,
        "pairs": pairs,
    }


def ours(path: Path, video_id: str) -> dict:
    analysis = analyse_video(path)
    result = anneal(
        analysis.times,
        analysis.scores,
        analysis.end,
        threshold=THRESHOLD,
        factor=FACTOR,
        min_length=CLIP,
        wanted=WANTED,
    )
    windows, _ = plan_windows(analysis, result.long_shots(CLIP), CLIP)
    if len(windows) > WANTED:
        descs = [window_descriptor(analysis.fingerprints, w.first, w.last, 10) for w in windows]
        picked = choose_diverse(similarity_matrix(descs), WANTED, random.Random(video_seed(0, video_id)))
        windows = sorted((windows[k] for k in picked), key=lambda w: w.start)
    return {
        "cuts": result.cuts,
        "threshold": result.threshold,
        "tries": len(result.tries),
        "starts": [w.start for w in windows],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every shot duration")
    parser.add_argument("--work-dir", type=Path, default=None, help="keep the generated videos here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="acav-bench-seg-") as tmp_name:
        work = args.work_dir or Path(tmp_name)
        work.mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        videos = {}
        for seed, (video_id, scenes) in enumerate(VIDEOS.items()):
            path = work / f"{video_id}.mp4"
            videos[video_id] = (path, make_video(path, scenes, seed, args.scale))
        total_s = sum(probe_media(p).duration for p, _ in videos.values())
        print(
            f"generated {len(videos)} videos, {total_s:.0f} s of {WIDTH}x{HEIGHT} @ {FPS:g} fps "
            f"in {time.perf_counter() - began:.1f} s"
        )

        t_orig = t_ours = 0.0
        agree = True
        for video_id, (path, truth) in videos.items():
            start = time.perf_counter()
            a = original(path, video_id, work)
            t_a = time.perf_counter() - start
            start = time.perf_counter()
            b = ours(path, video_id)
            t_b = time.perf_counter() - start
            t_orig += t_a
            t_ours += t_b
            same = (
                len(a["cuts"]) == len(b["cuts"])
                and np.allclose(a["cuts"], b["cuts"], atol=1e-3)
                and a["tries"] == b["tries"]
            )
            agree &= same
            truth_final = [c for c in truth if any(abs(c - x) < 0.05 for x in b["cuts"])]
            print(
                f"\n{video_id}: original {t_a:.2f} s ({a['tries']} scdet runs, {a['pairs']} signature pairs), ours {t_b:.2f} s, "
                f"ratio {t_a / t_b:.1f}x"
            )
            print(f"  true cuts        : {truth}")
            print(f"  original cuts    : {[round(c, 3) for c in a['cuts']]} @ threshold {a['threshold']:.2f}")
            print(
                f"  our cuts         : {[round(c, 3) for c in b['cuts']]} @ threshold {b['threshold']:.2f}"
                f" -> {'SAME' if same else 'DIFFERENT'}; {len(truth_final)} of them true cuts"
            )
            print(
                f"  chosen clip starts: original {[round(s, 2) for s in a['starts']]}, "
                f"ours {[round(s, 2) for s in b['starts']]}"
            )
        print(
            f"\ntotal: original {t_orig:.2f} s, ours {t_ours:.2f} s -> speed ratio {t_orig / t_ours:.1f}x "
            f"(target >= 5x); cuts {'identical for every video' if agree else 'DIFFER'}"
        )
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
