"""One decode pass per video: scdet-equivalent cut scores and per-frame fingerprints.

ffmpeg's ``scdet`` filter (libavfilter/vf_scdet.c) scores each frame against the previous one:
``mafd = SAD / pixels * 100 / 2**bitdepth`` over the luma plane only (for planar YUV input), then
``score = clip(min(mafd, |mafd - prev_mafd|), 0, 100)``; the very first frame scores 0 and
``prev_mafd`` starts at 0. A cut is reported at a frame whose score is >= the threshold.

We compute the same arithmetic on frames reduced to a small size (default short side 64 px) in
YUV 4:2:0, taking the Y plane as is (no range expansion, so the numbers match scdet's; converting to
``gray`` would stretch limited-range luma by 255/219 and inflate every score by ~16 %). Reducing
the size averages away fine texture, so the scores of clear cuts (large-area changes) stay within
a fraction of a percent of scdet's at full resolution, while motion of small details scores a bit
lower. The scores are cached, so threshold annealing re-thresholds them in memory instead of
decoding again.

The same pass keeps a small fingerprint per frame: mean Y, U and V over a GRID x GRID grid
(colour-aware, like a tiny thumbnail), used to compare candidate clips (see diversity.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from acav.core.decode import iter_video_frames, output_size
from acav.core.media import MediaError


@dataclass
class VideoAnalysis:
    times: np.ndarray  # [T] float64 frame times (s) relative to the container start, like ffmpeg -ss
    scores: np.ndarray  # [T] float64 scdet scores in percent; scores[0] == 0
    fingerprints: np.ndarray  # [T, 3 * grid * grid] uint8 mean Y, U, V per grid cell
    frame_duration: float  # median frame spacing (s)
    start_time: float  # container start time (s) that ``times`` are relative to

    @property
    def end(self) -> float:
        """Time at which the last frame stops being shown (the video's visual duration)."""
        if len(self.times) == 0:
            return 0.0
        return float(self.times[-1] + self.frame_duration)


def _stream_facts(path: str) -> tuple[float, str, int, int]:
    """``(start_time_s, pixel format, width, height)`` of the first video stream."""
    import av

    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise MediaError(f"{path}: no video stream")
            stream = container.streams.video[0]
            start = container.start_time / 1_000_000 if container.start_time is not None else 0.0
            ctx = stream.codec_context
            return start, ctx.format.name if ctx.format is not None else "", ctx.width, ctx.height
    except MediaError:
        raise
    except Exception as exc:
        raise MediaError(f"{path}: cannot open media ({type(exc).__name__}: {exc})") from exc


def _cell_edges(length: int, grid: int) -> np.ndarray:
    return (np.arange(grid) * length) // grid


def _grid_means(plane: np.ndarray, grid: int) -> np.ndarray:
    """Mean of each cell of a grid x grid partition of ``plane`` (integer sums, then one division)."""
    h, w = plane.shape
    rows, cols = _cell_edges(h, grid), _cell_edges(w, grid)
    sums = np.add.reduceat(np.add.reduceat(plane, rows, axis=0, dtype=np.int64), cols, axis=1)
    heights = np.diff(np.append(rows, h))
    widths = np.diff(np.append(cols, w))
    return sums / np.outer(heights, widths)


def analyse_video(path: str | os.PathLike[str], short_side: int = 64, grid: int = 4) -> VideoAnalysis:
    """Decode ``path`` once at reduced size; raise :class:`MediaError` naming the file on failure."""
    path = str(path)
    start_time, pix_fmt, width, height = _stream_facts(path)
    if not width or not height:
        raise MediaError(f"{path}: video stream has no frame size")
    # Full-range sources stay full range, so luma values (and scores) are the ones scdet sees.
    target_fmt = "yuvj420p" if pix_fmt.startswith("yuvj") else "yuv420p"
    out_w, out_h = output_size(width, height, short_side=min(short_side, min(width, height) // 2 * 2))
    luma_size = out_w * out_h
    chroma_h, chroma_w = (out_h + 1) // 2, (out_w + 1) // 2
    chroma_size = chroma_h * chroma_w
    norm = 100.0 / luma_size / 256.0

    times: list[float] = []
    scores: list[float] = []
    prints: list[np.ndarray] = []
    prev: np.ndarray | None = None
    prev_mafd = 0.0
    for t, image in iter_video_frames(path, size=(out_w, out_h), pix_fmt=target_fmt):
        flat = image.reshape(-1)
        luma = flat[:luma_size].reshape(out_h, out_w).astype(np.int16)
        u = flat[luma_size : luma_size + chroma_size].reshape(chroma_h, chroma_w)
        v = flat[luma_size + chroma_size : luma_size + 2 * chroma_size].reshape(chroma_h, chroma_w)
        if prev is None:
            score = 0.0
        else:
            mafd = float(np.abs(luma - prev).sum()) * norm
            score = min(max(min(mafd, abs(mafd - prev_mafd)), 0.0), 100.0)
            prev_mafd = mafd
        prev = luma
        times.append(t - start_time)
        scores.append(score)
        cells = np.concatenate(
            [_grid_means(luma, grid), _grid_means(u, grid), _grid_means(v, grid)], axis=None
        )
        prints.append(np.rint(cells).astype(np.uint8))
    if not times:
        raise MediaError(f"{path}: no video frames could be decoded")
    times_arr = np.asarray(times, dtype=np.float64)
    frame_duration = float(np.median(np.diff(times_arr))) if len(times_arr) > 1 else 0.04
    if frame_duration <= 0:
        frame_duration = 0.04
    return VideoAnalysis(
        times=times_arr,
        scores=np.asarray(scores, dtype=np.float64),
        fingerprints=np.stack(prints),
        frame_duration=frame_duration,
        start_time=start_time,
    )
