"""Candidate windows (centred, on the frame grid, inside their shot), fallback, diverse choice."""

from __future__ import annotations

import random

import numpy as np
import pytest

from acav.clip_segmentation.candidates import centred_window, frames_in_clip, plan_windows
from acav.clip_segmentation.diversity import choose_diverse, similarity_matrix, window_descriptor
from acav.clip_segmentation.scores import VideoAnalysis


def _analysis(seconds: float, fps: float = 25.0, prints: np.ndarray | None = None) -> VideoAnalysis:
    times = np.arange(int(round(seconds * fps))) / fps
    if prints is None:
        prints = np.zeros((len(times), 3), dtype=np.uint8)
    return VideoAnalysis(
        times=times, scores=np.zeros_like(times), fingerprints=prints, frame_duration=1 / fps, start_time=0.0
    )


def test_centred_window_in_shot():
    analysis = _analysis(60)
    window = centred_window(analysis, (12.0, 26.0), 10.0)
    assert window.start == pytest.approx(14.0)
    assert window.end == pytest.approx(24.0)
    assert window.last - window.first + 1 == 250
    # Centre between frames: snapped to the nearest frame, still inside the shot.
    window = centred_window(analysis, (12.0, 23.02), 10.0)
    assert window.start == pytest.approx(12.52)
    assert 12.0 <= window.start and window.end <= 23.02 + 1e-9


def test_window_of_exact_shot_length_is_the_shot():
    analysis = _analysis(30, fps=29.97)
    shot = (float(analysis.times[60]), float(analysis.times[360]))  # 300 frames = 10.01 s
    window = centred_window(analysis, shot, 10.0)
    assert window.first == 60
    assert window.end <= shot[1] + 1e-9


def test_frames_in_clip_follows_ffmpeg_duration_limit():
    times = np.arange(900) / 29.97
    assert frames_in_clip(times, 0, 10.0) == 299  # 300 frames: t < 10 s
    assert frames_in_clip(np.arange(500) / 25.0, 10, 10.0) == 259  # 250 frames


def test_plan_windows_fallback_and_too_short():
    windows, fallback = plan_windows(_analysis(40), [(0.0, 12.0), (20.0, 40.0)], 10.0)
    assert not fallback and [w.start for w in windows] == pytest.approx([1.0, 25.0])
    windows, fallback = plan_windows(_analysis(16), [], 10.0)
    assert fallback and len(windows) == 1
    assert windows[0].start == pytest.approx(3.0) and windows[0].end == pytest.approx(13.0)
    assert plan_windows(_analysis(7), [], 10.0) == ([], False)


def test_similarity_ranks_same_scene_above_different_scene():
    prints = np.zeros((1000, 3), dtype=np.uint8)
    prints[0:250] = (200, 30, 30)
    prints[250:500] = (205, 32, 28)  # nearly the same look
    prints[500:750] = (30, 30, 200)
    prints[750:1000] = (100, 200, 100)
    descs = [window_descriptor(prints, i * 250, i * 250 + 249, 10) for i in range(4)]
    sim = similarity_matrix(descs)
    assert np.allclose(np.diag(sim), 1.0) and np.allclose(sim, sim.T)
    assert sim[0, 1] == pytest.approx(1 - (5 + 2 + 2) / 3 / 255)
    assert sim[0, 1] > sim[0, 2] and sim[0, 1] > sim[0, 3]


def test_choose_diverse_greedy_values():
    sim = np.array(
        [
            [1.0, 0.95, 0.2, 0.5],
            [0.95, 1.0, 0.3, 0.4],
            [0.2, 0.3, 1.0, 0.6],
            [0.5, 0.4, 0.6, 1.0],
        ]
    )

    class FixedStart(random.Random):
        def randrange(self, n):  # noqa: D401 - the test pins the random first pick
            return 0

    # From 0: least similar is 2 (0.2); then max-sim to {0, 2}: cand 1 -> 0.95, cand 3 -> 0.6 -> pick 3.
    assert choose_diverse(sim, 3, FixedStart()) == [0, 2, 3]
    assert choose_diverse(sim, 10, FixedStart()) == [0, 1, 2, 3]
    picks = {tuple(choose_diverse(sim, 2, random.Random(seed))) for seed in range(20)}
    assert len(picks) > 1  # the first pick is random...
    assert choose_diverse(sim, 2, random.Random(7)) == choose_diverse(
        sim, 2, random.Random(7)
    )  # ...and seeded
