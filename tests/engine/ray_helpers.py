"""Find and kill busy Ray worker processes by their process title (``ray::_call``, ``ray::_Actor``)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def ray_workers(title: str) -> list[int]:
    """Pids of this machine's processes whose title starts with ``title`` (Ray names busy workers so)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmdline.startswith(title):
            pids.append(int(entry.name))
    return pids


def kill_one_busy_worker(title: str, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = ray_workers(title)
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            return pids[0]
        time.sleep(0.05)
    raise AssertionError(f"no Ray worker titled {title!r} appeared within {timeout} s")
