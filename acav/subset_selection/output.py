"""Write ``output.csv`` (FORMATS.md section 6) joined with the video shards' json metadata.

One headerless line per selected clip, ``SHARD_NAME,FILENAME,YOUTUBE_ID,SEGMENT``, where SEGMENT is
Python's ``str`` of a list of two floats, quoted by the csv writer because it contains a comma:

    shard-000009,qpxektwhzra_292.mp4,qpxektwhzra,"[292.3329999997, 302.3329999997]"

As in the original, metadata is looked up by shard name and clip file stem; a clip without
metadata gets ``-1`` and ``[-1.0, -1.0]``. Lines are sorted by shard, then by the clip's position
in its shard; the file is written atomically, once, by one writer.
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path

from acav.core.atomic import atomic_write_text
from acav.core.ids import output_id_problem
from acav.core.layout import shard_index
from acav.core.logs import get_logger

log = get_logger(__name__)

MISSING_ID = "-1"
MISSING_SEGMENT = [-1.0, -1.0]


@dataclass
class MetadataIndex:
    """Lazily loaded ``{shard: {file stem: (id, segment)}}`` from ``videos/shard-NNNNNN.json``."""

    videos_dir: Path
    problems: list[dict] = field(default_factory=list)
    _cache: dict[str, dict[str, tuple[str, list[float]]]] = field(default_factory=dict)

    def lookup(self, shard: str, filename: str) -> tuple[str, list[float]] | None:
        if shard not in self._cache:
            self._cache[shard] = self._load(shard)
        return self._cache[shard].get(Path(filename).stem)

    def _problem(self, where: str, reason: str) -> None:
        log.warning("%s: %s", where, reason)
        self.problems.append({"where": where, "reason": reason})

    def _load(self, shard: str) -> dict[str, tuple[str, list[float]]]:
        try:
            path = self.videos_dir / f"shard-{shard_index(shard):06d}.json"
        except ValueError:
            return {}
        if not path.is_file():
            self._problem(str(path), "no metadata file; its clips get id -1 and segment [-1.0, -1.0]")
            return {}
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(rows, list):
                raise TypeError("not a JSON list")
        except (OSError, ValueError, TypeError, RecursionError) as exc:
            self._problem(
                str(path), f"unreadable metadata ({type(exc).__name__}: {exc}); its clips get id -1"
            )
            return {}
        out: dict[str, tuple[str, list[float]]] = {}
        for i, row in enumerate(rows):
            parsed = _parse_meta(row)
            if parsed is None:
                self._problem(
                    f"{path}:{i}",
                    "malformed metadata entry (needs filename, an id of [A-Za-z0-9_-] not starting like a "
                    "formula, segment [start, end] of finite numbers)",
                )
                continue
            out[Path(row["filename"]).stem] = parsed
        return out


def _parse_meta(row: object) -> tuple[str, list[float]] | None:
    if not isinstance(row, dict) or not isinstance(row.get("filename"), str):
        return None
    video_id, segment = row.get("id"), row.get("segment")
    if not isinstance(video_id, str | int) or isinstance(video_id, bool):
        return None
    if output_id_problem(str(video_id)) is not None:
        return None  # control characters, commas, quotes, formula prefixes (acav.core.ids)
    if not isinstance(segment, list | tuple) or len(segment) != 2:
        return None
    if not all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x in segment):
        return None
    if not all(math.isfinite(x) for x in segment):
        return None
    return str(video_id), [float(segment[0]), float(segment[1])]


def format_rows(clips: list[tuple[str, str]], metadata: MetadataIndex) -> tuple[str, int]:
    """CSV text for ``[(shard_name, filename)]`` in the given order, and how many lacked metadata."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    missing = 0
    for shard, filename in clips:
        found = metadata.lookup(shard, filename)
        if found is None:
            missing += 1
            video_id, segment = MISSING_ID, MISSING_SEGMENT
        else:
            video_id, segment = found
        writer.writerow([shard, filename, video_id, str(segment)])
    return buffer.getvalue(), missing


def write_output_csv(path: Path, clips: list[tuple[str, str]], metadata: MetadataIndex) -> int:
    """Write all selected clips atomically; returns the number of clips without metadata."""
    text, missing = format_rows(clips, metadata)
    atomic_write_text(path, text)
    return missing


def write_selection_order(path: Path, steps: list[list]) -> None:
    """``SHARD_NAME,FILENAME,PARTITION,STEP`` per selected clip whose greedy step is known (the
    order clips were added within their partition, 1-based); read by ``acav export``."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(steps)
    atomic_write_text(path, buffer.getvalue())
