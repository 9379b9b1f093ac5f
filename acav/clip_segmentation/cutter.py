"""Frame-accurate clip cutting with the ffmpeg binary (re-encoding H.264 + AAC).

``-ss`` before ``-i`` with re-encoding seeks to the keyframe before the start, decodes from there
and drops every frame earlier than the start, so the clip begins exactly at the requested frame;
``-t`` then keeps frames whose shifted timestamp is below the length. We pass the start as the
frame time rounded DOWN to whole microseconds (ffmpeg's time unit): rounding up could drop the
intended first frame. The clip appears atomically (temporary name, then rename).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from acav.core.atomic import atomic_path
from acav.core.media import run_ffmpeg


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
) -> Path:
    """Write ``[start, start + length)`` of ``source`` to ``destination`` (mp4); raises MediaError."""
    destination = Path(destination)
    args = [
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
    if with_audio:
        args += ["-map", "0:a:0", "-c:a", "aac", "-b:a", audio_bitrate]
    if video_filter:
        args += ["-vf", video_filter]
    args += ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p"]
    if threads > 0:
        args += ["-threads", str(threads)]
    with atomic_path(destination) as tmp:
        # The temporary name has no .mp4 suffix, so the container is named explicitly.
        run_ffmpeg([*args, "-movflags", "+faststart", "-f", "mp4", str(tmp)], timeout=timeout)
    return destination
