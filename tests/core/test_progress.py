"""Progress reporting: a bar on a terminal, plain periodic log lines in files/pipes, nothing with -q;
and once-per-run notices shared by the stages of one run.sh."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys

import pytest
from tqdm import tqdm

from acav.core import logs
from acav.core.logs import LineProgress, once_per_run, progress, progress_mode, setup_logging


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def restore_quiet():
    yield
    setup_logging(0)


def test_mode_follows_stderr_quiet_and_env(monkeypatch, restore_quiet) -> None:
    monkeypatch.delenv("ACAV_PROGRESS", raising=False)
    setup_logging(0)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress_mode() == "lines"
    assert isinstance(progress(total=3, desc="x"), LineProgress)
    monkeypatch.setattr(sys, "stderr", _Tty())
    assert progress_mode() == "bar"
    bar = progress(total=3, desc="x")
    assert isinstance(bar, tqdm) and not bar.disable
    bar.close()
    setup_logging(-1)  # -q
    assert progress_mode() == "off"
    bar = progress(total=3)
    assert isinstance(bar, tqdm) and bar.disable
    setup_logging(0)
    monkeypatch.setenv("ACAV_PROGRESS", "0")
    assert progress_mode() == "off"
    monkeypatch.setenv("ACAV_PROGRESS", "lines")
    assert progress_mode() == "lines"


def test_line_progress_logs_plain_periodic_lines() -> None:
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logger = logging.getLogger("acav.test_progress")
    logger.setLevel(logging.INFO)
    logger.addHandler(Collect())
    bar = LineProgress(total=4, desc="segment", unit="video", interval=0.0, logger=logger)
    with bar:
        bar.update(1)
        bar.set_postfix({"ok": 1, "failed": 0})
        bar.update(3)
    assert records[0].startswith("segment: 1/4 video (25%)")
    assert records[1].startswith("segment: 4/4 video (100%)") and records[1].endswith("ok=1, failed=0")
    assert records[-1].endswith("(done)") and len(records) == 3
    assert not any("\r" in r for r in records)
    # iterating counts the items; a long interval keeps short steps silent
    records.clear()
    quiet = LineProgress(["a", "b"], desc="scan", logger=logger, interval=3600)
    assert list(quiet) == ["a", "b"] and quiet.n == 2 and records == []


def test_a_stage_writing_to_a_file_has_no_carriage_returns(tmp_path) -> None:
    """A real command with stderr redirected to a file: plain lines, no tqdm control characters."""
    code = (
        "from acav.core.logs import progress, setup_logging\n"
        "setup_logging(0)\n"
        "for _ in progress(range(50), desc='work', unit='item'): pass\n"
    )
    env = dict(os.environ, ACAV_PROGRESS_INTERVAL="0")
    env.pop("ACAV_PROGRESS", None)
    with open(tmp_path / "err.log", "w") as err:
        subprocess.run([sys.executable, "-c", code], stderr=err, env=env, check=True, timeout=60)
    text = (tmp_path / "err.log").read_text()
    assert "\r" not in text and "work: 50/50 item (100%)" in text
    env["ACAV_PROGRESS"] = "0"
    with open(tmp_path / "err2.log", "w") as err:
        subprocess.run([sys.executable, "-c", code], stderr=err, env=env, check=True, timeout=60)
    assert (tmp_path / "err2.log").read_text() == ""


def test_once_per_run_shares_a_marker_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ACAV_RUN_DIR", str(tmp_path))
    assert once_per_run("cpu-fallback no GPU") is True
    assert once_per_run("cpu-fallback no GPU") is False
    assert once_per_run("another notice") is True
    # another process of the same run (the next stage) sees the marker
    code = "from acav.core.logs import once_per_run; print(once_per_run('cpu-fallback no GPU'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    monkeypatch.delenv("ACAV_RUN_DIR")
    assert once_per_run("cpu-fallback no GPU") is True  # no run: the caller remembers per process
    assert logs.progress_interval() >= 0
