"""The ffmpeg stall watchdog: a cut whose ffmpeg stops making progress is killed and run again.

The real bundled ffmpeg deadlocks too rarely to provoke, so a stand-in program plays ffmpeg here: a
real subprocess that speaks ffmpeg's ``-progress`` protocol and either advances, freezes, or fails.
"""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from acav.clip_segmentation.cutter import cut_clip
from acav.core import media
from acav.core.media import FfmpegStalled, MediaError, run_ffmpeg

# $1.. are ffmpeg's arguments; the last one is the output path. STALL_MARKER: stall only on the
# first run (the marker file records that it ran once).
FAKE_FFMPEG = r"""#!/bin/sh
behaviour="$FAKE_BEHAVIOUR"
for last; do :; done
if [ "$behaviour" = stall-once ]; then
  if [ -e "$STALL_MARKER" ]; then behaviour=advance; else : > "$STALL_MARKER"; behaviour=stall; fi
fi
case "$behaviour" in
  advance)
    for i in 1 2 3; do echo "frame=$i"; echo "out_time_us=${i}00000"; echo "progress=continue"; sleep 0.1; done
    echo "progress=end"; printf 'clip' > "$last"; exit 0 ;;
  stall)
    while true; do echo "frame=0"; echo "out_time_us=0"; echo "progress=continue"; sleep 0.1; done ;;
  fail)
    echo "Invalid data found when processing input" >&2; exit 1 ;;
esac
"""


@pytest.fixture
def fake_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    program = tmp_path / "ffmpeg"
    program.write_text(FAKE_FFMPEG)
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("ACAV_FFMPEG", str(program))
    monkeypatch.setenv("STALL_MARKER", str(tmp_path / "stalled-once"))
    media.ffmpeg_binary.cache_clear()
    yield lambda behaviour: monkeypatch.setenv("FAKE_BEHAVIOUR", behaviour)
    media.ffmpeg_binary.cache_clear()


def test_a_frozen_ffmpeg_is_killed_after_the_stall_timeout(fake_ffmpeg, tmp_path: Path) -> None:
    fake_ffmpeg("stall")
    started = time.monotonic()
    with pytest.raises(FfmpegStalled, match="no progress for 1s"):
        run_ffmpeg(["-i", "in.mp4", str(tmp_path / "out")], stall_timeout=1)
    assert 1 <= time.monotonic() - started < 10  # not the minutes a plain timeout would wait


def test_progress_that_moves_is_not_a_stall(fake_ffmpeg, tmp_path: Path) -> None:
    fake_ffmpeg("advance")
    out = tmp_path / "out"
    proc = run_ffmpeg(["-i", "in.mp4", str(out)], stall_timeout=1)
    assert proc.returncode == 0 and out.read_text() == "clip"


def test_a_failing_ffmpeg_still_reports_its_error(fake_ffmpeg, tmp_path: Path) -> None:
    fake_ffmpeg("fail")
    with pytest.raises(MediaError, match="exit 1.*Invalid data found"):
        run_ffmpeg(["-i", "in.mp4", str(tmp_path / "out")], stall_timeout=1)


def test_cut_clip_runs_a_stalled_cut_once_more(fake_ffmpeg, tmp_path: Path) -> None:
    fake_ffmpeg("stall-once")
    clip = cut_clip(tmp_path / "in.mp4", tmp_path / "v_000.mp4", 5.0, 10.0, stall_timeout=1)
    assert clip.read_text() == "clip"
    assert (tmp_path / "stalled-once").exists()  # the first run did stall


def test_cut_clip_gives_up_after_its_retries(fake_ffmpeg, tmp_path: Path) -> None:
    fake_ffmpeg("stall")
    with pytest.raises(FfmpegStalled):
        cut_clip(tmp_path / "in.mp4", tmp_path / "v_000.mp4", 5.0, 10.0, stall_timeout=0.5, stall_retries=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ffmpeg"]  # no clip, no temporary
