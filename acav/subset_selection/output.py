"""Write ``output.csv`` (FORMATS.md section 6) joined with the video shards' json metadata.

One headerless line per selected clip, ``SHARD_NAME,FILENAME,YOUTUBE_ID,SEGMENT``, where SEGMENT is
Python's ``str`` of a list of two floats, quoted by the csv writer because it contains a comma:

    shard-000009,qpxektwhzra_292.mp4,qpxektwhzra,"[292.3329999997, 302.3329999997]"

As in the original, metadata is looked up by shard name and clip file stem; a clip without
metadata gets ``-1`` and ``[-1.0, -1.0]``. Lines are sorted by shard, then by the clip's position
in its shard; the file is streamed to a temporary name and renamed, by one writer, with one
shard's metadata in memory at a time.
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain, groupby, islice
from operator import itemgetter
from pathlib import Path
from typing import IO

import numpy as np
import orjson

from acav.core.atomic import atomic_open
from acav.core.ids import output_id_problem
from acav.core.layout import shard_index
from acav.core.logs import get_logger

log = get_logger(__name__)

MISSING_ID = "-1"
MISSING_SEGMENT = [-1.0, -1.0]


_PLAIN_NAME = re.compile(r"[^/]+\.mp4\Z")
# Newline-joined ids that output_id_problem accepts, one regex pass for a whole shard: each is
# [A-Za-z0-9_-]+ and does not start with "-" (the one formula prefix among those characters)
# unless it is an 11-character YouTube id.
_PLAIN_ID = r"(?:[A-Za-z0-9_][A-Za-z0-9_-]*|-[A-Za-z0-9_-]{10})"
_PLAIN_IDS = re.compile(rf"{_PLAIN_ID}(?:\n{_PLAIN_ID})*\Z")


def file_stems(names: list[str]) -> list[str]:
    """``Path(name).stem`` of each name, without building a Path per name when all are plain ``x.mp4``."""
    if all(map(_PLAIN_NAME.match, names)):
        return [name[:-4] for name in names]
    return [Path(name).stem for name in names]


@dataclass
class ShardMetadata:
    """One metadata shard: its rows, ``file stem -> row`` of the usable ones, and whether all are."""

    rows: list
    index: dict[str, int]
    all_valid: bool

    def find(self, stem: str) -> tuple[str, list[float]] | None:
        i = self.index.get(stem)
        if i is None:
            return None
        if not self.all_valid:
            return _parse_meta(self.rows[i])
        row = self.rows[i]  # checked column by column: the same values _parse_meta returns
        segment = row["segment"]
        return row["id"], [float(segment[0]), float(segment[1])]


@dataclass
class MetadataIndex:
    """``{file stem: (id, segment)}`` of one ``videos/shard-NNNNNN.json`` at a time.

    Look-ups should come shard by shard (output.csv is sorted by shard): only the current shard's
    metadata is held, so memory does not grow with the dataset. A shard asked for again is read
    again; its problems are recorded once.
    """

    videos_dir: Path
    problems: list[dict] = field(default_factory=list)
    _current: tuple[str, ShardMetadata] | None = None
    _seen: set[str] = field(default_factory=set)

    def shard(self, shard: str) -> ShardMetadata:
        if self._current is None or self._current[0] != shard:
            self._current = (shard, self._load(shard, record=shard not in self._seen))
            self._seen.add(shard)
        return self._current[1]

    def lookup(self, shard: str, filename: str) -> tuple[str, list[float]] | None:
        return self.shard(shard).find(file_stems([filename])[0])

    def _problem(self, where: str, reason: str, record: bool) -> None:
        if record:
            log.warning("%s: %s", where, reason)
            self.problems.append({"where": where, "reason": reason})

    def _load(self, shard: str, record: bool) -> ShardMetadata:
        none = ShardMetadata([], {}, False)
        try:
            path = self.videos_dir / f"shard-{shard_index(shard):06d}.json"
        except ValueError:
            return none
        if not path.is_file():
            self._problem(str(path), "no metadata file; its clips get id -1 and segment [-1.0, -1.0]", record)
            return none
        try:
            rows = _read_json(path)
            if not isinstance(rows, list):
                raise TypeError("not a JSON list")
        except (OSError, ValueError, TypeError, RecursionError) as exc:
            self._problem(
                str(path), f"unreadable metadata ({type(exc).__name__}: {exc}); its clips get id -1", record
            )
            return none
        if _all_valid(rows):
            stems = file_stems(list(map(itemgetter("filename"), rows)))
            return ShardMetadata(rows, dict(zip(stems, range(len(rows)), strict=True)), True)
        index: dict[str, int] = {}
        for i, row in enumerate(rows):
            if _parse_meta(row) is None:
                self._problem(
                    f"{path}:{i}",
                    "malformed metadata entry (needs filename, an id of [A-Za-z0-9_-] not starting like a "
                    "formula, segment [start, end] of finite numbers)",
                    record,
                )
                continue
            index[file_stems([row["filename"]])[0]] = i
        return ShardMetadata(rows, index, False)


def _read_json(path: Path) -> object:
    """The file's JSON value: orjson (faster) for what it can read, the json module for the rest
    (NaN and Infinity literals, integers beyond 64 bits), so the result is json's."""
    data = path.read_bytes()
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data.decode("utf-8"))


