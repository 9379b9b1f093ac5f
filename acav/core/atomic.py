"""Atomic file writes: write to a temporary name beside the target, then rename.

A reader (or a resumed run) therefore sees either the old file, or the complete new one,
never a partial file. Temporary names are ``{name}.tmp-{pid}-{random}``: easy to spot, and
:func:`remove_stale_temps` deletes only those whose writing process is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from acav.core.runlock import pid_alive

TMP_MARKER = ".tmp-"


def temp_path_for(path: str | os.PathLike[str]) -> Path:
    """A unique temporary path in the same directory as ``path`` (same filesystem, so rename is atomic)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f"{path.name}{TMP_MARKER}{os.getpid()}-", dir=path.parent)
    try:
        # mkstemp creates 0600 files; outputs get the usual permissions (0666 less the umask).
        os.fchmod(fd, 0o666 & ~_umask())
    finally:
        os.close(fd)
    return Path(name)


def _umask() -> int:
    # Read it without os.umask(), which has to set a value to read one (racy with other threads).
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path; on success it is renamed onto ``path``, on error it is removed.

    Use this when another tool (ffmpeg, tarfile, yt-dlp) writes the file itself.
    """
    target = Path(path)
    tmp = temp_path_for(target)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file for writing; it replaces ``path`` only if the block succeeds."""
    if not mode.startswith("w"):
        raise ValueError(f"atomic_open only writes (mode 'w'/'wb'), got {mode!r}")
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
    with atomic_path(path) as tmp:
        with open(tmp, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_open(path, "w", newline="") as handle:
        handle.write(text)


def atomic_write_json(path: str | os.PathLike[str], obj: Any, indent: int | None = 2) -> None:
    text = json.dumps(obj, indent=indent, ensure_ascii=False, sort_keys=False)
    atomic_write_text(path, text + "\n")


def atomic_write_pickle(path: str | os.PathLike[str], obj: Any) -> None:
    with atomic_open(path, "wb") as handle:
        pickle.dump(obj, handle, protocol=pickle.HIGHEST_PROTOCOL)


def temp_owner(name: str) -> int | None:
    """The pid in a temporary name ``x.tmp-{pid}-...``; None for names without one (older runs)."""
    _, marker, rest = name.partition(TMP_MARKER)
    pid, dash, _ = rest.partition("-")
    return int(pid) if marker and dash and pid.isdigit() else None


def remove_stale_temps(directory: str | os.PathLike[str]) -> int:
    """Delete temporary files of dead processes in ``directory``; returns how many.

    A temp whose pid is alive belongs to a running writer (e.g. a stage whose wrapper was killed)
    and is kept. Names without a pid come from older versions and are removed.
    """
    removed = 0
    directory = Path(directory)
    if not directory.is_dir():
        return 0
    for entry in directory.iterdir():
        if TMP_MARKER not in entry.name or not entry.is_file():
            continue
        owner = temp_owner(entry.name)
        if owner is not None and pid_alive(owner):
            continue
        with contextlib.suppress(FileNotFoundError):
            entry.unlink()
            removed += 1
    return removed
