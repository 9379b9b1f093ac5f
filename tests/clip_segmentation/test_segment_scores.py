"""Cut scores: same decisions and values as ffmpeg's scdet, boundaries at the known cut times."""

from __future__ import annotations

import numpy as np
import pytest

from acav.clip_segmentation.reference import ffmpeg_scdet
from acav.clip_segmentation.scores import analyse_video
from acav.clip_segmentation.shots import detect_cuts

FPS = 25.0
SHOTS = [
    (4.0, (200, 30, 30)),
    (3.0, (30, 200, 30)),
    (5.0, (30, 30, 200)),
    (2.0, (120, 120, 120)),
    (3.0, (60, 60, 60)),
]
CUTS = [4.0, 7.0, 12.0, 14.0]


@pytest.fixture
def cut_video(make_video):
    return make_video("cuts.mp4", shots=SHOTS, fps=FPS)


def test_boundaries_at_known_cut_times(cut_video):
    analysis = analyse_video(cut_video)
    assert len(analysis.times) == int(sum(d for d, _ in SHOTS) * FPS)
    assert analysis.frame_duration == pytest.approx(1 / FPS)
    assert analysis.end == pytest.approx(17.0)
    cuts = detect_cuts(analysis.times, analysis.scores, 10.0)
    assert len(cuts) == len(CUTS)
    assert np.max(np.abs(np.asarray(cuts) - CUTS)) <= 1 / FPS
    assert analysis.scores[0] == 0.0
    # Within a shot only the small moving bar changes: far below any threshold.
    assert np.sort(analysis.scores)[-len(CUTS) - 1] < 2.0


@pytest.mark.parametrize("threshold", [10.0, 20.0])
def test_same_cuts_and_scores_as_ffmpeg_scdet(cut_video, threshold):
    reference = ffmpeg_scdet(cut_video, threshold)
    analysis = analyse_video(cut_video)
    ours = detect_cuts(analysis.times, analysis.scores, threshold)
    assert ours == pytest.approx([t for t, _ in reference], abs=1e-6)
    assert len(ours) >= 2  # the thresholds do select some of the cuts
    for time, score in reference:
        index = int(np.argmin(np.abs(analysis.times - time)))
        # Reduced to 64 px the score of a clear cut stays within half a percent of full-res scdet.
        assert analysis.scores[index] == pytest.approx(score, abs=0.5)


def test_full_resolution_matches_scdet_exactly(cut_video):
    """At the source size the arithmetic is scdet's own: scores equal to its 3 printed decimals."""
    analysis = analyse_video(cut_video, short_side=120)
    for time, score in ffmpeg_scdet(cut_video, 5.0):
        index = int(np.argmin(np.abs(analysis.times - time)))
        assert analysis.scores[index] == pytest.approx(score, abs=1e-3)


def test_fingerprints_follow_colour(cut_video):
    analysis = analyse_video(cut_video, grid=2)
    assert analysis.fingerprints.shape == (len(analysis.times), 12)
    red = analysis.fingerprints[int(1.0 * FPS)].astype(int)
    blue = analysis.fingerprints[int(10.0 * FPS)].astype(int)
    # V (Cr) is high for red, U (Cb) high for blue: cells 8..11 are V, 4..7 are U.
    assert red[8:].mean() > 200 and blue[8:].mean() < 140
    assert blue[4:8].mean() > 200 and red[4:8].mean() < 128
