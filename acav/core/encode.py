"""Writing mp4 files (H.264 video + AAC audio) from numpy frames and audio with the ffmpeg binary.

Used by the demo generator and by tests that need real media. Frames are streamed to ffmpeg's
stdin as raw RGB, so memory stays bounded by one frame; audio goes through a temporary WAV file.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import wave
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from acav.core.atomic import atomic_path
from acav.core.media import X264_REPRODUCIBLE, MediaError, ffmpeg_binary


def write_wav(path: str | os.PathLike[str], audio: np.ndarray, sample_rate: int) -> None:
    """Write float audio in [-1, 1] (shape [samples] or [samples, channels]) as 16-bit PCM WAV."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[:, None]
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(pcm.shape[1])
        handle.setsampwidth(2)
        handle.setframerate(sample_rate)
        handle.writeframes(pcm.tobytes())


def encode_mp4(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    *,
    width: int,
    height: int,
    fps: float,
    audio: np.ndarray | None = None,
    sample_rate: int = 44100,
    crf: int = 23,
    preset: str = "veryfast",
    gop: int | None = None,
    timeout: float | None = 600,
) -> Path:
    """Encode ``frames`` (uint8 [height, width, 3] each) and optional ``audio`` into an mp4 at ``path``.

    The file appears atomically. ``gop`` sets the keyframe interval (default: ffmpeg's).
    """
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="acav-encode-") as tmp:
        cmd = [
            ffmpeg_binary(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{width}x{height}",
            "-r",
            f"{fps}",
            "-i",
            "pipe:0",
        ]
        if audio is not None:
            wav = Path(tmp) / "audio.wav"
            write_wav(wav, audio, sample_rate)
            cmd += ["-i", str(wav)]
        cmd += ["-map", "0:v:0"]
        if audio is not None:
            cmd += ["-map", "1:a:0", "-c:a", "aac", "-b:a", "96k", "-shortest"]
        cmd += ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p"]
        cmd += X264_REPRODUCIBLE
        if gop is not None:
            cmd += ["-g", str(gop)]
        with atomic_path(path) as out:
            cmd += ["-movflags", "+faststart", "-f", "mp4", str(out)]
            # stderr goes to a file: a pipe nobody reads while we write stdin could fill and deadlock.
            err_path = Path(tmp) / "ffmpeg.err"
            with open(err_path, "wb") as err_file:
                proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=err_file)
                assert proc.stdin is not None
                try:
                    for frame in frames:
                        if frame.shape != (height, width, 3) or frame.dtype != np.uint8:
                            raise ValueError(
                                f"frame shape {frame.shape} {frame.dtype}, expected ({height}, {width}, 3) uint8"
                            )
                        proc.stdin.write(np.ascontiguousarray(frame).tobytes())
                    proc.stdin.close()
                    proc.wait(timeout=timeout)
                except BaseException:
                    proc.kill()
                    proc.wait()
                    raise
            if proc.returncode != 0:
                message = err_path.read_text("utf-8", "replace").strip()[-500:]
                raise MediaError(f"ffmpeg could not encode {path}: {message}")
    return path
