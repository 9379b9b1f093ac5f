"""Benchmark: how often our diverse clip choice picks the same clips as the original's measure.

The original (sangho-vision/acav100m, clip_segmentation, sampling ``diversity_greedy``) cuts the
candidate clips to disk and compares them with ffmpeg's ``signature`` filter: shuffle the
candidates, keep the first, then scan the others in order, summing each one's matched frames
against every kept clip; the first sum of 0 is taken at once, else the lowest sum. It is written
again here (scdet call, annealing loop, centred windows, cuts, signature parse, greedy) and uses
none of our shot code. Ours (the stage's default): one decode, per-frame fingerprints, symmetric
Chamfer similarity, max-min greedy (acav/clip_segmentation/diversity.py).

Videos: ``--videos`` (default 32) generated multi-shot videos, 320x240 @ 25 fps, 5-7 shots of
10.6-13 s separated by hard cuts, drawn from 3 scenes that come back (shot / reverse shot): every
shot is a candidate, and a good measure avoids two clips of one scene. Both choices start from the
same first clip (the original's shuffled first), so only the measure differs.

Prints per video and in total: agreement (same 3 clips), the agreement expected by chance, how
many chosen sets hold two clips of one scene (each method), the signature pairs compared and how
many matched at all, and CPU time of both choices (this process + ffmpeg children).

    python benchmarks/clip_diversity.py               # 32 videos, ~10 min on 2 shared cores
    python benchmarks/clip_diversity.py --videos 8    # quicker look
"""

from __future__ import annotations

import argparse
import math
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from acav.clip_segmentation.candidates import plan_windows  # noqa: E402
from acav.clip_segmentation.diversity import choose_diverse, similarity_matrix, window_descriptor  # noqa: E402
from acav.clip_segmentation.scores import analyse_video  # noqa: E402
from acav.clip_segmentation.shots import anneal  # noqa: E402
from acav.core.encode import encode_mp4  # noqa: E402
from acav.core.media import ffmpeg_binary  # noqa: E402

WIDTH, HEIGHT, FPS, CLIP, NUM_CLIPS = 320, 240, 25, 10.0, 3
SCENE_BASES = (60.0, 130.0, 200.0)  # luma levels of the 3 scenes: every cut is hard (> 20 %)


# ----------------------------------------------------------------------------- generated videos
def scene_texture(rng: np.random.Generator, base: float, width: int) -> np.ndarray:
    """A wide colour "plasma" (sum of random 2-D sinusoids) around ``base``; shots pan across it."""
    ys, xs = np.mgrid[0:HEIGHT, 0:width].astype(np.float32)
    image = np.full((HEIGHT, width, 3), base, dtype=np.float32)
    for _ in range(5):
        fy, fx = rng.uniform(0.01, 0.06, size=2)
        wave = np.sin(fy * ys + fx * xs + rng.uniform(0, 2 * np.pi))
        image += wave[:, :, None] * rng.uniform(-22, 22, size=3).astype(np.float32)
    return image


def make_video(path: Path, seed: int) -> list[tuple[float, float, int]]:
    """Write the video; return its shots as ``(start, end, scene)``."""
    rng = np.random.default_rng(seed)
    count = int(rng.integers(5, 8))
    scenes = [int(rng.integers(0, 3))]
    while len(scenes) < count:  # neighbours differ (a cut), scenes come back
        scenes.append(int(rng.choice([s for s in range(3) if s != scenes[-1]])))
    lengths = [int(round(rng.uniform(10.6, 13.0) * FPS)) for _ in scenes]
    textures = [scene_texture(rng, base, WIDTH + 4 * max(lengths) + 400) for base in SCENE_BASES]
    offsets = [int(rng.integers(0, 400)) for _ in scenes]

    def frames():
        for scene, length, offset in zip(scenes, lengths, offsets, strict=True):
            for i in range(length):
                x = offset + 2 * i  # pan 2 px per frame
                yield np.clip(textures[scene][:, x : x + WIDTH], 0, 255).astype(np.uint8)

    total = sum(lengths) / FPS
    tone = (0.2 * np.sin(2 * np.pi * 330 * np.arange(int(total * 16000)) / 16000)).astype(np.float32)
    encode_mp4(path, frames(), width=WIDTH, height=HEIGHT, fps=FPS, audio=tone, sample_rate=16000)
    shots, t = [], 0
    for scene, length in zip(scenes, lengths, strict=True):
        shots.append((t / FPS, (t + length) / FPS, scene))
        t += length
    return shots


