"""One writer per directory: the run lock every stage takes, and the liveness of process ids.

:func:`directory_lock` takes an exclusive ``flock`` on a lock file in the directory for the whole
run. The kernel drops it when the process (and every child that inherited the descriptor) is
gone, so a run killed with ``kill -9`` never leaves a stale lock. The lock file records who holds
it (pid, command, host, start time) for the message a second writer gets.

Stages 3-6 lock the data directory (:data:`DATA_LOCK_NAME`): while one ``acav segment``/``extract``/
``cluster``/``select`` writes there, a second one of any of them is refused. Stage 2 locks its
output directory (``videos/raw``), so a download may run beside them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from acav.core.errors import UserError

DATA_LOCK_NAME = ".acav.lock"


class AlreadyRunning(UserError):
    """Another live process holds the directory's run lock."""


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return "another process"
    fields = dict(part.split("=", 1) for part in text.split() if "=" in part)
    if "pid" not in fields:
        return "another process"
    return f"'acav {fields.get('command', '?')}' (pid {fields['pid']} on {fields.get('host', '?')}, since {fields.get('since', '?')})"


@contextlib.contextmanager
def directory_lock(
    directory: str | os.PathLike[str], command: str, lock_name: str = DATA_LOCK_NAME
) -> Iterator[None]:
    """Hold ``directory/lock_name`` exclusively for the block; :class:`AlreadyRunning` if it is taken."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / lock_name
    handle = open(path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise AlreadyRunning(
                f"{_holder(path)} is writing to {directory} (lock {path}); wait for it to finish or stop "
                f"it, then re-run; or use another data directory. Nothing was changed."
            ) from exc
        handle.seek(0)
        handle.truncate()
        since = time.strftime("%Y-%m-%dT%H:%M:%S")
        handle.write(f"pid={os.getpid()} command={command} host={socket.gethostname()} since={since}\n")
        handle.flush()
        yield
    finally:
        handle.close()
