"""Streaming readers of tabular inputs: CSV (with or without a header), JSON Lines and parquet.

Used by stage 1 (metadata in CSV / parquet / JSONL) and ``acav rebuild`` (clip lists). Every
reader yields one :class:`TableRow` per record, numbered from 1 (a CSV header is not counted), and
never raises for a bad record: the row carries an ``error`` instead, so callers can account for
every row. Memory stays bounded whatever the file size: CSV and JSONL are read record by record
with a size cap, parquet one row group at a time in batches. CSV and JSONL may be gzipped
(``.gz``); parquet compresses internally and must be a plain, seekable file.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

FORMATS = ("csv", "jsonl", "parquet")
_SUFFIXES = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".tsv": "tsv",
    ".txt": "tsv",
}
DEFAULT_MAX_ROW_BYTES = 1_000_000
PARQUET_BATCH_ROWS = 4096


class TableError(ValueError):
    """The file as a whole cannot be read (not a parquet file, unknown format): names the file."""


@dataclass(frozen=True)
class TableRow:
    number: int  # 1-based record number (a CSV header is not counted)
    values: dict[str, Any] | list[str] | None  # by column name; a list for headerless CSV
    error: str | None = None  # why the record could not be read (values is None then)


def is_gzipped(path: str | os.PathLike[str]) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def detect_format(path: str | os.PathLike[str], explicit: str = "auto") -> str:
    """``csv`` / ``jsonl`` / ``parquet`` / ``tsv`` from ``explicit`` or the file name (``.gz`` ignored)."""
    if explicit and explicit != "auto":
        return explicit
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = Path(name).suffix
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    raise TableError(
        f"{path}: cannot tell the format from the name (known: {', '.join(sorted(_SUFFIXES))}, "
        "optionally .gz); pass the format explicitly"
    )


@contextlib.contextmanager
def open_binary(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """The file's bytes, gunzipped when it starts with the gzip magic number."""
    if is_gzipped(path):
        with gzip.open(path, "rb") as handle:
            yield handle  # type: ignore[misc]
    else:
        with open(path, "rb") as handle:
            yield handle


def bounded_lines(handle: IO[bytes], max_bytes: int) -> Iterator[bytes | int]:
    """Each line without its ending, or its size (an int) when it exceeds ``max_bytes``; a line
    over the cap is skipped in bounded pieces, never held whole."""
    limit = max_bytes + 2
    while True:
        line = handle.readline(limit)
        if not line:
            return
        if len(line) < limit or line.endswith(b"\n"):
            content = line.rstrip(b"\r\n")
            yield content if len(content) <= max_bytes else len(content)
            continue
        size = len(line)
        while True:
            piece = handle.readline(1 << 20)
            size += len(piece)
            if not piece or piece.endswith(b"\n"):
                break
        yield size


def read_jsonl(
    path: str | os.PathLike[str], max_row_bytes: int = DEFAULT_MAX_ROW_BYTES
) -> Iterator[TableRow]:
    """One row per non-blank line holding a JSON object (blank lines are skipped, not counted)."""
    number = 0
    with open_binary(path) as handle:
        for line in bounded_lines(handle, max_row_bytes):
            if isinstance(line, int):
                number += 1
                yield TableRow(number, None, f"row too long: {line} bytes > {max_row_bytes}")
                continue
            if not line.strip():
                continue
            number += 1
            if number == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            try:
                value = json.loads(line.decode("utf-8"), strict=False)
            except UnicodeDecodeError as exc:
                yield TableRow(number, None, f"not UTF-8 (byte at offset {exc.start})")
                continue
            except (ValueError, RecursionError) as exc:
                detail = (
                    f"{exc.msg} at char {exc.pos}" if isinstance(exc, json.JSONDecodeError) else "too deep"
                )
                yield TableRow(number, None, f"invalid JSON ({detail})")
                continue
            if not isinstance(value, dict):
                yield TableRow(number, None, f"a JSON {type(value).__name__}, expected an object")
                continue
            yield TableRow(number, value)


