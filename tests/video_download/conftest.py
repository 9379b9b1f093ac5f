"""Fixtures for the download tests: small real videos and a helper to run the stage."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from vd_helpers import write_input

from acav.core.media import run_ffmpeg
from acav.video_download.options import DownloadConfig
from acav.video_download.retry import RetryPolicy
from acav.video_download.runner import DownloadRunner


@pytest.fixture
def media(make_video, tmp_path: Path) -> Callable[[str], Path]:
    """``media(kind)`` -> a small file: ok (1.5 s, video+audio), long (4 s), noaudio, mkv, truncated (long cut in half), garbage."""
    made: dict[str, Path] = {}

    def get(kind: str) -> Path:
        if kind in made:
            return made[kind]
        src = tmp_path / "media"
        if kind == "ok":
            path = make_video("ok.mp4", shots=((1.5, (200, 30, 30)),), size=(64, 48), directory=src)
        elif kind == "ok2":
            path = make_video("ok2.mp4", shots=((1.5, (30, 30, 200)),), size=(64, 48), directory=src)
        elif kind == "long":
            path = make_video("long.mp4", shots=((4.0, (30, 200, 30)),), size=(64, 48), directory=src)
        elif kind == "noaudio":
            path = make_video(
                "noaudio.mp4", shots=((1.5, (90, 90, 90)),), audio=False, size=(64, 48), directory=src
            )
        elif kind == "mkv":
            path = src / "ok.mkv"
            run_ffmpeg(
                ["-loglevel", "error", "-y", "-i", str(get("ok")), "-c", "copy", "-f", "matroska", str(path)]
            )
        elif kind == "truncated":
            data = get("long").read_bytes()  # 4 s, index at the front (+faststart)
            path = src / "truncated.mp4"
            path.write_bytes(data[: len(data) // 2])
        elif kind == "garbage":
            path = src / "garbage.mp4"
            path.write_bytes(b"<html>not a video</html>" * 40)
        else:
            raise KeyError(kind)
        made[kind] = path
        return path

    return get


@pytest.fixture
def run_stage(tmp_path: Path) -> Callable[..., Any]:
    """Run the stage on ``lines`` with fast, deterministic settings; returns the summary."""

    def run(lines: list[str | bytes] | None = None, **options: Any):
        input_path = tmp_path / "filtered.tsv"
        if lines is not None:
            write_input(input_path, lines)
        output_dir = tmp_path / "data" / "videos" / "raw"
        options.setdefault("workers", 2)
        options.setdefault("socket_timeout", 2.0)
        options.setdefault("retries", 2)
        options.setdefault("retry_base_delay", 0.01)
        config = DownloadConfig(**options)
        policy = RetryPolicy(config.retries, config.retry_base_delay, config.retry_max_delay)
        return DownloadRunner(config, input_path, output_dir, policy=policy).run()

    return run


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "data" / "videos" / "raw"


@pytest.fixture
def ctrl_c_handled():
    """Ctrl-C handled by Python in this process, as in a terminal, also when the suite was started
    in the background (a shell starts background jobs with SIGINT ignored, and Python then
    neither installs its handler nor lets ``_thread.interrupt_main`` raise). Yields the
    ``preexec_fn`` that gives a child process the default SIGINT action for the same reason."""
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)
    finally:
        signal.signal(signal.SIGINT, previous)
