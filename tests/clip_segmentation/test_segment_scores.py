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


def _reference_analysis(path, short_side: int, grid: int):
    """Frame by frame, written out plainly: scdet's formula on the sampled luma, the mean of each
    grid cell of the sampled Y, U, V planes, and ``float(pts * time_base)`` per frame."""
    import av

    times, scores, prints = [], [], []
    previous, prev_mafd = None, 0.0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            image = frame.to_ndarray(format="yuv420p")  # Y rows, then U and V rows, one block
            h, w = frame.height, frame.width
            y = image[:h]
            u = image[h : h + h // 4].reshape(h // 2, w // 2)
            v = image[h + h // 4 :].reshape(h // 2, w // 2)
            step = max(1, min(w, h) // short_side)
            cstep = max(1, step * (w // 2) // w)
            planes = [y[::step, ::step], u[::cstep, ::cstep], v[::cstep, ::cstep]]
            luma = planes[0].astype(np.int64)
            if previous is None:
                scores.append(0.0)
            else:
                mafd = float(np.abs(luma - previous).sum()) * 100.0 / luma.size / 256.0
                scores.append(min(max(min(mafd, abs(mafd - prev_mafd)), 0.0), 100.0))
                prev_mafd = mafd
            previous = luma
            cells = []
            for plane in planes:
                ph, pw = plane.shape
                for r in range(grid):
                    for c in range(grid):
                        block = plane[
                            r * ph // grid : (r + 1) * ph // grid, c * pw // grid : (c + 1) * pw // grid
                        ]
                        cells.append(round(float(block.astype(np.int64).sum()) / block.size))
            prints.append(cells)
            times.append(float(frame.pts * stream.time_base))
    return np.array(times), np.array(scores), np.array(prints, dtype=np.uint8)


@pytest.mark.parametrize("short_side", [64, 40])
def test_batched_analysis_equals_the_frame_by_frame_arithmetic(cut_video, short_side):
    """425 frames: two batches of 256 and a partial one; every value exactly as computed per frame."""
    analysis = analyse_video(cut_video, short_side=short_side, grid=3)
    times, scores, prints = _reference_analysis(cut_video, short_side, 3)
    assert len(analysis.times) == 425
    assert np.array_equal(analysis.times, times - analysis.start_time)
    assert np.array_equal(analysis.scores, scores)
    assert np.array_equal(analysis.fingerprints, prints)


def test_frame_times_are_the_correctly_rounded_fractions():
    from fractions import Fraction

    from acav.clip_segmentation.scores import frame_times

    rng = np.random.default_rng(3)
    for base in (Fraction(1, 12800), Fraction(1001, 30000), Fraction(1, 90000), Fraction(7, 3)):
        pts = [int(p) for p in rng.integers(-(10**6), 10**12, size=200)]
        assert frame_times(pts, base).tolist() == [float(p * base) for p in pts]
    huge = [2**60 + 1, 2**61 + 3]  # beyond float64's exact integers: the exact fallback
    assert frame_times(huge, Fraction(1, 3)).tolist() == [float(p * Fraction(1, 3)) for p in huge]
