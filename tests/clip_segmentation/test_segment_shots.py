"""Shots and threshold annealing, on score arrays and on a real low-contrast video."""

from __future__ import annotations

import numpy as np
import pytest

from acav.clip_segmentation.reference import ffmpeg_scdet
from acav.clip_segmentation.scores import analyse_video
from acav.clip_segmentation.shots import anneal, shots_from_cuts


def test_shots_from_cuts_cover_the_video():
    assert shots_from_cuts([4.0, 7.5], 20.0) == [(0.0, 4.0), (4.0, 7.5), (7.5, 20.0)]
    assert shots_from_cuts([], 12.0) == [(0.0, 12.0)]
    # A cut on the first frame (score is 0 there anyway) or past the end adds no empty shot.
    assert shots_from_cuts([0.0, 12.0], 12.0) == [(0.0, 12.0)]


def _scores(fps: float, seconds: float, cuts: dict[float, float]):
    times = np.arange(int(seconds * fps)) / fps
    scores = np.zeros_like(times)
    for time, score in cuts.items():
        scores[int(round(time * fps))] = score
    return times, scores


def test_anneal_stops_at_first_threshold_when_enough_long_shots():
    times, scores = _scores(10, 40, {12.0: 30.0, 24.0: 30.0})
    result = anneal(times, scores, 40.0, threshold=10, wanted=3, min_length=10)
    assert result.tries == [10]
    assert result.cuts == [12.0, 24.0]
    assert result.long_shots(10.0) == [(0.0, 12.0), (12.0, 24.0), (24.0, 40.0)]


def test_anneal_multiplies_by_factor_until_enough_long_shots():
    # Weak cuts (score 13) every 5 s fragment three 15 s scenes separated by strong cuts (50).
    cuts = {5.0: 13.0, 10.0: 13.0, 15.0: 50.0, 20.0: 13.0, 25.0: 13.0, 30.0: 50.0, 35.0: 13.0, 40.0: 13.0}
    times, scores = _scores(10, 45, cuts)
    result = anneal(times, scores, 45.0, threshold=10, factor=1.2, wanted=3, min_length=10)
    assert result.tries == pytest.approx([10.0, 12.0, 14.4])
    assert result.threshold == pytest.approx(14.4)
    assert result.cuts == [15.0, 30.0]


def test_anneal_caps_at_max_threshold():
    times, scores = _scores(10, 25, {5.0: 100.0, 15.0: 100.0})
    result = anneal(times, scores, 25.0, threshold=50, factor=1.5, max_threshold=100, wanted=3)
    assert result.tries == pytest.approx([50.0, 75.0, 100.0])
    assert result.threshold == 100.0
    assert result.cuts == [5.0, 15.0]  # scores of exactly 100 still count (score >= threshold)
    assert result.long_shots(10.0) == [(5.0, 15.0), (15.0, 25.0)]  # 2 < wanted, but the cap ends it


def test_annealing_on_low_contrast_video(make_video):
    """Close grey levels (~11 % scdet score) split three 12 s scenes into 4 s shots at threshold
    10; one annealing step (12) drops them and leaves the strong cuts."""
    shots = []
    for base in (40, 160, 60):
        for k in range(3):
            grey = base + 33 * (k % 2)
            shots.append((4.0, (grey, grey, grey)))
    path = make_video("low_contrast.mp4", shots=shots)
    analysis = analyse_video(path)
    first = anneal(analysis.times, analysis.scores, analysis.end, threshold=10, max_threshold=10, wanted=3)
    assert len(first.cuts) == 8 and first.long_shots(10.0) == []
    result = anneal(analysis.times, analysis.scores, analysis.end, threshold=10, wanted=3)
    assert result.tries == pytest.approx([10.0, 12.0])
    assert result.cuts == pytest.approx([12.0, 24.0])
    assert np.ravel(result.long_shots(10.0)) == pytest.approx([0.0, 12.0, 12.0, 24.0, 24.0, 36.0])
    # The original (scdet re-run at each threshold) makes the same decisions at both thresholds.
    assert [t for t, _ in ffmpeg_scdet(path, 10.0)] == pytest.approx(first.cuts)
    assert [t for t, _ in ffmpeg_scdet(path, 12.0)] == pytest.approx(result.cuts)
