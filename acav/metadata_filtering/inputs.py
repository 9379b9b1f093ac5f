"""Stage 1 inputs besides ``ID<TAB>JSON``: CSV (with a header), JSON Lines and parquet, any of the
text formats optionally gzipped.

Each row becomes the ``ID<TAB>JSON`` line the rules already read (FORMATS.md section 1), so the
rules, the report and the outputs are the same for every format, and ``filtered.tsv`` is always the
TSV that stage 2 reads. Rows are read streaming (:mod:`acav.core.tables`: CSV and JSONL record by
record with the ``max_line_bytes`` cap, parquet one row group at a time), and every row ends as
kept or rejected: a row that cannot be read is rejected with the reason, numbered like the others
(the rejects file's LINE_NUMBER is the row number, 1 = the first row after a CSV header).

Column mapping (``--columns id=video_id,title=name``; names are matched case-insensitively):

=========== ==================================================== ==================================
field       default column names (first present wins)            becomes
=========== ==================================================== ==================================
id          id, video_id, youtube_id, ytid, url, video_url        the id field (an id or a URL
                                                                  ending in one)
title       title                                                LatestDAFeature.Title
description description, desc                                    LatestDAFeature.Description
category    category, youtube_category, youtubecategory           LatestDAFeature.YouTubeCategory
duration    duration, duration_s, seconds, length                 MediaVersionList[0].Duration
=========== ==================================================== ==================================

``duration`` is the video's length in seconds (not VideoLength, which is one more). Values keep
their type: a number in a title column is rejected as the TSV reader rejects it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from acav.core.config import ConfigError
from acav.core.tables import TableError, TableRow, detect_format, open_binary, read_table
from acav.metadata_filtering.records import Rejection

INPUT_FORMATS = ("auto", "tsv", "csv", "jsonl", "parquet")
FIELDS = ("id", "title", "description", "category", "duration")
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "video_id", "youtube_id", "ytid", "url", "video_url"),
    "title": ("title",),
    "description": ("description", "desc"),
    "category": ("category", "youtube_category", "youtubecategory"),
    "duration": ("duration", "duration_s", "seconds", "length"),
}
_FEATURE_KEYS = {"title": "Title", "description": "Description", "category": "YouTubeCategory"}


def parse_columns(items: list[str]) -> dict[str, str]:
    """``["id=video_id,title=name"]`` -> ``{"id": "video_id", "title": "name"}`` (``url`` means id)."""
    mapping: dict[str, str] = {}
    for item in items:
        for part in item.split(","):
            if not part.strip():
                continue
            field, sep, column = part.partition("=")
            field = field.strip().lower()
            field = "id" if field == "url" else field
            if not sep or not column.strip() or field not in FIELDS:
                raise ConfigError(
                    f"--columns expects FIELD=COLUMN with FIELD one of {', '.join(FIELDS)} (or url), "
                    f"got {part.strip()!r}"
                )
            mapping[field] = column.strip()
    return mapping


class ColumnMap:
    """Finds each field's column in a row; the lookup is cached per set of column names."""

    def __init__(self, explicit: dict[str, str]) -> None:
        self.candidates = {
            field: ((explicit[field].lower(),) if field in explicit else DEFAULT_COLUMNS[field])
            for field in FIELDS
        }
        self._keys: tuple[str, ...] | None = None
        self._resolved: dict[str, str | None] = {}

    def resolve(self, keys: tuple[str, ...]) -> dict[str, str | None]:
        if keys != self._keys:
            lowered = {key.strip().lower(): key for key in keys}
            self._resolved = {
                field: next((lowered[c] for c in names if c in lowered), None)
                for field, names in self.candidates.items()
            }
            self._keys = keys
        return self._resolved


def _error_reason(error: str) -> str:
    """A row-reader error as a rejection reason with the TSV reader's codes."""
    if error.startswith("row too long"):
        return "line too long" + error[len("row too long") :]
    return f"parse: {error}"


def row_to_line(row: TableRow, columns: ColumnMap) -> bytes | Rejection:
    """One row as an ``ID<TAB>JSON`` metadata line, or the reason it cannot be one (never raises)."""
    if row.values is None:
        return Rejection(_error_reason(row.error or "unreadable row"))
    if not isinstance(row.values, dict):
        return Rejection("parse: a row without column names")
    resolved = columns.resolve(tuple(map(str, row.values)))
    column = resolved["id"]
    raw_id = row.values.get(column) if column is not None else None
    if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
        names = "/".join(columns.candidates["id"])
        return Rejection(f"id: missing (no value in column {names}; map it with --columns id=NAME)")
    text_id = str(raw_id).strip()
    if any(c in text_id for c in "\t\r\n"):
        return Rejection("id: holds a tab or a line break")
    feature: dict[str, Any] = {}
    for field, key in _FEATURE_KEYS.items():
        name = resolved[field]
        if name is not None and row.values.get(name) is not None:
            feature[key] = row.values[name]
    record: dict[str, Any] = {"LatestDAFeature": feature}
    name = resolved["duration"]
    duration = row.values.get(name) if name is not None else None
    if duration is not None and duration != "":
        # Where the release has it (beside LatestDAFeature); VideoLength is left out, so the
        # duration is used exactly as given.
        record["MediaVersionList"] = [{"Duration": duration}]
    try:
        payload = json.dumps(record, ensure_ascii=False, default=str, allow_nan=False)
    except ValueError:
        return Rejection("parse: a value is NaN or infinite", "")
    return (text_id + "\t" + payload + "\n").encode("utf-8", "replace")


def input_format(path: str | os.PathLike[str], chosen: str) -> str:
    """``tsv``/``csv``/``jsonl``/``parquet``; with ``auto``, from the name, TSV when it says nothing."""
    if chosen != "auto":
        return chosen
    try:
        return detect_format(path)
    except TableError:
        return "tsv"  # e.g. "metadata" without a suffix: the historical format


@contextlib.contextmanager
def open_input(
    path: str | os.PathLike[str], chosen_format: str, columns: list[str], max_line_bytes: int
) -> Iterator[IO[bytes] | Iterator[bytes | Rejection]]:
    """The input as a binary handle (TSV, gunzipped when gzipped) or as converted lines (others)."""
    fmt = input_format(path, chosen_format)
    if fmt == "tsv":
        with open_binary(path) as handle:
            yield handle
        return
    mapping = ColumnMap(parse_columns(columns))
    # A file that cannot be read as a whole (not parquet at all) raises TableError, a ValueError.
    rows = read_table(Path(path), fmt, header=True, max_row_bytes=max_line_bytes)
    yield (row_to_line(row, mapping) for row in rows)
