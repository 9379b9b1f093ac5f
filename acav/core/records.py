"""Per-item records (JSON Lines) so that every item ends as kept, rejected or failed in a readable file."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class JsonlWriter:
    """Append-only JSONL log, one record per line; safe to share between threads and processes.

    Appending (not rewriting) keeps the history of every attempt across resumed runs. Each record
    goes out as one ``os.write`` on an ``O_APPEND`` descriptor, so records written by several
    processes (e.g. one per GPU) land whole, never interleaved inside a line.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        torn = _ends_without_newline(self.path)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        self._lock = threading.Lock()
        if torn:
            # A writer killed mid-line left a partial record: end it, so our first record stays
            # whole (readers skip the torn line; they never lose the next one).
            self._write_bytes(b"\n")

    def _write_bytes(self, data: bytes) -> None:
        if self._fd is None:
            raise ValueError(f"{self.path}: log already closed")
        view = memoryview(data)
        while view:  # os.write may write less than asked (rare on regular files)
            written = os.write(self._fd, view)
            view = view[written:]

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            self._write_bytes(line.encode("utf-8"))

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _ends_without_newline(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell() == 0:
                return False
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) != b"\n"
    except FileNotFoundError:
        return False


def read_jsonl(path: str | os.PathLike[str], skip_bad: bool = True) -> Iterator[dict[str, Any]]:
    """Yield records; a torn last line (interrupted writer) is skipped when ``skip_bad``."""
    path = Path(path)
    if not path.exists():
        return
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except (json.JSONDecodeError, RecursionError) as exc:
                if not skip_bad:
                    raise ValueError(f"{path}:{number}: invalid JSON line ({exc})") from exc
