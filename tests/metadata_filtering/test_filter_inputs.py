"""Stage 1 on CSV / JSONL / parquet input (gzipped where the format allows): the same rules, the
same per-row accounting (kept + rejected = every row) and the same reasons as the TSV reader."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mf_helpers import make_line

from acav.core.config import ConfigError
from acav.metadata_filtering.config import FilterConfig
from acav.metadata_filtering.inputs import parse_columns
from acav.metadata_filtering.runner import derived_paths, filter_file
from acav.video_download.inputs import read_items

SEA = "Recorded on the coast with a handheld camera, just the sound of the sea."
# (id, title, description, category, duration, reason or None for kept)
ROWS: list[tuple[Any, ...]] = [
    ("keepAAAAAAA", "Waves crashing on the rocks at sunset", SEA, "Travel & Events", 119, None),
    (
        "shortAAAAAA",
        "Waves crashing on the rocks at sunset",
        SEA,
        "Travel & Events",
        19,
        "duration: 19.0 s < 30 s",
    ),
    ("gamingAAAAA", "Waves crashing on the rocks at sunset", SEA, "Gaming", 119, "category: Gaming"),
    ("../../x", "t", "d", "Music", 60, "id: '../../x' is not an 11-character YouTube id ([A-Za-z0-9_-])"),
    ("=1+1", "t", "d", "Music", 60, "id: '=1+1' is not an 11-character YouTube id ([A-Za-z0-9_-])"),
    ("", "t", "d", "Music", 60, "id: missing"),
    ("emptyAAAAAA", "", "", "Travel & Events", 119, "language: empty text (no title or description)"),
    ("https://www.youtube.com/watch?v=keepBBBBBBB", "Thunderstorm over the harbour", SEA, "Music", 200, None),
]
FORMATS = ["csv", "csv.gz", "jsonl", "jsonl.gz", "parquet"]
COLUMNS = ["video_id", "title", "description", "category", "duration"]


def write(path: Path, fmt: str, rows: list[tuple[Any, ...]], extra_lines: list[str] = ()) -> Path:
    records = [dict(zip(COLUMNS, row[:5], strict=True)) for row in rows]
    opener = gzip.open if fmt.endswith(".gz") else open
    if fmt.startswith("csv"):
        with opener(path, "wt", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, COLUMNS)
            writer.writeheader()
            writer.writerows(records)
            handle.write("".join(extra_lines))
    elif fmt.startswith("jsonl"):
        with opener(path, "wt", encoding="utf-8") as handle:
            handle.writelines(json.dumps(r) + "\n" for r in records)
            handle.write("".join(extra_lines))
    else:
        pq.write_table(pa.Table.from_pylist(records), path, row_group_size=3)  # three row groups
    return path


def run(tmp_path: Path, source: Path, line_filter, **options) -> tuple[bytes, list[list[str]], dict]:
    kept = tmp_path / "filtered.tsv"
    rejects, report_path = derived_paths(kept)
    report = filter_file(source, kept, rejects, report_path, FilterConfig(**options), line_filter=line_filter)
    rows = [line.split("\t") for line in rejects.read_text(encoding="utf-8").splitlines()]
    return kept.read_bytes(), rows, report


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_row_is_kept_or_rejected_with_the_tsv_reasons(tmp_path: Path, fmt: str, line_filter) -> None:
    source = write(tmp_path / f"metadata.{fmt}", fmt, ROWS)
    kept, rejects, report = run(tmp_path, source, line_filter)
    expected = [(str(i), row[5]) for i, row in enumerate(ROWS, start=1) if row[5] is not None]
    assert [(r[0], r[2][: len(reason)]) for r, (_, reason) in zip(rejects, expected, strict=True)] == expected
    assert report["kept"] + report["rejected"] == report["total_lines"] == len(ROWS)
    assert report["kept"] == 2
    # filtered.tsv is the TSV stage 2 reads, whatever the input format.
    assert [item.id for item in read_items(tmp_path / "filtered.tsv")] == ["keepAAAAAAA", "keepBBBBBBB"]
    assert kept.startswith(b"keepAAAAAAA\t") and kept.count(b"\n") == 2

    # The same rows as ID<TAB>JSON (VideoLength = duration + 1) give the same reasons.
    tsv = tmp_path / "tsv" / "metadata.tsv"
    tsv.parent.mkdir()
    tsv.write_bytes(
        b"".join(make_line(r[0], r[1], r[2], r[3], str(r[4] + 1)) if r[0] else b"\t{}\n" for r in ROWS)
    )
    _, tsv_rejects, _ = run(tsv.parent, tsv, line_filter)
    same = [(r[0], r[2]) for r in tsv_rejects if not r[2].startswith("id")]
    assert same == [(r[0], r[2]) for r in rejects if not r[2].startswith("id")]


@pytest.mark.parametrize("fmt", ["csv", "jsonl.gz"])
def test_unreadable_and_overlong_rows_are_rejected_in_place(tmp_path: Path, fmt: str, line_filter) -> None:
    long_title = "x" * 5000
    if fmt == "csv":
        extra = [f"longAAAAAAA,{long_title},d,Music,60\n", 'brokenAAAAA,"unterminated\n']
        reasons = ["line too long: 5", "parse: invalid CSV"]
    else:
        extra = [json.dumps({"video_id": "longAAAAAAA", "title": long_title}) + "\n", "{broken\n", "[1, 2]\n"]
        reasons = ["line too long: 5", "parse: invalid JSON", "parse: a JSON list, expected an object"]
    source = write(tmp_path / f"metadata.{fmt}", fmt, ROWS[:2], extra)
    _, rejects, report = run(tmp_path, source, line_filter, max_line_bytes=4096)
    assert [r[0] for r in rejects] == [str(n) for n in range(2, 3 + len(extra))]
    assert [r[2][: len(reason)] for r, reason in zip(rejects[1:], reasons, strict=True)] == reasons
    assert report["kept"] + report["rejected"] == report["total_lines"] == 2 + len(extra)


def test_column_mapping_and_type_errors(tmp_path: Path, line_filter) -> None:
    source = tmp_path / "export.jsonl"
    rows = [
        {"vid": "keepAAAAAAA", "name": "Waves crashing on the rocks at sunset", "about": SEA, "secs": "119"},
        {"vid": "numberAAAAA", "name": 12, "about": SEA, "secs": 119},
        {"vid": "nanAAAAAAAA", "name": "t", "secs": float("nan")},
    ]
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    columns = ["id=vid,title=name", "description=about,duration=secs"]
    kept, rejects, _ = run(tmp_path, source, line_filter, columns=columns)
    assert kept.startswith(b"keepAAAAAAA\t")
    assert [(r[0], r[1], r[2]) for r in rejects] == [
        ("2", "numberAAAAA", "parse: Title is int, expected a string"),
        ("3", "", "parse: a value is NaN or infinite"),
    ]


def test_bad_column_mapping_is_a_config_error() -> None:
    assert parse_columns(["url=link, title=t"]) == {"id": "link", "title": "t"}
    with pytest.raises(ConfigError, match="FIELD=COLUMN"):
        FilterConfig(columns=["colour=c"]).validate()


def test_gzipped_tsv_and_unknown_suffix_read_as_tsv(tmp_path: Path, line_filter) -> None:
    line = make_line("keepAAAAAAA")
    gz = tmp_path / "metadata.tsv.gz"
    gz.write_bytes(gzip.compress(line))
    assert run(tmp_path, gz, line_filter)[0] == line
    plain = tmp_path / "metadata"
    plain.write_bytes(line)
    assert run(tmp_path, plain, line_filter)[0] == line


def test_not_a_parquet_file_is_a_clear_error(tmp_path: Path, line_filter) -> None:
    source = tmp_path / "metadata.parquet"
    source.write_bytes(b"PAR1 but not really")
    with pytest.raises(ValueError, match="not a readable parquet file"):
        run(tmp_path, source, line_filter)


def test_a_corrupt_parquet_row_group_rejects_its_rows_and_the_rest_is_read(
    tmp_path: Path, line_filter
) -> None:
    rows = [
        (f"keep{i:07d}", "Waves crashing on the rocks at sunset", SEA, "Travel & Events", 119)
        for i in range(9)
    ]
    source = tmp_path / "metadata.parquet"
    records = [dict(zip(COLUMNS, row, strict=True)) for row in rows]
    pq.write_table(pa.Table.from_pylist(records), source, row_group_size=3, compression="snappy")
    column = pq.ParquetFile(source).metadata.row_group(1).column(1)  # the middle group's titles
    start = column.dictionary_page_offset or column.data_page_offset
    data = bytearray(source.read_bytes())
    data[start + 20 : start + column.total_compressed_size - 4] = b"\xab" * (
        column.total_compressed_size - 24
    )
    source.write_bytes(bytes(data))
    kept, rejects, report = run(tmp_path, source, line_filter)
    assert [r[0] for r in rejects] == ["4", "5", "6"]
    assert all(r[2].startswith("parse: unreadable parquet row group 1") for r in rejects)
    assert [line.split(b"\t")[0] for line in kept.splitlines()] == [
        r[0].encode() for r in rows[:3] + rows[6:]
    ]
    assert report["kept"] + report["rejected"] == report["total_lines"] == 9


def test_cli_flags_reach_the_config() -> None:
    from acav.cli import build_parser
    from acav.core.config import load_config

    args = build_parser("filter").parse_args(
        ["filter", "--input-format", "jsonl", "--columns", "id=vid,title=name", "duration=secs"]
    )
    config = load_config(FilterConfig, "metadata_filtering", args)
    assert config.input_format == "jsonl"
    assert parse_columns(config.columns) == {"id": "vid", "title": "name", "duration": "secs"}
