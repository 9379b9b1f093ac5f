"""ffmpeg binary lookup, subprocess calls with argument lists, and media probing with PyAV.

There is no ffprobe in the imageio-ffmpeg wheel, so probing goes through PyAV.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO


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


class FfmpegStalled(MediaError):
    """ffmpeg stopped making progress without exiting (see :func:`run_ffmpeg`'s ``stall_timeout``)."""


def run_ffmpeg(
    args: list[str], timeout: float | None = None, stall_timeout: float | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run ffmpeg with an argument list (never a shell string); raise :class:`MediaError` on failure.

    ``stall_timeout``: kill ffmpeg and raise :class:`FfmpegStalled` when its progress (frames,
    output time and size, read from ``-progress``) has not moved for that many seconds. The bundled
    ffmpeg now and then deadlocks in its own threads at zero CPU on an ordinary cut (seen under load;
    the same command run again finishes at once), and a plain ``timeout`` large enough for a slow
    machine would stall a worker for minutes.
    """
    cmd = [ffmpeg_binary(), "-hide_banner", "-nostdin", *[str(a) for a in args]]
    if stall_timeout is not None:
        return _run_watched(cmd, timeout, stall_timeout)
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise MediaError(f"ffmpeg timed out after {timeout}s: {' '.join(cmd[3:])}") from exc
    _check_exit(proc.returncode, proc.stderr)
    return proc


def _check_exit(returncode: int, stderr: bytes) -> None:
    if returncode != 0:
        tail = stderr.decode("utf-8", "replace").strip().splitlines()[-5:]
        raise MediaError(f"ffmpeg failed (exit {returncode}): {' | '.join(tail)}")


# The keys of an ffmpeg -progress block that move while it works.
_PROGRESS_KEYS = (b"frame", b"out_time_us", b"total_size")


def _run_watched(
    cmd: list[str], timeout: float | None, stall_timeout: float
) -> subprocess.CompletedProcess[bytes]:
    watched = [cmd[0], "-progress", "pipe:1", "-nostats", *cmd[1:]]
    last_change = [time.monotonic()]

    def follow(stream: IO[bytes]) -> None:
        state: dict[bytes, bytes] = {}
        seen: tuple[bytes, ...] = ()
        for line in stream:
            key, _, value = line.strip().partition(b"=")
            state[key] = value
            if key == b"progress":  # the end of one block
                now = tuple(state.get(k, b"") for k in _PROGRESS_KEYS)
                if now != seen:
                    seen = now
                    last_change[0] = time.monotonic()

    started = time.monotonic()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(watched, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        reader = threading.Thread(target=follow, args=(proc.stdout,), daemon=True)
        reader.start()
        try:
            while proc.poll() is None:
                now = time.monotonic()
                if now - last_change[0] > stall_timeout:
                    raise FfmpegStalled(
                        f"ffmpeg made no progress for {stall_timeout:g}s (killed): {' '.join(cmd[3:])}"
                    )
                if timeout is not None and now - started > timeout:
                    raise MediaError(f"ffmpeg timed out after {timeout}s: {' '.join(cmd[3:])}")
                time.sleep(0.05)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            reader.join(timeout=5)
            proc.stdout.close()
        err.seek(0)
        stderr = err.read()
    _check_exit(proc.returncode, stderr)
    return subprocess.CompletedProcess(watched, proc.returncode, b"", stderr)


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
