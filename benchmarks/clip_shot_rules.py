"""Benchmark: what the shot rule changes, on simulated scdet score sequences of real-like videos.

Each simulated video: a duration of 30-600 s (``--max-duration``); shots with log-normal lengths (median 5 s, like
edited web video); each true cut scores 20-90 (hard, 70 %) or 8-20 (soft, 30 %: some below the
first threshold); plus false detections (camera motion, flashes: one per minute on average, 10-18).
Scores sit on a 10 fps grid. For every rule the clips are the 10 s windows centred in the long
shots of its chosen try (up to 3, a seeded random pick when there are more; the centre of the whole
video when the rule falls back). Reported per rule: clips per video, videos without a clip, videos
with a clip across a true cut, across a hard true cut (score >= 20), and across a cut that
the first try (threshold 10) detected.

Rules: ``previous`` = this project before the fix (the LAST try's shots, written here);
``release`` = the original's loop, written here independently (shots from 0 through the cuts, the
last one dropped; candidates replaced only by a try that found a cut; centre fallback);
``ours`` = the stage's default (acav.clip_segmentation.shots.anneal, rule ``best``, no clip when
the chosen try has no long shot); ``ours-drop-last`` = ours with ``--no-keep-last-shot`` (the
effect of keeping the last shot alone); ``ours-original`` = ``--shot-rule original --no-keep-last-shot``,
which must give the release's clips on every video (checked).

    python benchmarks/clip_shot_rules.py                      # 2000 videos, a few seconds
    python benchmarks/clip_shot_rules.py --max-duration 60    # short videos, where rules differ most
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from acav.clip_segmentation.shots import anneal  # noqa: E402

FPS, CLIP, NUM_CLIPS = 10, 10.0, 3


def simulate(rng: np.random.Generator, longest: float) -> tuple[np.ndarray, np.ndarray, float, list[float]]:
    duration = float(rng.uniform(30, longest))
    cuts, t = [], 0.0
    while True:
        t += float(rng.lognormal(np.log(5.0), 0.9))
        if t >= duration - 0.5:
            break
        cuts.append(round(t, 1))
    times = np.arange(int(duration * FPS)) / FPS
    scores = np.zeros_like(times)
    for cut in cuts:
        hard = rng.random() < 0.7
        scores[int(round(cut * FPS))] = rng.uniform(20, 90) if hard else rng.uniform(8, 20)
    for _ in range(rng.poisson(duration / 60)):
        frame = int(rng.integers(1, len(times)))
        scores[frame] = max(scores[frame], rng.uniform(10, 18))
    return times, scores, duration, [c for c in cuts if int(round(c * FPS)) < len(times)]


def hard_cuts(scores: np.ndarray, true_cuts: list[float]) -> list[float]:
    return [c for c in true_cuts if scores[int(round(c * FPS))] >= 20]


def centred(shots: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(a + (b - a - CLIP) / 2, a + (b - a - CLIP) / 2 + CLIP) for a, b in shots]


def release(times, scores, duration) -> tuple[list[tuple[float, float]], float]:
    """The original's loop (module docstring); returns (clips, first-try threshold cuts aside)."""
    threshold, valid = 10.0, []
    while True:
        found = [float(t) for t in times[scores >= threshold]]
        if found:
            edges = [0.0, *found]
            # The release compares b - a >= 10 exactly; on float times a shot of exactly 10 s may then
            # come out at 9.999999999999996. Ours (and this copy) allow 1e-6 for that rounding.
            valid = [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b - a >= CLIP - 1e-6]
        if len(valid) >= NUM_CLIPS or threshold >= 100.0:
            break
        threshold = min(1.2 * threshold, 100.0)
    return centred(valid) if valid else centred([(0.0, duration)])


def previous(times, scores, duration) -> list[tuple[float, float]]:
    """This project before the fix: anneal until 3 long shots or 100, use the LAST try."""
    threshold = 10.0
    while True:
        found = [float(t) for t in times[scores >= threshold]]
        edges = [0.0, *found, duration]
        long = [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b - a >= CLIP - 1e-6]
        if len(long) >= NUM_CLIPS or threshold >= 100.0:
            break
        threshold = min(1.2 * threshold, 100.0)
    return centred(long) if long else centred([(0.0, duration)])


def ours(times, scores, duration, **options) -> list[tuple[float, float]]:
    result = anneal(times, scores, duration, **options)
    shots = result.long_shots(CLIP)
    if not shots and options.get("rule", "best") == "original":
        shots = [(0.0, duration)]
    return centred(shots)


def pick(clips: list[tuple[float, float]], seed: int) -> list[tuple[float, float]]:
    return sorted(random.Random(seed).sample(clips, NUM_CLIPS)) if len(clips) > NUM_CLIPS else clips


def crosses(clips, cuts) -> bool:
    return any(a + 1e-6 < c < b - 1e-6 for a, b in clips for c in cuts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-duration", type=float, default=600.0, help="videos last 30 s to this")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    names = ("previous", "release", "ours", "ours-drop-last", "ours-original")
    totals = {n: {"clips": 0, "none": 0, "true_cut": 0, "hard_cut": 0, "first_try_cut": 0} for n in names}
    equal = 0
    began = time.process_time()
    for index in range(args.videos):
        times, scores, duration, true_cuts = simulate(rng, args.max_duration)
        first_cuts = [float(t) for t in times[scores >= 10.0]]
        hard = hard_cuts(scores, true_cuts)
        results = {
            "previous": previous(times, scores, duration),
            "release": release(times, scores, duration),
            "ours": ours(times, scores, duration),
            "ours-drop-last": ours(times, scores, duration, keep_last=False),
            "ours-original": ours(times, scores, duration, rule="original", keep_last=False),
        }
        a, b = np.ravel(results["release"]), np.ravel(results["ours-original"])
        equal += a.shape == b.shape and np.allclose(a, b)
        for name, clips in results.items():
            chosen = pick(clips, index)
            total = totals[name]
            total["clips"] += len(chosen)
            total["none"] += not chosen
            total["true_cut"] += crosses(chosen, true_cuts)
            total["hard_cut"] += crosses(chosen, hard)
            total["first_try_cut"] += crosses(chosen, first_cuts)
    n = args.videos
    print(f"{n} simulated videos of 30-{args.max_duration:g} s ({time.process_time() - began:.1f} s cpu)")
    print(
        f"{'rule':15s} {'clips/video':>11s} {'no clip':>8s} {'across a true cut':>18s} "
        f"{'across a hard cut':>18s} {'across a first-try cut':>23s}"
    )
    for name in names:
        t = totals[name]
        print(
            f"{name:15s} {t['clips'] / n:11.2f} {t['none'] / n:8.1%} {t['true_cut'] / n:18.1%} "
            f"{t['hard_cut'] / n:18.1%} "
            f"{t['first_try_cut'] / n:23.1%}"
        )
    print(f"ours-original gives the release's clips on {equal} / {n} videos")
    return 0 if equal == n else 1


if __name__ == "__main__":
    sys.exit(main())
