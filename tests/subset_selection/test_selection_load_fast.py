"""Column-by-column loading of cluster shards and metadata gives what the row-by-row parse gives."""

from __future__ import annotations

import csv
import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from acav.core.atomic import atomic_write_json, atomic_write_pickle
from acav.core.layout import DataLayout
from acav.subset_selection import output, partitions
from acav.subset_selection.output import MetadataIndex, format_rows
from acav.subset_selection.partitions import LoadReport, ShardClips, load_partition
from acav.subset_selection.runner import ChosenClips
from acav.subset_selection.synthetic import make_assignments, write_cluster_shards


def _load(paths, monkeypatch, slow: bool, ncentroids=None):
    with monkeypatch.context() as m:
        if slow:
            m.setattr(partitions, "read_companion", lambda *args: None)
            m.setattr(partitions, "parse_columns", lambda *args: None)
        report = LoadReport()
        part = load_partition("p", 0, paths, report, ncentroids)
    return part, report.problems


def _edit(layout: DataLayout, shard: str, change) -> None:
    rows = pickle.loads(layout.cluster_shard(shard).read_bytes())
    change(rows)
    atomic_write_pickle(layout.cluster_shard(shard), rows)


def test_fast_and_row_by_row_loading_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    layout = DataLayout(tmp_path)
    d = make_assignments(70, ncentroids=300, seed=3)  # ids above 255: a uint16 matrix
    write_cluster_shards(layout, d, 10, log_name=None)  # shards 0..6
    _edit(layout, "shard-000001", lambda rows: rows[4].pop("shard_name"))  # falls back to the file's name
    _edit(layout, "shard-000002", lambda rows: rows[2].update(shard_name="shard-000042"))  # two shard names
    _edit(layout, "shard-000003", lambda rows: rows[5]["video_assignments"][0]["array"].update(layer_1=True))
    _edit(
        layout,
        "shard-000004",
        lambda rows: rows[0]["audio_assignments"][0]["array"].update(layer_0=np.int64(7)),
    )
    _edit(layout, "shard-000005", lambda rows: rows[9]["audio_assignments"][0]["array"].pop("layer_4"))
    _edit(layout, "shard-000006", lambda rows: rows[3].update(filename="tab\tname.mp4"))
    paths = sorted(layout.clusters_dir.glob("shard-*.pkl"))

    fast, fast_problems = _load(paths, monkeypatch, slow=False)
    slow, slow_problems = _load(paths, monkeypatch, slow=True)
    assert fast.labels.dtype == slow.labels.dtype == np.uint16
    assert np.array_equal(fast.labels, slow.labels) and fast.clusterings == slow.clusterings
    everything = np.arange(fast.size)
    assert fast.clip_names(everything) == slow.clip_names(everything)
    assert fast_problems == slow_problems and len(slow_problems) == 3  # bool id, missing layer, tab
    kept = np.ones(70, dtype=bool)
    kept[[35, 59, 63]] = False
    expected = d.labels[kept].copy()
    expected[40 - 1, 5] = 7  # shard 4 row 0 (after the dropped row 35): the numpy id is read as 7
    assert np.array_equal(fast.labels, expected)
    names = fast.clip_names(np.array([0, 14, 22, 66]))
    assert names[1] == ("shard-000001", "vid0001x0004_40.mp4")  # no shard_name: the file's name
    assert names[2] == ("shard-000042", "vid0002x0002_20.mp4")  # the row's own shard_name
    assert names[0] == ("shard-000000", "vid0000x0000_0.mp4")

    capped, capped_problems = _load(paths[:1], monkeypatch, slow=False, ncentroids=280)
    reference, reference_problems = _load(paths[:1], monkeypatch, slow=True, ncentroids=280)
    assert np.array_equal(capped.labels, reference.labels) and capped_problems == reference_problems
    assert capped.size == int((d.labels[:10] < 280).all(axis=1).sum()) < 10


def test_clip_names_needs_ascending_indices():
    clips = [ShardClips("shard-000000", "a.mp4\nb.mp4", 2), ShardClips(["shard-000001"], "c.mp4", 1)]
    part = partitions.Partition("p", 0, [], [], np.zeros((3, 1), np.uint8), clips, 1)
    assert part.clip_names(np.array([1, 2])) == [("shard-000000", "b.mp4"), ("shard-000001", "c.mp4")]
    with pytest.raises(ValueError, match="ascending"):
        part.clip_names(np.array([2, 1]))


def test_chosen_clips_sorted_by_shard_then_partition_then_position():
    def part(number, clips):
        return partitions.Partition("p", number, [], [], np.zeros((3, 1), np.uint8), clips, 1)

    chosen = ChosenClips()
    chosen.add(
        part(0, [ShardClips(["shard-000002", "shard-000001", "shard-000002"], "a\nb\nc", 3)]),
        np.array([2, 0, 1]),
    )
    chosen.add(part(1, [ShardClips("shard-000001", "d\ne\nf", 3)]), np.array([1]))
    assert list(chosen.in_output_order()) == [
        ("shard-000001", "b"),
        ("shard-000001", "e"),
        ("shard-000002", "a"),
        ("shard-000002", "c"),
    ]
    assert chosen.size == 4