def _all_valid(rows: list) -> bool:
    """True if :func:`_parse_meta` accepts every row (checked column by column; False if unsure)."""
    if not rows or set(map(type, rows)) != {dict}:
        return False
    try:
        names = list(map(itemgetter("filename"), rows))
        ids = list(map(itemgetter("id"), rows))
        segments = list(map(itemgetter("segment"), rows))
    except KeyError:
        return False
    if set(map(type, names)) != {str} or set(map(type, ids)) != {str} or set(map(type, segments)) != {list}:
        return False
    if not _PLAIN_IDS.match("\n".join(ids)) or set(map(len, segments)) != {2}:
        return False
    values = [x for segment in segments for x in segment]
    if not set(map(type, values)) <= {float, int}:
        return False
    try:
        return bool(np.isfinite(np.array(values, dtype=np.float64)).all())
    except OverflowError:  # an int too big for a float: let the row-by-row check decide
        return False


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


# A field with none of these characters is written by the csv module as it is (QUOTE_MINIMAL).
_NEEDS_QUOTING = re.compile(r'[,"\r\n]')


def _shard_rows(shard: str, names: list[str], found: ShardMetadata) -> tuple[list[list[str]], int]:
    """``[shard, filename, id, segment]`` per clip of one shard (segment: Python's str of a list of
    two floats), and how many clips lacked metadata."""
    metas = [found.find(stem) for stem in file_stems(names)]
    missing = metas.count(None)
    rows = [
        [shard, name, video_id, str(segment)]
        for name, (video_id, segment) in zip(
            names, ((MISSING_ID, MISSING_SEGMENT) if meta is None else meta for meta in metas), strict=True
        )
    ]
    return rows, missing


def _plain_lines(rows: list[list[str]]) -> str | None:
    """The CSV text of ``rows`` without the csv module (about 3x cheaper) when no field but the
    segment needs quoting, as in the common case; None otherwise."""
    if _NEEDS_QUOTING.search("".join(chain.from_iterable(row[:3] for row in rows))):
        return None
    if any('"' in row[3] or "\n" in row[3] or "\r" in row[3] for row in rows):
        return None
    return "".join([f'{shard},{name},{video_id},"{segment}"\n' for shard, name, video_id, segment in rows])


def write_rows(handle: IO[str], clips: Iterable[tuple[str, str]], metadata: MetadataIndex) -> int:
    """Write CSV lines for ``[(shard_name, filename)]`` in the given order; returns how many lacked metadata."""
    missing = 0
    writer = csv.writer(handle, lineterminator="\n")
    for shard, group in groupby(clips, key=itemgetter(0)):  # clips come shard by shard
        rows, lacking = _shard_rows(shard, [filename for _, filename in group], metadata.shard(shard))
        missing += lacking
        text = _plain_lines(rows)
        if text is not None:
            handle.write(text)
        else:
            writer.writerows(rows)
    return missing


def format_rows(clips: list[tuple[str, str]], metadata: MetadataIndex) -> tuple[str, int]:
    """CSV text for ``[(shard_name, filename)]`` in the given order, and how many lacked metadata."""
    buffer = io.StringIO()
    missing = write_rows(buffer, clips, metadata)
    return buffer.getvalue(), missing


def write_output_csv(path: Path, clips: Iterable[tuple[str, str]], metadata: MetadataIndex) -> int:
    """Stream all selected clips into ``path`` atomically; returns the number of clips without metadata."""
    with atomic_open(path, "w", newline="") as handle:
        return write_rows(handle, clips, metadata)


def write_selection_order(path: Path, steps: Iterable[list]) -> None:
    """``SHARD_NAME,FILENAME,PARTITION,STEP`` per selected clip whose greedy step is known (the
    order clips were added within their partition, 1-based); read by ``acav export``."""
    with atomic_open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        steps = iter(steps)
        while chunk := list(islice(steps, 10_000)):
            names = "".join(chain.from_iterable((str(row[0]), str(row[1])) for row in chunk))
            if _NEEDS_QUOTING.search(names):
                writer.writerows(chunk)
            else:  # numbers never need quoting; plain names neither: the csv module's text, cheaper
                handle.write(
                    "".join([f"{shard},{name},{number},{step}\n" for shard, name, number, step in chunk])
                )
