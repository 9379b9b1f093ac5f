"""Reading published clip lists: output.csv and the same columns as CSV with a header, JSONL and
parquet (gzipped where the format allows), with hostile and malformed rows."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from acav.core.tables import TableError
from acav.rebuild.clip_list import MALFORMED, PLACEHOLDER, read_clip_list

# (shard, filename, id, segment text) as a published list holds them, and the expected outcome:
# None (a clip to rebuild) or the status, plus a fragment of the reason.
ROWS = [
    ("shard-000009", "qpxektwhzra_292.mp4", "qpxektwhzra", "[292.3329999997, 302.3329999997]", None, ""),
    ("shard-000013", "nometadata01_17.mp4", "-1", "[-1.0, -1.0]", PLACEHOLDER, "-1"),
    ("shard-000001", "../../x.mp4", "../../x", "[0, 10]", MALFORMED, "not an 11-character"),
    ("=cmd|' /C calc'!A0", "=1+1", "=HYPERLINK()", "[0, 10]", MALFORMED, "not an 11-character"),
    ("shard-000001", "a-1b2c3d4e5_0.mp4", "a-1b2c3d4e5", "[1e308, 1e309]", MALFORMED, "two finite numbers"),
    ("shard-000001", "a-1b2c3d4e5_0.mp4", "a-1b2c3d4e5", "[99999999999, 100000000009]", MALFORMED, "beyond"),
    ("shard-000001", "a-1b2c3d4e5_0.mp4", "a-1b2c3d4e5", "[5, 3]", MALFORMED, "start < end"),
    ("shard-000001", "a-1b2c3d4e5_0.mp4", "a-1b2c3d4e5", "[0, 1000]", MALFORMED, "longer than"),
    ("shard-000001", "a-1b2c3d4e5_0.mp4", "a-1b2c3d4e5", "[1, oops]", MALFORMED, "[start, end]"),
    ("shard-000001", "../a-1b2c3d4e5_0.mp4", "a-1b2c3d4e5", "[0, 10]", MALFORMED, "clip file name"),
    ("shard-000001", "Zb3vX_9kq1Q_0.mp4", "a-1b2c3d4e5", "[0, 10]", MALFORMED, "clip file name"),
    ("shard-000012", "", "Zb3vX_9kq1Q", "[40.04, 50.04]", None, ""),
]
HEADER = ["shard_name", "filename", "youtube_id", "segment"]


def write_list(path: Path, fmt: str) -> Path:
    rows = [row[:4] for row in ROWS]
    if fmt == "output.csv":
        with open(path, "w", newline="") as handle:
            csv.writer(handle).writerows(rows)
    elif fmt == "csv.gz":
        with gzip.open(path, "wt", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            writer.writerows(rows)
    elif fmt == "jsonl":
        with open(path, "w") as handle:
            for shard, filename, video_id, segment in rows:
                try:
                    value = json.loads(segment)  # a real list where the text is JSON
                except ValueError:
                    value = segment
                handle.write(
                    json.dumps(dict(zip(HEADER, [shard, filename, video_id, value], strict=True))) + "\n"
                )
    elif fmt == "parquet":
        table = pa.table({name: [row[i] for row in rows] for i, name in enumerate(HEADER)})
        pq.write_table(table, path, row_group_size=5)  # several row groups
    return path


SUFFIX = {
    "output.csv": "output.csv",
    "csv.gz": "list.csv.gz",
    "jsonl": "list.jsonl",
    "parquet": "list.parquet",
}


@pytest.mark.parametrize("fmt", list(SUFFIX))
def test_every_format_gives_the_same_validated_rows(tmp_path: Path, fmt: str) -> None:
    path = write_list(tmp_path / SUFFIX[fmt], fmt)
    rows = list(read_clip_list(path))
    assert [r.row for r in rows] == list(range(1, len(ROWS) + 1))
    for got, (_, _, _, _, status, fragment) in zip(rows, ROWS, strict=True):
        assert got.status == status, (fmt, got)
        assert fragment in got.detail, (fmt, got)
        if status is not None:
            assert got.filename == "", "a row not rebuilt never names a file"
    first, last = rows[0], rows[-1]
    assert (first.video_id, first.filename, first.start, first.end) == (
        "qpxektwhzra",
        "qpxektwhzra_292.mp4",
        292.3329999997,
        302.3329999997,
    )
    assert first.listed_shard == "shard-000009"
    # No file name in the list: stage 3's name for the clip.
    assert (last.filename, last.start, last.end) == ("Zb3vX_9kq1Q_040.mp4", 40.04, 50.04)


def test_shown_values_are_bounded(tmp_path: Path) -> None:
    path = tmp_path / "output.csv"
    huge = "9" * 5000
    path.write_text(f'shard-000001,x.mp4,{huge},"[0, 10]"\nshard-000001,x.mp4,{"A" * 20},"[{huge}, 1]"\n')
    rows = list(read_clip_list(path))
    assert [r.status for r in rows] == [MALFORMED, MALFORMED]
    assert all(len(r.video_id) <= 80 and len(r.detail) < 300 for r in rows)


def test_wrong_field_counts_and_overlong_rows_are_malformed(tmp_path: Path) -> None:
    path = tmp_path / "output.csv"
    path.write_text(
        'a,b\n\nshard-000001,qpxektwhzra_1.mp4,qpxektwhzra,"[1, 11]",extra\n'
        + "z" * 300
        + '\nshard-000001,qpxektwhzra_1.mp4,qpxektwhzra,"[1, 11]"\n'
    )
    rows = list(read_clip_list(path, max_row_bytes=200))
    assert [r.status for r in rows] == [MALFORMED, MALFORMED, MALFORMED, None]
    assert "2 fields" in rows[0].detail and "5 fields" in rows[1].detail and "too long" in rows[2].detail
    assert rows[3].row == 4  # the blank line is not a row


def test_header_with_start_and_end_columns(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("id,start,end\nqpxektwhzra,1.5,11.5\nqpxektwhzra,,\n")
    rows = list(read_clip_list(path))
    assert (rows[0].status, rows[0].filename, rows[0].start, rows[0].end) == (
        None,
        "qpxektwhzra_001.mp4",
        1.5,
        11.5,
    )
    assert rows[1].status == MALFORMED


def test_unknown_format_and_broken_parquet_are_clear_errors(tmp_path: Path) -> None:
    odd = tmp_path / "list.xlsx"
    odd.write_text("x")
    with pytest.raises(TableError, match="cannot tell the format"):
        list(read_clip_list(odd))
    broken = tmp_path / "list.parquet"
    broken.write_bytes(b"not parquet at all" * 10)
    with pytest.raises(TableError, match="not a readable parquet file"):
        list(read_clip_list(broken))
