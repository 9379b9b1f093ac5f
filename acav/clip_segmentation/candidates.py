"""Candidate clip windows: the clip-length window centred in each long-enough shot, on the frame grid.

Windows are placed on the source's frame grid so that the cut (see cutter.py) starts exactly at a
frame and the segment we record is the one the clip really holds: frames ``first..last`` inclusive,
``start = times[first]``, ``end = times[last] + frame_duration``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from acav.clip_segmentation.scores import VideoAnalysis

_EPS = 1e-6


@dataclass(frozen=True)
class Window:
    first: int  # index of the first frame in the clip
    last: int  # index of the last frame in the clip (inclusive)
    start: float  # times[first]: the true start (s)
    end: float  # times[last] + frame duration: the true end (s)
    shot: tuple[float, float]  # the shot the window was centred in ((0, video end) for the fallback)


def frames_in_clip(times: np.ndarray, first: int, length: float) -> int:
    """Index of the last frame ffmpeg keeps for ``-ss times[first] -t length``: frames with
    ``t - start < length`` (the output duration limit compares shifted timestamps)."""
    start = times[first]
    last = int(np.searchsorted(times, start + length - _EPS, side="left")) - 1
    return max(last, first)


def centred_window(analysis: VideoAnalysis, shot: tuple[float, float], length: float) -> Window:
    """The ``length``-second window centred in ``shot``, snapped to the nearest frame, kept inside the shot."""
    times = analysis.times
    dur = analysis.frame_duration
    a, b = shot
    wanted = a + (b - a - length) / 2.0
    first_in_shot = int(np.searchsorted(times, a - _EPS, side="left"))
    first = int(np.argmin(np.abs(times - wanted)))
    first = max(first, first_in_shot)
    last = frames_in_clip(times, first, length)
    # Rounding to the frame grid may push the end past the shot by a fraction of a frame: step back.
    while first > first_in_shot and times[last] + dur > b + _EPS:
        first -= 1
        last = frames_in_clip(times, first, length)
    return Window(first=first, last=last, start=float(times[first]), end=float(times[last] + dur), shot=shot)


def plan_windows(
    analysis: VideoAnalysis, long_shots: list[tuple[float, float]], length: float
) -> tuple[list[Window], bool]:
    """``(windows, is_fallback)``: one centred window per long shot, or else the centred window of
    the whole video; no window when the video is shorter than ``length``."""
    if analysis.end < length - _EPS:
        return [], False
    if long_shots:
        return [centred_window(analysis, shot, length) for shot in long_shots], False
    return [centred_window(analysis, (0.0, analysis.end), length)], True
