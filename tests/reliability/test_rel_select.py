"""Stage 6: an empty selection from non-empty input never replaces output.csv; hostile ids in the
video shards' json never reach output.csv."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from rel_helpers import acav

from acav.cli import main
from acav.core.atomic import atomic_write_json
from acav.core.ids import output_id_problem
from acav.core.layout import DataLayout
from acav.subset_selection.synthetic import make_assignments, write_cluster_shards


def _data(root: Path) -> DataLayout:
    layout = DataLayout(root)
    write_cluster_shards(layout, make_assignments(60, ncentroids=6, seed=5), 20)
    return layout


def _select(layout: DataLayout, *extra: str) -> int:
    return main(["select", "--data-dir", str(layout.root), "--backend", "numpy", "-q", *extra])


def test_unreadable_shards_keep_the_previous_output(tmp_path: Path) -> None:
    layout = _data(tmp_path / "data")
    assert _select(layout) == 0
    good = layout.output_csv.read_bytes()
    good_log = layout.selection_log.read_bytes()
    assert good.count(b"\n") > 0
    for path in layout.clusters_dir.glob("shard-*.pkl"):
        path.write_bytes(b"not a pickle")
    done = acav("select", "--data-dir", str(layout.root), "--backend", "numpy", "-q")
    assert done.returncode == 1
    assert layout.output_csv.read_bytes() == good
    assert layout.selection_log.read_bytes() == good_log
    last = done.stderr.strip().splitlines()[-1]
    assert "no clip" in last and "output.csv" in last and "kept" in last


def test_ncentroids_below_the_real_ids_keeps_the_previous_output(tmp_path: Path) -> None:
    layout = _data(tmp_path / "data")
    assert _select(layout) == 0
    good = layout.output_csv.read_bytes()
    assert _select(layout, "--ncentroids", "2") == 1  # ids go up to 5: every clip is refused
    assert layout.output_csv.read_bytes() == good


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("=HYPERLINK(1)", "formula"),
        ("+abcdefghij", "formula"),
        ("@abcdefghij", "formula"),
        ("abc,defghij", "comma"),
        ('abc"defghij', "quote"),
        ("abc\tdefghij", "control"),
        ("abc\x00defghi", "control"),
        ("-1+1", "formula"),
        ("-abcdefghi", "formula"),
        ("a b", "characters"),
        ("a/../b", "characters"),
        ("", "empty"),
    ],
)
def test_output_id_problems(value: str, why: str) -> None:
    problem = output_id_problem(value)
    assert problem is not None and why in problem


@pytest.mark.parametrize(
    "value", ["qpxektwhzra", "NgI3xyMX1Ss", "-0Bv1e2t0Ec", "_abcdefghij", "vid0000x0003"]
)
def test_real_youtube_ids_pass(value: str) -> None:
    assert output_id_problem(value) is None


def test_hostile_ids_become_the_documented_missing_row(tmp_path: Path) -> None:
    layout = _data(tmp_path / "data")
    entries = json.loads(layout.video_shard_json(0).read_text())
    hostile = ['=HYPERLINK("http://x","y")', "a,b", 'q"q', "+1+1", "@SUM(A1)"]
    for entry, bad in zip(entries, hostile, strict=False):
        entry["id"] = bad
    atomic_write_json(layout.video_shard_json(0), entries)
    assert _select(layout, "--ratio", "1.0") == 0
    rows = list(csv.reader(layout.output_csv.read_text().splitlines()))
    assert len(rows) == 60
    ids = {r[2] for r in rows}
    assert not ids & set(hostile)
    assert all(r[2][0] not in "=+@" for r in rows)
    by_file = {r[1]: r for r in rows}
    for entry in entries[: len(hostile)]:
        assert by_file[entry["filename"]][2:] == ["-1", "[-1.0, -1.0]"]
    problems = json.loads(layout.selection_log.read_text())["problems"]
    assert sum("id" in p["reason"] for p in problems) == len(hostile)
