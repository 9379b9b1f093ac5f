"""ffmpeg binary lookup, subprocess calls with argument lists, and media probing with PyAV.

There is no ffprobe in the imageio-ffmpeg wheel, so probing goes through PyAV.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


class MediaError(RuntimeError):
    """A media file could not be opened, decoded or written; the message names the file."""


@functools.lru_cache(maxsize=1)
def ffmpeg_binary() -> str:
    """``ffmpeg`` from PATH when present (``$ACAV_FFMPEG`` wins), else the imageio-ffmpeg build."""
    explicit = os.environ.get("ACAV_FFMPEG")
    if explicit:
        return explicit
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


# x264's threaded lookahead (sync-lookahead) makes frame decisions depend on thread timing: the same
# input encoded twice under load gave 3 different files in 12 (docs/RELIABILITY.md). Without it the
# output is a function of the input, the settings and the thread count alone.
X264_REPRODUCIBLE = ["-x264-params", "sync-lookahead=0"]


def run_ffmpeg(args: list[str], timeout: float | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run ffmpeg with an argument list (never a shell string); raise :class:`MediaError` on failure."""
    cmd = [ffmpeg_binary(), "-hide_banner", "-nostdin", *[str(a) for a in args]]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise MediaError(f"ffmpeg timed out after {timeout}s: {' '.join(cmd[3:])}") from exc
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-5:]
        raise MediaError(f"ffmpeg failed (exit {proc.returncode}): {' | '.join(tail)}")
    return proc


@dataclass(frozen=True)
class MediaInfo:
    path: str
    duration: float  # seconds; 0.0 when unknown
    has_video: bool
    has_audio: bool
    width: int = 0
    height: int = 0
    fps: float = 0.0
    video_codec: str = ""
    audio_codec: str = ""
    audio_sample_rate: int = 0


def probe_media(path: str | os.PathLike[str]) -> MediaInfo:
    """Read container/stream facts with PyAV; raise :class:`MediaError` naming the file if unreadable."""
    import av

    path = Path(path)
    try:
        with av.open(str(path)) as container:
            video = container.streams.video[0] if container.streams.video else None
            audio = container.streams.audio[0] if container.streams.audio else None
            duration = 0.0
            if container.duration is not None:
                duration = container.duration / 1_000_000
            elif video is not None and video.duration is not None and video.time_base is not None:
                duration = float(video.duration * video.time_base)
            fps = float(video.average_rate) if video is not None and video.average_rate else 0.0
            return MediaInfo(
                path=str(path),
                duration=duration,
                has_video=video is not None,
                has_audio=audio is not None,
                width=video.codec_context.width if video is not None else 0,
                height=video.codec_context.height if video is not None else 0,
                fps=fps,
                video_codec=video.codec_context.name if video is not None else "",
                audio_codec=audio.codec_context.name if audio is not None else "",
                audio_sample_rate=audio.codec_context.sample_rate if audio is not None else 0,
            )
    except Exception as exc:  # PyAV raises a family of FFmpeg errors plus OSError
        raise MediaError(f"{path}: cannot open media ({type(exc).__name__}: {exc})") from exc
