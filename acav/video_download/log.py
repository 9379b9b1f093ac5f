"""``download.log.jsonl`` (one record per input id per attempt) and the end-of-run summary.

The log is append-only across runs, so it keeps the history of every attempt; the *last* record
of an id that is not a ``skipped`` record is that id's current outcome (see :func:`last_outcomes`).
"""

from __future__ import annotations

import datetime as _dt
import os
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acav.core.atomic import atomic_write_json
from acav.core.records import JsonlWriter, read_jsonl
from acav.video_download.errors import OTHER, THROTTLING, THROTTLING_HINT, UPDATE_HINT

OK = "ok"
SKIPPED = "skipped"
FAILED = "failed"
STATUSES = (OK, SKIPPED, FAILED)

# Why a record is "skipped" (the ``reason`` field).
ALREADY_PRESENT = "already present"
DUPLICATE = "duplicate"
FILTERED = "filtered"


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_record(
    *,
    video_id: str,
    url: str,
    status: str,
    line: int,
    source: str,
    attempt: int = 1,
    error_class: str | None = None,
    reason: str | None = None,
    message: str = "",
    size: int = 0,
    seconds: float = 0.0,
    **extra: Any,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": video_id,
        "url": url,
        "status": status,
        "error_class": error_class,
        "reason": reason,
        "message": message,
        "bytes": int(size),
        "seconds": round(float(seconds), 3),
        "attempt": attempt,
        "timestamp": utc_now(),
        "line": line,
        "source": source,
    }
    record.update(extra)
    return record


class DownloadLog:
    """Thread-safe writer of log records that also keeps this run's per-id outcome counts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = JsonlWriter(path)
        self._lock = threading.Lock()
        self.records = 0
        self.final_status: Counter[str] = Counter()
        self.failed_by_class: Counter[str] = Counter()
        self.skipped_by_reason: Counter[str] = Counter()
        self.retried = 0
        self.bytes_ok = 0

    def attempt(self, record: dict[str, Any], final: bool) -> None:
        """Append one record; ``final`` marks the id's last record of this run (it is counted)."""
        self._writer.write(record)
        with self._lock:
            self.records += 1
            if not final:
                self.retried += 1
                return
            status = record["status"]
            self.final_status[status] += 1
            if status == FAILED:
                self.failed_by_class[record.get("error_class") or "other"] += 1
            elif status == SKIPPED:
                self.skipped_by_reason[record.get("reason") or "other"] += 1
            elif status == OK:
                self.bytes_ok += int(record.get("bytes") or 0)

    def close(self) -> None:
        self._writer.close()


@dataclass
class Summary:
    input: str
    output_dir: str
    source: str
    mode: str  # "all" or "retry-failed"
    started: str
    finished: str = ""
    seconds: float = 0.0
    ids: int = 0
    status: dict[str, int] = field(default_factory=dict)
    failed_by_class: dict[str, int] = field(default_factory=dict)
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    attempts: int = 0
    retried_attempts: int = 0
    bytes_downloaded: int = 0
    interrupted: bool = False
    pauses: int = 0  # run-wide back-off pauses (YouTube refusing: rate limited, bot check)
    paused_seconds: float = 0.0

    def fill(self, log: DownloadLog, seconds: float) -> Summary:
        self.finished = utc_now()
        self.seconds = round(seconds, 3)
        self.status = {s: log.final_status.get(s, 0) for s in STATUSES}
        self.ids = sum(self.status.values())
        self.failed_by_class = dict(sorted(log.failed_by_class.items()))
        self.skipped_by_reason = dict(sorted(log.skipped_by_reason.items()))
        self.attempts = log.records
        self.retried_attempts = log.retried
        self.bytes_downloaded = log.bytes_ok
        return self

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def write(self, path: Path) -> None:
        atomic_write_json(path, self.to_dict())

    def text(self) -> str:
        lines = [
            f"download {'(retry failed) ' if self.mode == 'retry-failed' else ''}finished"
            f"{' (INTERRUPTED)' if self.interrupted else ''}: {self.ids} id(s) in {self.seconds:.1f}s "
            f"- ok {self.status.get(OK, 0)}, skipped {self.status.get(SKIPPED, 0)}, "
            f"failed {self.status.get(FAILED, 0)}; {self.bytes_downloaded / 1e6:.1f} MB stored",
        ]
        if self.failed_by_class:
            lines.append(
                "  failed by class: " + ", ".join(f"{k}: {v}" for k, v in self.failed_by_class.items())
            )
        if self.skipped_by_reason:
            lines.append(
                "  skipped by reason: " + ", ".join(f"{k}: {v}" for k, v in self.skipped_by_reason.items())
            )
        if self.retried_attempts:
            lines.append(f"  {self.retried_attempts} failed attempt(s) were retried")
        if self.pauses:
            lines.append(
                f"  YouTube refused downloads: the whole run paused {self.pauses} time(s), "
                f"{self.paused_seconds:.0f} s in all"
            )
        if THROTTLING & set(self.failed_by_class):
            lines.append(f"  refused by YouTube (rate limited / bot check): {THROTTLING_HINT}")
        if (THROTTLING | {OTHER}) & set(self.failed_by_class) and self.source != "local":
            lines.append(f"  {UPDATE_HINT}")
        return "\n".join(lines)


def _outcome_records(path: str | os.PathLike[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(id, record)`` for every ``ok``/``failed`` record, in log order."""
    for record in read_jsonl(path):
        video_id = record.get("id")
        if isinstance(video_id, str) and record.get("status") in (OK, FAILED):
            yield video_id, record


def last_outcomes(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """id -> its last ``ok``/``failed`` record (``skipped`` records do not change an id's outcome)."""
    return dict(_outcome_records(path))


def failed_ids(path: str | os.PathLike[str]) -> set[str]:
    """The ids whose last outcome is ``failed`` (what ``--retry-failed`` reruns).

    Keeps one status string per id, not whole records: the log of a run over millions of ids
    must not need gigabytes to pick the few thousand failures.
    """
    last: dict[str, str] = {}
    for video_id, record in _outcome_records(path):
        last[video_id] = record["status"]
    return {video_id for video_id, status in last.items() if status == FAILED}


def failed_reasons(path: str | os.PathLike[str]) -> dict[str, str]:
    """id -> ``"error class: message"`` of the ids whose last outcome is ``failed`` (one string per
    failed id, so a large log costs memory only for its failures)."""
    failed: dict[str, str] = {}
    for video_id, record in _outcome_records(path):
        if record["status"] == FAILED:
            failed[video_id] = f"{record.get('error_class') or OTHER}: {record.get('message') or ''}"
        else:
            failed.pop(video_id, None)
    return failed
