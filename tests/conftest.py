"""Shared test fixtures: small real media files made with the real ffmpeg binary."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from acav.core.encode import encode_mp4

os.environ.setdefault("ACAV_PROGRESS", "0")

# A shot is (duration in seconds, RGB colour). Consecutive shots with very different colours give
# hard cuts at known times; a moving bar inside each shot keeps the encoder honest.
Shot = tuple[float, tuple[int, int, int]]


def synth_frames(shots: Sequence[Shot], width: int, height: int, fps: float):
    for duration, colour in shots:
        count = int(round(duration * fps))
        base = np.empty((height, width, 3), dtype=np.uint8)
        base[:] = colour
        for i in range(count):
            frame = base.copy()
            x = int((i * 3) % max(1, width - 8))
            frame[height // 3 : height // 3 + 8, x : x + 8] = 255 - np.asarray(colour, dtype=np.uint8)
            yield frame


def synth_tone(seconds: float, sample_rate: int, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def make_video(tmp_path: Path) -> Callable[..., Path]:
    """``make_video("a.mp4", shots=[(12, (255, 0, 0)), (15, (0, 0, 255))], audio=True)`` -> path.

    ``audio``: True for a 440 Hz tone, False for no audio track, or a float array at ``sample_rate``.
    """

    def factory(
        name: str = "video.mp4",
        shots: Sequence[Shot] = ((12.0, (200, 30, 30)),),
        audio: bool | np.ndarray = True,
        size: tuple[int, int] = (160, 120),
        fps: float = 25.0,
        sample_rate: int = 16000,
        directory: Path | None = None,
    ) -> Path:
        width, height = size
        total = sum(d for d, _ in shots)
        if audio is True:
            audio_data: np.ndarray | None = synth_tone(total, sample_rate)
        elif audio is False:
            audio_data = None
        else:
            audio_data = np.asarray(audio, dtype=np.float32)
        path = (directory or tmp_path) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return encode_mp4(
            path,
            synth_frames(shots, width, height, fps),
            width=width,
            height=height,
            fps=fps,
            audio=audio_data,
            sample_rate=sample_rate,
        )

    return factory