# ------------------------------------------------------------ the original, written again here
def release_scdet(path: Path, threshold: float) -> list[float]:
    out = subprocess.run(
        [ffmpeg_binary(), "-i", str(path), "-vf", f"scdet=threshold={threshold}", "-f", "null", "-"],
        capture_output=True,
        check=True,
    ).stderr.decode()
    return [float(line.split(":")[-1]) for line in out.splitlines() if "lavfi.scd.time" in line]


def release_candidates(path: Path, duration: float) -> list[float]:
    """Start times of the centred windows of the annealing loop (see module docstring). The shot
    after the last cut is kept here, as ours does: this benchmark compares the diversity measure."""
    threshold, valid = 10.0, []
    while True:
        cuts = release_scdet(path, threshold)
        if cuts:
            edges = [0.0, *cuts, duration]
            valid = [
                a + 0.5 * ((b - a) - CLIP)
                for a, b in zip(edges[:-1], edges[1:], strict=True)
                if b - a >= CLIP
            ]
        if len(valid) >= NUM_CLIPS or threshold >= 100.0:
            return valid
        threshold = min(1.2 * threshold, 100.0)


def release_cut(path: Path, start: float, out: Path) -> None:
    subprocess.run(
        [ffmpeg_binary(), "-loglevel", "error", "-y", "-ss", f"{start:.6f}", "-i", str(path), "-t", f"{CLIP}",
         "-map", "0:v:0", "-c:v", "libx264", "-preset", "veryfast", str(out)],
        check=True,
    )  # fmt: skip


def release_signature(a: Path, b: Path) -> int:
    proc = subprocess.run(
        [ffmpeg_binary(), "-hide_banner", "-i", str(a), "-i", str(b), "-filter_complex",
         "signature=detectmode=full:nb_inputs=2", "-f", "null", "-"],
        capture_output=True,
    )  # fmt: skip
    lines = [
        x for x in proc.stderr.decode().split("\n") if "Parsed_signature_0" in x and "frames matching" in x
    ]
    return int(lines[0].split(",")[-1].split()[0]) if lines else 0


def release_greedy(paths: list[Path], order: list[int], stats: dict) -> list[int]:
    kept, others = [order[0]], order[1:]
    while len(kept) < NUM_CLIPS:
        lowest, pick = 1e10, 0
        for i, other in enumerate(others):
            sim = 0
            for k in kept:
                matched = release_signature(paths[k], paths[other])
                stats["pairs"] += 1
                stats["matched_pairs"] += matched > 0
                sim += matched
            if sim == 0:
                pick = i
                break
            if sim < lowest:
                pick, lowest = i, sim
        kept.append(others.pop(pick))
    return kept


# ------------------------------------------------------------------------------------ harness
def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def scene_of(start: float, shots: list[tuple[float, float, int]]) -> int:
    return next(scene for a, b, scene in shots if a - 0.05 <= start and start + CLIP <= b + 0.05)


