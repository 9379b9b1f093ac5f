"""Fixtures for the rebuild tests: a source directory of small real videos named by id."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def source_dir(make_video, tmp_path: Path) -> Callable[[dict[str, float]], Path]:
    """``source_dir({"AAAAAAAAAAA": 12.0})`` -> a directory of ``{id}.mp4`` videos of those lengths
    (64x48, 5 fps, a 440 Hz tone), made with the real encoder."""

    def make(lengths: dict[str, float]) -> Path:
        directory = tmp_path / "source"
        colours = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30)]
        for i, (video_id, seconds) in enumerate(sorted(lengths.items())):
            make_video(
                f"{video_id}.mp4",
                shots=((seconds, colours[i % len(colours)]),),
                size=(64, 48),
                fps=5.0,
                sample_rate=8000,
                directory=directory,
            )
        return directory

    return make