def test_metadata_fast_and_row_by_row_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    layout = DataLayout(tmp_path)
    good = [{"filename": f"v{i}_{i:03d}.mp4", "id": f"v{i}", "segment": [i + 0.1, i + 10]} for i in range(5)]
    good[3]["id"] = "-abcdefghij"  # a YouTube id may start with "-" (11 characters: not a formula)
    atomic_write_json(layout.video_shard_json(0), good)
    atomic_write_json(
        layout.video_shard_json(1), [*good[:2], {"filename": "x.mp4", "id": 5, "segment": [1, 2]}]
    )
    atomic_write_json(
        layout.video_shard_json(2),
        [
            {"filename": "dir/.mp4", "id": "z", "segment": [0, 1.5]},
            {"filename": "f.mp4", "id": "-f", "segment": [0, 1]},
        ],
    )
    clips = [("shard-000000", f"v{i}_{i:03d}.mp4") for i in (4, 0, 2)]
    clips += [("shard-000001", "x.mp4"), ("shard-000001", "v1_001.mp4"), ("shard-000002", "dir/.mp4")]
    clips += [("shard-000002", "f.mp4"), ("shard-000003", "gone.mp4"), ("shard-000000", "v3_003.mp4")]
    text, missing = format_rows(clips, MetadataIndex(layout.videos_dir))
    with monkeypatch.context() as m:
        m.setattr(output, "_all_valid", lambda rows: False)
        slow_text, slow_missing = format_rows(clips, MetadataIndex(layout.videos_dir))
    assert (text, missing) == (slow_text, slow_missing)
    assert text.splitlines()[:4] == [
        'shard-000000,v4_004.mp4,v4,"[4.1, 14.0]"',
        'shard-000000,v0_000.mp4,v0,"[0.1, 10.0]"',
        'shard-000000,v2_002.mp4,v2,"[2.1, 12.0]"',
        'shard-000001,x.mp4,5,"[1.0, 2.0]"',
    ]
    assert text.splitlines()[5] == 'shard-000002,dir/.mp4,z,"[0.0, 1.5]"' and missing == 2  # "-f", gone
    assert text.splitlines()[8] == 'shard-000000,v3_003.mp4,-abcdefghij,"[3.1, 13.0]"'
    assert output.file_stems(["a.mp4", "b.c.mp4", ".mp4"]) == ["a", "b.c", ".mp4"]
    assert output._all_valid(good)  # shard 0 took the column-by-column path
    assert not output._all_valid([{"filename": "f.mp4", "id": "-f", "segment": [0, 1]}])


def test_plain_lines_equal_the_csv_modules_and_quoting_falls_back(tmp_path: Path):
    layout = DataLayout(tmp_path)
    names = ["a_000.mp4", "b,c_010.mp4", 'q"x_020.mp4', "d_030.mp4"]
    atomic_write_json(
        layout.video_shard_json(0),
        [{"filename": n, "id": f"v{i}", "segment": [i / 3, i / 3 + 10]} for i, n in enumerate(names)],
    )
    atomic_write_json(
        layout.video_shard_json(1), [{"filename": "e_000.mp4", "id": "e", "segment": [1e-7, 2.5]}]
    )
    clips = [("shard-000000", names[0]), ("shard-000000", names[3]), ("shard-000001", "e_000.mp4")]
    clips += [("shard-000001", "lost.mp4"), ("shard-000000", names[1]), ("shard-000000", names[2])]
    text, missing = format_rows(clips, MetadataIndex(layout.videos_dir))
    # reference: the csv module on rows built here from the json files
    meta = {}
    for shard in (0, 1):
        for row in json.loads(layout.video_shard_json(shard).read_text()):
            meta[(f"shard-{shard:06d}", row["filename"])] = (
                row["id"],
                str([float(x) for x in row["segment"]]),
            )
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(
        [shard, name, *meta.get((shard, name), ("-1", "[-1.0, -1.0]"))] for shard, name in clips
    )
    assert (text, missing) == (buffer.getvalue(), 1)
    assert 'shard-000000,"b,c_010.mp4",v1,"[0.3333333333333333, 10.333333333333334]"' in text.splitlines()
    assert 'shard-000000,"q""x_020.mp4",v2,' in text


def test_metadata_with_json_only_literals_is_read_row_by_row(tmp_path: Path):
    layout = DataLayout(tmp_path)
    text = '[{"filename": "a_000.mp4", "id": "a", "segment": [NaN, 10]},\n'
    text += ' {"filename": "b_010.mp4", "id": "b", "segment": [10, 20]},\n'
    text += ' {"filename": "c_020.mp4", "id": "c", "segment": [1, 123456789012345678901234567890]}]\n'
    layout.video_shard_json(0).parent.mkdir(parents=True, exist_ok=True)
    layout.video_shard_json(0).write_text(text)
    index = MetadataIndex(layout.videos_dir)
    assert index.lookup("shard-000000", "b_010.mp4") == ("b", [10.0, 20.0])
    assert index.lookup("shard-000000", "c_020.mp4") == ("c", [1.0, 1.2345678901234568e29])
    assert index.lookup("shard-000000", "a_000.mp4") is None  # NaN: a malformed entry, named
    assert [p["where"].rsplit(":", 1)[1] for p in index.problems] == ["0"]


def test_selection_order_file_equals_the_csv_modules(tmp_path: Path):
    steps = [["shard-000001", f"v{i}_000.mp4", 0, i + 1] for i in range(25_000)]
    steps[12_345][1] = 'odd,"name".mp4'  # one chunk of 10,000 rows needs quoting
    output.write_selection_order(tmp_path / "order.csv", iter(steps))
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(steps)
    assert (tmp_path / "order.csv").read_text() == buffer.getvalue()
    assert 'shard-000001,"odd,""name"".mp4",0,12346\n' in buffer.getvalue()
