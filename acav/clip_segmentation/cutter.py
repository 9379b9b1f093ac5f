"""Clip cutting with the ffmpeg binary, in one of three modes (``--cut-mode``).

- ``accurate`` (default): frame-accurate re-encode (H.264 + AAC, ``--preset``/``--crf``).
  ``-ss`` before ``-i`` with re-encoding seeks to the keyframe before the start, decodes from there
  and drops every frame earlier than the start, so the clip begins exactly at the requested frame;
  ``-t`` then keeps frames whose shifted timestamp is below the length.
- ``fast``: the same frame-accurate video re-encode with x264's ``ultrafast`` preset (larger files,
  slightly lower quality at the same CRF) and the audio stream-copied, not re-encoded: AAC encoding
  cost more than the ultrafast video (0.14 of 0.26 CPU-s per 10 s clip at 320x240). The copied
  audio starts at the packet holding the start; the edit list hides the samples before it, so an
  edit-list-aware decoder (FFmpeg, PyAV: every reader of this project) starts at the exact sample
  (measured: lag 0, the source's own samples); see benchmarks/README.md.
- ``copy``: the original release's ``-c copy``: no re-encoding at all (the cheapest by far), but
  the video can only start at a keyframe: packets from the keyframe at or before the start are
  copied and the container's edit list hides the frames before the start from players that honour
  it; the clip's content is therefore not cut at the exact frame for every reader.

We pass the start as the frame time rounded DOWN to whole microseconds (ffmpeg's time unit):
rounding up could drop the intended first frame. The clip appears atomically (temporary name,
then rename).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from acav.core.atomic import atomic_path
from acav.core.logs import get_logger
from acav.core.media import X264_REPRODUCIBLE, FfmpegStalled, run_ffmpeg


def format_seconds_floor(seconds: float) -> str:
    """``seconds`` rounded down to whole microseconds, as an exact decimal string for ffmpeg."""
    micros = max(0, math.floor(seconds * 1_000_000 + 1e-3))
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def scale_filter(width: int, height: int, short_side: int) -> str | None:
    """A ``scale`` filter bringing the short side down to ``short_side`` (never up, even sizes), or None."""
    if short_side <= 0 or min(width, height) <= short_side:
        # libx264 with yuv420p needs even sizes: drop the odd last column/row by scaling.
        return "scale=w=trunc(iw/2)*2:h=trunc(ih/2)*2" if width % 2 or height % 2 else None
    if width <= height:
        return f"scale=w={short_side}:h=-2"
    return f"scale=w=-2:h={short_side}"


CUT_MODES = ("accurate", "fast", "copy")
FAST_PRESET = "ultrafast"


def cut_clip(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    start: float,
    length: float,
    *,
    with_audio: bool = True,
    video_filter: str | None = None,
    crf: int = 23,
    preset: str = "veryfast",
    audio_bitrate: str = "128k",
    threads: int = 0,
    timeout: float | None = 600,
    mode: str = "accurate",
    stall_timeout: float | None = 60,
    stall_retries: int = 1,
) -> Path:
    """Write ``[start, start + length)`` of ``source`` to ``destination`` (mp4); raises MediaError.

    ``mode``: one of :data:`CUT_MODES` (``copy`` ignores the filter and the encoder settings, ``fast``
    the audio bitrate).
    A cut whose ffmpeg stops making progress for ``stall_timeout`` seconds is killed and run again,
    up to ``stall_retries`` times (ffmpeg's rare thread deadlock; see :func:`run_ffmpeg`).
    """
    if mode not in CUT_MODES:
        raise ValueError(f"unknown cut mode {mode!r}; choose one of {', '.join(CUT_MODES)}")
    destination = Path(destination)
    args = ["-threads", str(threads)] if threads > 0 else []  # the decoder's
    args += [
        "-loglevel",
        "error",
        "-y",
        "-ss",
        format_seconds_floor(start),
        "-i",
        str(source),
        "-t",
        f"{length:.6f}",
        "-map",
        "0:v:0",
    ]
    if mode == "copy":
        args += ["-map", "0:a:0", "-c", "copy"] if with_audio else ["-c", "copy"]
    else:
        if with_audio and mode == "fast":
            args += ["-map", "0:a:0", "-c:a", "copy"]
        elif with_audio:
            args += ["-map", "0:a:0", "-c:a", "aac", "-b:a", audio_bitrate]
        if video_filter:
            args += ["-vf", video_filter]
        preset = FAST_PRESET if mode == "fast" else preset
        args += ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p"]
        args += X264_REPRODUCIBLE
    if threads > 0:
        args += ["-threads", str(threads)]  # the encoder's (x264's)
    stalls = 0
    while True:
        try:
            with atomic_path(destination) as tmp:
                # The temporary name has no .mp4 suffix, so the container is named explicitly.
                output = [*args, "-movflags", "+faststart", "-f", "mp4", str(tmp)]
                run_ffmpeg(output, timeout=timeout, stall_timeout=stall_timeout)
            return destination
        except FfmpegStalled as exc:
            stalls += 1
            if stalls > stall_retries:
                raise
            get_logger("clip_segmentation").warning("%s: %s; cutting it again", destination.name, exc)