def run_one(path: Path, shots, seed: int, work: Path, stats: dict) -> dict | None:
    began = cpu_seconds()
    duration = shots[-1][1]
    starts = release_candidates(path, duration)
    if len(starts) <= NUM_CLIPS:
        return None
    order = list(range(len(starts)))
    random.Random(seed).shuffle(order)
    clips = [work / f"cand_{i}.mp4" for i in range(len(starts))]
    for start, clip in zip(starts, clips, strict=True):
        release_cut(path, start, clip)
    original = sorted(release_greedy(clips, order, stats))
    for clip in clips:
        clip.unlink()
    t_original = cpu_seconds() - began

    began = cpu_seconds()
    analysis = analyse_video(path)
    result = anneal(analysis.times, analysis.scores, analysis.end)
    windows, _ = plan_windows(analysis, result.long_shots(CLIP), CLIP)
    descriptors = [window_descriptor(analysis.fingerprints, w.first, w.last, 10) for w in windows]
    ours_starts = [w.start for w in windows]
    same_candidates = len(ours_starts) == len(starts) and np.allclose(ours_starts, starts, atol=0.05)
    first = int(np.argmin(np.abs(np.asarray(ours_starts) - starts[order[0]])))
    ours = sorted(choose_diverse(similarity_matrix(descriptors), NUM_CLIPS, random.Random(seed), first=first))
    t_ours = cpu_seconds() - began

    def repeats(picked: list[float]) -> bool:
        scenes = [scene_of(s, shots) for s in picked]
        return len(set(scenes)) < len(scenes)

    original_starts = [starts[i] for i in original]
    chosen_ours = [ours_starts[i] for i in ours]
    return {
        "candidates": len(starts),
        "same_candidates": bool(same_candidates),
        "agree": bool(same_candidates and np.allclose(original_starts, chosen_ours, atol=0.05)),
        "chance": 1.0 / math.comb(len(starts) - 1, NUM_CLIPS - 1),
        "repeat_original": repeats(original_starts),
        "repeat_ours": repeats(chosen_ours),
        "t_original": t_original,
        "t_ours": t_ours,
        "scenes": [s for *_, s in shots],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--videos", type=int, default=32, help="generated videos (>= 30 for the documented number)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    stats = {"pairs": 0, "matched_pairs": 0}
    rows = []
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="acav-bench-div-") as tmp:
        work = Path(tmp)
        for index in range(args.videos):
            path = work / f"video_{index:03d}.mp4"
            shots = make_video(path, args.seed * 1000 + index)
            row = run_one(path, shots, args.seed * 1000 + index, work, stats)
            path.unlink()
            if row is None:
                print(f"video {index}: {NUM_CLIPS} or fewer candidates, nothing to choose")
                continue
            rows.append(row)
            print(
                f"video {index:2d}: scenes {row['scenes']}, {row['candidates']} candidates "
                f"(same in both: {row['same_candidates']}); same clips: {row['agree']}; "
                f"two clips of one scene: original {row['repeat_original']}, ours {row['repeat_ours']}; "
                f"cpu original {row['t_original']:.1f} s, ours {row['t_ours']:.2f} s",
                flush=True,
            )
    n = len(rows)
    if not n:
        print("no video had more candidates than clips")
        return 1
    agree = sum(r["agree"] for r in rows)
    t_orig, t_ours = sum(r["t_original"] for r in rows), sum(r["t_ours"] for r in rows)
    print(f"\n{n} videos with more than {NUM_CLIPS} candidates ({time.perf_counter() - began:.0f} s wall)")
    print(f"  same candidates in both            : {sum(r['same_candidates'] for r in rows)} / {n}")
    print(f"  same {NUM_CLIPS} clips chosen (same first pick): {agree} / {n} = {agree / n:.0%}")
    print(f"  expected by chance                 : {sum(r['chance'] for r in rows) / n:.0%}")
    print(
        f"  sets with two clips of one scene   : original {sum(r['repeat_original'] for r in rows)} / {n}, "
        f"ours {sum(r['repeat_ours'] for r in rows)} / {n}"
    )
    print(
        f"  signature pairs compared           : {stats['pairs']}, with any matched frame: {stats['matched_pairs']}"
    )
    print(
        f"  cpu time of the choice             : original {t_orig:.1f} s, ours {t_ours:.1f} s ({t_orig / t_ours:.0f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
