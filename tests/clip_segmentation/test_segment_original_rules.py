"""Stage 3 against an independent implementation of the original release's rules, written here.

The release's annealing loop (clip_segmentation/code/extract_clips.py): run scdet at the
threshold; when it reports at least one cut, the candidates become the shots between 0 and the
cuts (the shot after the last cut is dropped) of at least the clip length, each cut to the clip
length centred in it; stop when there are ``num_clips`` candidates or the threshold is >= 100, else
multiply it by 1.2 (capped at 100). No candidate: the centred clip of the whole video.
Its clip names: ``{id}_{int(start):03d}.mp4``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import numpy as np
import pytest

from acav.clip_segmentation.config import SegmentConfig
from acav.clip_segmentation.runner import VideoTask, process_video
from acav.clip_segmentation.shots import anneal
from acav.core.media import ffmpeg_binary

CLIP = 10.0


def release_annealing(scdet, duration: float, threshold: float = 10.0, num_clips: int = 3):
    """``(tries, clips)`` as the release computes them; ``scdet(threshold)`` -> cut times."""
    tries, valid = 0, []
    while True:
        tries += 1
        boundaries = scdet(threshold)
        if len(boundaries) != 0:
            edges = [0.0, *boundaries]
            valid = []
            for a, b in zip(edges[:-1], edges[1:], strict=True):
                if b - a >= CLIP - 1e-6:  # the release compares exactly; 1e-6 absorbs float rounding
                    start = a + 0.5 * ((b - a) - CLIP)
                    valid.append([start, start + CLIP])
        if len(valid) >= num_clips or threshold >= 100.0:
            break
        threshold = min(1.2 * threshold, 100.0)
    if not valid:
        start = duration / 2 - CLIP / 2
        valid = [[start, start + CLIP]]
    return tries, valid


def release_scdet(path) -> Callable[[float], list[float]]:
    """The release's scdet call and parse: the last ':'-field of every ``[scdet`` line. (The
    ffmpeg of its time logged scdet as ``[scdet @ ...]``; ffmpeg 9 writes ``[Parsed_scdet_0 @``.)"""

    def run(threshold: float) -> list[float]:
        out = subprocess.run(
            [ffmpeg_binary(), "-i", str(path), "-vf", f"scdet=threshold={threshold}", "-f", "null", "-"],
            capture_output=True,
            check=True,
        ).stderr.decode()
        return [
            float(line.split(":")[-1])
            for line in out.splitlines()
            if line.startswith(("[scdet", "[Parsed_scdet"))
        ]

    return run


def _our_original_clips(result, end: float) -> list[list[float]]:
    shots = result.long_shots(CLIP)
    if not shots:
        shots = [(0.0, end)]
    return [[a + (b - a - CLIP) / 2, a + (b - a - CLIP) / 2 + CLIP] for a, b in shots]


def test_original_rule_equals_the_release_loop_on_random_scores():
    rng = np.random.default_rng(7)
    differ_from_best = 0
    for case in range(400):
        fps, seconds = 10, float(rng.integers(12, 150))
        times = np.arange(int(seconds * fps)) / fps
        scores = np.zeros_like(times)
        count = int(rng.integers(0, 12))
        frames = rng.choice(np.arange(1, len(times)), size=min(count, len(times) - 1), replace=False)
        weak = rng.random(len(frames)) < 0.5
        scores[frames] = np.where(weak, rng.uniform(10, 20, len(frames)), rng.uniform(10, 110, len(frames)))
        result = anneal(times, scores, seconds, rule="original", keep_last=False)
        marked = [(float(score), float(times[i])) for i, score in enumerate(scores) if score > 0]
        tries, clips = release_annealing(lambda th, m=marked: [t for s, t in m if s >= th], seconds)
        assert len(result.tries) == tries, case
        assert np.ravel(_our_original_clips(result, seconds)) == pytest.approx(np.ravel(clips)), case
        best = anneal(times, scores, seconds)
        differ_from_best += best.threshold != result.threshold
    assert differ_from_best > 50  # the cases exercise the difference between the two rules


def test_best_rule_takes_the_try_with_most_long_shots_on_random_scores():
    rng = np.random.default_rng(11)
    for case in range(300):
        seconds = float(rng.integers(12, 120))
        times = np.arange(int(seconds * 10)) / 10
        scores = np.zeros_like(times)
        frames = rng.choice(np.arange(1, len(times)), size=int(rng.integers(0, 10)), replace=False)
        scores[frames] = rng.uniform(10, 60, size=len(frames))
        result = anneal(times, scores, seconds)
        # Every try, recomputed here: thresholds, cuts, long shots (the last shot kept).
        per_try = []
        for threshold in result.tries:
            cuts = sorted(float(t) for t in times[scores >= threshold])
            edges = [0.0, *cuts, seconds]
            per_try.append(
                (
                    threshold,
                    cuts,
                    sum(b - a >= CLIP - 1e-9 for a, b in zip(edges[:-1], edges[1:], strict=True)),
                )
            )
        found = [t for t in per_try if t[1]]
        if not found:
            assert result.cut_free and result.shots == [(0.0, seconds)], case
            continue
        most = max(n for _, _, n in found)
        threshold, cuts, _ = next(t for t in found if t[2] == most)  # ties: the lowest threshold
        assert (result.threshold, result.cuts, len(result.long_shots(CLIP))) == (threshold, cuts, most), case
        assert not result.cut_free
        for a, b in result.long_shots(CLIP):  # no cut of the chosen try inside a shot
            assert not [c for c in cuts if a < c < b], case


def _process(path, tmp_path, name: str, **options):
    clips_dir = tmp_path / name
    clips_dir.mkdir()
    cfg = SegmentConfig(workers=1, **options)
    return process_video(VideoTask(name, str(path), str(clips_dir), cfg)), clips_dir


GREY = [(40, 40, 40), (73, 73, 73), (200, 200, 200)]


@pytest.mark.parametrize(
    "shots, ours_expected",
    [
        # The case: 40 s, one hard cut at 20 s; the old code gave one clip [15, 25] across it.
        ([(20.0, (200, 30, 30)), (20.0, (30, 30, 200))], [(5.0, 15.0), (25.0, 35.0)]),
        # 12 s, weak cut (~13), 12 s, strong cut, 5 s: the release ends with the strong cut only and
        # its clip crosses the weak one; ours keeps the first try's two shots.
        ([(12.0, GREY[0]), (12.0, GREY[1]), (5.0, GREY[2])], [(1.0, 11.0), (13.0, 23.0)]),
    ],
)
def test_real_videos_against_the_release_loop(make_video, tmp_path, shots, ours_expected):
    path = make_video("video.mp4", shots=shots)
    cuts = np.cumsum([d for d, _ in shots])[:-1]
    ours, clips_dir = _process(path, tmp_path, "ours")
    assert ours["status"] == "ok", ours
    got = [(c["start"], c["end"]) for c in ours["clips"]]
    assert np.ravel(got) == pytest.approx(np.ravel(ours_expected), abs=0.041)
    for clip in ours["clips"]:
        assert not [c for c in cuts if clip["start"] < c < clip["end"]], clip  # no clip across a cut
        assert clip["filename"] == f"ours_{int(clip['start']):03d}.mp4"
        assert (clips_dir / clip["filename"]).is_file()

    end = sum(d for d, _ in shots)
    tries, expected = release_annealing(release_scdet(path), end)
    original, clips_dir = _process(path, tmp_path, "orig", shot_rule="original", keep_last_shot=False)
    assert original["threshold_tries"] == tries
    got = [(c["start"], c["end"]) for c in original["clips"]]
    assert len(got) == len(expected) and np.ravel(got) == pytest.approx(np.ravel(expected), abs=0.041)
    names = sorted(p.name for p in clips_dir.iterdir())
    assert names == sorted(f"orig_{int(start + 1e-6):03d}.mp4" for start, _ in expected)
    if len(shots) == 3:  # the release's clip crosses the weak cut at 12 s
        assert [c for c in cuts if expected[0][0] < c < expected[0][1]] == [12.0]


def test_cut_free_video_as_the_release():
    # A cut-free video: the centred clip; the release reaches 100 in 14 tries.
    times = np.arange(300) / 10
    tries, clips = release_annealing(lambda t: [], 30.0)
    result = anneal(times, np.zeros_like(times), 30.0, rule="original", keep_last=False)
    assert tries == len(result.tries) == 14 and clips == [[10.0, 20.0]]
    assert _our_original_clips(result, 30.0) == clips
