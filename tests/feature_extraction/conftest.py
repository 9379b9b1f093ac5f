"""Fixtures for stage-4 tests: real mp4 clips (via ``make_video``) packed into real WebDataset shards."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fe_helpers import tone


@pytest.fixture
def clip_bytes(make_video: Callable[..., Path]) -> Callable[..., bytes]:
    """``clip_bytes(colour=(r, g, b), freq=440.0, seconds=2.0, audio=True)`` -> mp4 bytes of a small clip."""
    cache: dict[tuple, bytes] = {}

    def factory(
        colour: tuple[int, int, int] = (200, 30, 30),
        freq: float | None = 440.0,
        seconds: float = 2.0,
        audio: bool | np.ndarray = True,
        size: tuple[int, int] = (96, 64),
    ) -> bytes:
        key = (colour, freq, seconds, audio if isinstance(audio, bool) else audio.tobytes(), size)
        if key not in cache:
            sound: bool | np.ndarray = audio
            if audio is True and freq is not None:
                sound = tone(seconds, freq)
            path = make_video(f"clip{len(cache)}.mp4", shots=[(seconds, colour)], audio=sound, size=size)
            cache[key] = path.read_bytes()
        return cache[key]

    return factory
