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
    for rule, chosen in (("best", 50.0), ("original", 100.0)):
        result = anneal(times, scores, 25.0, threshold=50, factor=1.5, max_threshold=100, wanted=3, rule=rule)
        assert result.tries == pytest.approx([50.0, 75.0, 100.0])
        # Equal tries: ours keeps the lowest threshold, the original the last one that found a cut.
        assert result.threshold == chosen
        assert result.cuts == [5.0, 15.0]  # scores of exactly 100 still count (score >= threshold)
        assert result.long_shots(10.0) == [(5.0, 15.0), (15.0, 25.0)]  # 2 < wanted, but the cap ends it


def test_shots_without_the_last_one_as_the_original():
    assert shots_from_cuts([4.0, 7.5], 20.0, keep_last=False) == [(0.0, 4.0), (4.0, 7.5)]
    assert shots_from_cuts([], 12.0, keep_last=False) == [(0.0, 12.0)]  # no cut: the whole video


def test_best_try_keeps_the_long_shots_that_later_tries_merge_or_lose():
    # One hard cut at 20 s of a 40 s video: 2 long shots until the cut's score (40) is passed, then
    # none found. Ours keeps the first try; the original rule keeps the last try that found the cut.
    times, scores = _scores(10, 40, {20.0: 40.0})
    best = anneal(times, scores, 40.0)
    assert best.threshold == 10.0 and best.cuts == [20.0] and not best.cut_free
    assert best.long_shots(10.0) == [(0.0, 20.0), (20.0, 40.0)]
    assert best.tries[-1] == 100.0 and len(best.tries) == 14  # 10 * 1.2^k up to the cap
    original = anneal(times, scores, 40.0, rule="original", keep_last=False)
    assert original.threshold == pytest.approx(10 * 1.2**7) and original.shots == [(0.0, 20.0)]
    # Shots of 12, 12 and 5 s, a weak cut (12) then a strong one (50): the weak cut goes at 14.4 and
    # the merged 24 s shot leaves 1 long shot. Ours keeps the 2 of the first try; the original keeps
    # the last try that found a cut (43.0), whose clip crosses the weak cut.
    times, scores = _scores(10, 29, {12.0: 12.0, 24.0: 50.0})
    best = anneal(times, scores, 29.0)
    assert best.threshold == 10.0 and best.long_shots(10.0) == [(0.0, 12.0), (12.0, 24.0)]
    original = anneal(times, scores, 29.0, rule="original")
    assert original.threshold == pytest.approx(10 * 1.2**8) and original.cuts == [24.0]
    assert original.long_shots(10.0) == [(0.0, 24.0)]


def test_cut_free_only_when_the_first_try_finds_no_cut():
    times, scores = _scores(10, 30, {})
    result = anneal(times, scores, 30.0)
    assert result.cut_free and result.shots == [(0.0, 30.0)] and result.cuts == []
    times, scores = _scores(10, 16, {5.0: 16.0, 11.0: 16.0})  # cuts found, no long shot at any try
    result = anneal(times, scores, 16.0)
    assert not result.cut_free and result.cuts == [5.0, 11.0] and result.long_shots(10.0) == []


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
