"""Per-item records (JSON Lines) so that every item ends as kept, rejected or failed in a readable file."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class JsonlWriter:
    """Append-only JSONL log, one flushed line per record; safe to share between threads.

    Appending (not rewriting) keeps the history of every attempt across resumed runs.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        torn = _ends_without_newline(self.path)
        self._handle = open(self.path, "a", encoding="utf-8")
        if torn:
            # A writer killed mid-line left a partial record: end it, so our first record stays
            # whole (readers skip the torn line; they never lose the next one).
            self._handle.write("\n")
            self._handle.flush()
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, default=str)
        with self._lock:
            self._handle.write(line + "\n")
            self._handle.flush()

    def close(self) -> None:
        with self._lock:
            self._handle.close()

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
            except json.JSONDecodeError as exc:
                if not skip_bad:
                    raise ValueError(f"{path}:{number}: invalid JSON line ({exc})") from exc
