"""Helpers for the reliability tests: processes that hold locks or write temps, metadata lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = str(ROOT) + os.pathsep + out.get("PYTHONPATH", "")
    out["ACAV_PROGRESS"] = "0"
    return out


def acav(*args: str, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess[str]:
    """Run ``python -m acav ARGS`` in a child process (its own logging, its own exit code)."""
    return subprocess.run(
        [sys.executable, "-m", "acav", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env(),
        **kwargs,
    )


def hold_lock(data_dir: Path, command: str = "segment") -> subprocess.Popen:
    """A live process holding ``data_dir``'s run lock (as a running stage does) until killed."""
    code = (
        "import sys, time\n"
        "from acav.core.runlock import directory_lock\n"
        "with directory_lock(sys.argv[1], sys.argv[2]):\n"
        "    print('locked', flush=True)\n"
        "    time.sleep(600)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(data_dir), command], stdout=subprocess.PIPE, text=True, env=env()
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if line.strip() != "locked":
        proc.kill()
        raise RuntimeError(f"lock holder did not start (exit {proc.wait()})")
    return proc


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    time.sleep(0.05)
    return proc.pid


def metadata_line(
    video_id: str, title: str = "Waves crashing on the rocks at sunset", length: int = 120
) -> bytes:
    feature = {
        "Title": title,
        "Description": "Recorded on the coast with a handheld camera, just the sound of the sea.",
        "YouTubeCategory": "Travel & Events",
        "VideoLength": str(length),
    }
    body = {"MediaVersionList": [{"Duration": str(length - 1)}], "LatestDAFeature": feature}
    return (video_id + "\t" + json.dumps(body) + "\n").encode()
