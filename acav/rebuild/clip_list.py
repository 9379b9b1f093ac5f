"""Read a published clip list (``output.csv`` and the same columns as CSV with a header, JSONL or
parquet) into one :class:`ClipRow` per row, validated.

``output.csv`` is headerless: ``SHARD_NAME,FILENAME,YOUTUBE_ID,"[START, END]"`` (docs/FORMATS.md,
section 6). With a header (CSV) or named fields (JSONL, parquet) the columns are found by name:
``shard`` / ``shard_name``, ``filename`` / ``clip``, ``youtube_id`` / ``id`` / ``video_id``, and
``segment`` (a ``"[start, end]"`` string or a two-number list) or ``start`` + ``end``.

Nothing here raises for a bad row: a row that cannot name a clip becomes a ``malformed row`` with
the reason, a row with the ``-1`` placeholder id or segment a ``skipped (-1)`` row. Values from the
list only ever reach a path after validation: the id is 11 characters of ``[A-Za-z0-9_-]`` and the
clip file name is ``{id}_{digits}.mp4``.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from acav.clip_segmentation.runner import clip_filename
from acav.core.ids import is_valid_youtube_id
from acav.core.tables import TableRow, detect_format, read_table

MALFORMED = "malformed row"
PLACEHOLDER = "skipped (-1)"

# The longest YouTube upload is 12 h; later starts are treated as garbage, not as a clip to seek.
MAX_START_SECONDS = 1_000_000.0
_SHOWN = 80

SHARD_COLUMNS = ("shard_name", "shard")
FILENAME_COLUMNS = ("filename", "clip", "file_name")
ID_COLUMNS = ("youtube_id", "id", "video_id", "ytid")
HEADER_NAMES = frozenset(
    (*SHARD_COLUMNS, *FILENAME_COLUMNS, *ID_COLUMNS, "segment", "start", "end", "start_time", "end_time")
)
_CLIP_NAME = re.compile(r"^([A-Za-z0-9_-]{11})_(\d{1,7})\.mp4$")


@dataclass(frozen=True, slots=True)
class ClipRow:
    row: int  # 1-based row number in the list (a header is not counted)
    video_id: str  # validated when status is None; a bounded repr of the raw value otherwise
    filename: str  # the clip file we write (validated), or "" for rows not rebuilt
    start: float
    end: float
    listed_shard: str  # the list's shard name (shown only, bounded)
    status: str | None = None  # None: to rebuild; else MALFORMED or PLACEHOLDER
    detail: str = ""

    @property
    def wanted(self) -> bool:
        return self.status is None


def shown(value: Any) -> str:
    """A bounded, one-line text of an untrusted value for the status file."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = text.replace("\r", " ").replace("\n", " ")
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    if isinstance(value, str) and len(value) > 40:
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def parse_segment(value: Any) -> tuple[float, float] | str:
    """``"[292.33, 302.33]"`` or ``[292.33, 302.33]`` -> ``(292.33, 302.33)``; else why not."""
    if isinstance(value, str):
        if len(value) > 200:
            return f"segment of {len(value)} characters"
        try:
            value = json.loads(value)
        except ValueError:
            return f"segment {shown(value)} is not a [start, end] list"
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return f"segment {shown(value)} is not a [start, end] list"
    start, end = _number(value[0]), _number(value[1])
    if start is None or end is None:
        return f"segment {shown(value)} does not hold two finite numbers"
    return start, end


def _first(values: dict[str, Any], names: tuple[str, ...]) -> Any:
    lowered = {str(k).strip().lower(): v for k, v in values.items()}
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


def _fields(values: dict[str, Any] | list[str]) -> tuple[Any, Any, Any, Any] | str:
    """``(shard, filename, id, segment)`` of one row, or why they cannot be read."""
    if isinstance(values, list):
        if len(values) != 4:
            return f"{len(values)} fields, expected 4 (shard, filename, youtube id, segment)"
        return values[0], values[1], values[2], values[3]
    video_id = _first(values, ID_COLUMNS)
    segment = _first(values, ("segment",))
    if segment is None:
        start, end = _first(values, ("start", "start_time")), _first(values, ("end", "end_time"))
        if start is not None or end is not None:
            segment = [start, end]
    if video_id is None or segment is None:
        return "no youtube_id/id column or no segment (or start and end) column"
    return _first(values, SHARD_COLUMNS), _first(values, FILENAME_COLUMNS), video_id, segment


def _is_placeholder(video_id: Any, segment: tuple[float, float] | str) -> bool:
    if str(video_id).strip() == "-1":
        return True
    return not isinstance(segment, str) and segment == (-1.0, -1.0)


def clip_row(table_row: TableRow, max_clip_length: float) -> ClipRow:
    """Validate one row of the list (never raises)."""
    number = table_row.number

    def bad(reason: str, video_id: Any = "", shard: Any = "") -> ClipRow:
        return ClipRow(number, shown(video_id or ""), "", 0.0, 0.0, shown(shard or ""), MALFORMED, reason)

    if table_row.values is None:
        return bad(table_row.error or "unreadable row")
    fields = _fields(table_row.values)
    if isinstance(fields, str):
        return bad(fields)
    shard, filename, raw_id, raw_segment = fields
    segment = parse_segment(raw_segment)
    if _is_placeholder(raw_id, segment):
        detail = "the list has no metadata for this clip (id or segment -1); nothing to download"
        return ClipRow(number, shown(raw_id), "", -1.0, -1.0, shown(shard or ""), PLACEHOLDER, detail)
    video_id = raw_id.strip() if isinstance(raw_id, str) else raw_id
    if not isinstance(video_id, str) or not is_valid_youtube_id(video_id):
        return bad(f"id {shown(raw_id)} is not an 11-character YouTube id ([A-Za-z0-9_-])", raw_id, shard)
    if isinstance(segment, str):
        return bad(segment, video_id, shard)
    start, end = segment
    if not 0.0 <= start < end:
        return bad(f"segment [{start}, {end}] is not 0 <= start < end", video_id, shard)
    if start > MAX_START_SECONDS:
        return bad(f"segment start {start:g} s is beyond any video", video_id, shard)
    if end - start > max_clip_length:
        return bad(f"segment of {end - start:g} s is longer than --max-clip-length {max_clip_length:g}")
    name = clip_name(filename, video_id, start)
    if name is None:
        return bad(
            f"clip file name {shown(filename)} is not {{id}}_{{seconds}}.mp4 for id {video_id}", video_id
        )
    return ClipRow(number, video_id, name, start, end, shown(shard or ""))


def clip_name(listed: Any, video_id: str, start: float) -> str | None:
    """The listed clip file name when it is ``{video_id}_{digits}.mp4``; the stage 3 name when the
    list has none; None when the listed name is anything else (never used as a path then)."""
    if listed is None or (isinstance(listed, str) and not listed.strip()):
        return clip_filename(video_id, start)
    if not isinstance(listed, str):
        return None
    match = _CLIP_NAME.match(listed.strip())
    if match is None or match.group(1) != video_id:
        return None
    return listed.strip()


def read_clip_list(
    path: str | os.PathLike[str],
    list_format: str = "auto",
    max_clip_length: float = 60.0,
    max_row_bytes: int = 100_000,
) -> Iterator[ClipRow]:
    """One validated :class:`ClipRow` per row of the list, in list order (streamed)."""
    fmt = detect_format(path, list_format)
    if fmt == "tsv":
        fmt = "csv"
    for table_row in read_table(
        path, fmt, header=None, header_names=HEADER_NAMES, max_row_bytes=max_row_bytes
    ):
        yield clip_row(table_row, max_clip_length)