def _csv_records(
    path: str | os.PathLike[str], max_row_bytes: int, delimiter: str
) -> Iterator[list[str] | str]:
    """Parsed CSV records (lists of cells), or an error string for a record that cannot be read.

    The parser is fed physical lines capped at ``max_row_bytes``; a longer line is replaced by an
    empty one and its record reported as too long. Fields are capped too (``csv.field_size_limit``
    is raised to ``max_row_bytes`` when lower), so an unterminated quote cannot swallow the file.
    """
    if csv.field_size_limit() < max_row_bytes:
        csv.field_size_limit(max_row_bytes)
    overflow = [0]
    with open_binary(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")

        def lines() -> Iterator[str]:
            for line in bounded_lines(_BinaryLines(text), max_row_bytes):
                if isinstance(line, int):
                    overflow[0] = line
                    yield "\n"
                else:
                    yield line.decode("utf-8") + "\n"

        reader = csv.reader(lines(), delimiter=delimiter, strict=True)
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                overflow[0] = 0
                yield f"invalid CSV ({exc})"
                continue
            if overflow[0]:
                yield f"row too long: {overflow[0]} bytes > {max_row_bytes}"
                overflow[0] = 0
                continue
            yield record


class _BinaryLines:
    """Adapts a text stream (decoded leniently, BOM removed) back to UTF-8 lines for bounded reading."""

    def __init__(self, text: IO[str]) -> None:
        self.text = text

    def readline(self, limit: int) -> bytes:
        return self.text.readline(limit).encode("utf-8", "replace")


def read_csv(
    path: str | os.PathLike[str],
    header: bool | None = True,
    max_row_bytes: int = DEFAULT_MAX_ROW_BYTES,
    delimiter: str = ",",
    header_names: frozenset[str] = frozenset(),
) -> Iterator[TableRow]:
    """Rows of a CSV file. ``header``: True (first record names the columns; rows are dicts),
    False (rows are lists), None (a header when the first record holds one of ``header_names``,
    compared case-insensitively). Blank lines are skipped; a row with more cells than the header
    is an error row, a shorter one gets ``None`` for the missing columns."""
    columns: list[str] | None = None
    number = 0
    first = True
    for record in _csv_records(path, max_row_bytes, delimiter):
        if isinstance(record, list) and not any(cell.strip() for cell in record):
            continue
        if first and isinstance(record, list):
            first = False
            wanted = header if header is not None else any(c.strip().lower() in header_names for c in record)
            if wanted:
                columns = [cell.strip() for cell in record]
                continue
        first = False
        number += 1
        if isinstance(record, str):
            yield TableRow(number, None, record)
        elif columns is None:
            yield TableRow(number, record)
        elif len(record) > len(columns):
            yield TableRow(number, None, f"{len(record)} cells but the header has {len(columns)} columns")
        else:
            yield TableRow(
                number, {c: (record[i] if i < len(record) else None) for i, c in enumerate(columns)}
            )


def read_parquet(path: str | os.PathLike[str], batch_rows: int = PARQUET_BATCH_ROWS) -> Iterator[TableRow]:
    """Rows of a parquet file, one row group at a time in batches of ``batch_rows``.

    A row group that cannot be decoded yields one error row per row it holds (its row count is in
    the file's footer), so the accounting stays complete.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if is_gzipped(path):
        raise TableError(f"{path}: a gzipped parquet file; parquet compresses internally, gunzip it first")
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise TableError(f"{path}: not a readable parquet file ({exc})") from exc
    number = 0
    with contextlib.closing(parquet):
        for group in range(parquet.num_row_groups):
            expected = parquet.metadata.row_group(group).num_rows
            seen = 0
            try:
                for batch in parquet.iter_batches(batch_size=batch_rows, row_groups=[group]):
                    for values in batch.to_pylist():
                        number += 1
                        seen += 1
                        yield TableRow(number, values)
            except (pa.ArrowException, OSError) as exc:
                message = f"unreadable parquet row group {group} ({type(exc).__name__}: {str(exc)[:120]})"
                for _ in range(max(0, expected - seen)):
                    number += 1
                    yield TableRow(number, None, message)


def read_table(
    path: str | os.PathLike[str],
    fmt: str,
    *,
    header: bool | None = True,
    header_names: frozenset[str] = frozenset(),
    max_row_bytes: int = DEFAULT_MAX_ROW_BYTES,
) -> Iterator[TableRow]:
    """Rows of ``path`` in format ``fmt`` (``csv``, ``jsonl`` or ``parquet``; see :func:`detect_format`)."""
    if fmt == "csv":
        return read_csv(path, header, max_row_bytes, header_names=header_names)
    if fmt == "jsonl":
        return read_jsonl(path, max_row_bytes)
    if fmt == "parquet":
        return read_parquet(path)
    raise TableError(f"{path}: unsupported table format {fmt!r} (expected one of {', '.join(FORMATS)})")
