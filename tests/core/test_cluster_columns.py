"""The columnar companion of a cluster shard: written for regular shards, used only when it matches."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from acav.core.atomic import atomic_write_pickle
from acav.core.cluster_columns import (
    columns_path,
    parse_columns,
    read_companion,
    write_cluster_shard,
)
from acav.core.layout import DataLayout
from acav.subset_selection import partitions
from acav.subset_selection.partitions import LoadReport, load_partition
from acav.subset_selection.synthetic import make_assignments, write_cluster_shards

LIMIT = 1 << 30


def _record(name: str, video: list[int], audio: list[int], shard: str | None = "shard-000003") -> dict:
    row: dict = {"filename": name, "shard_size": 3}
    if shard is not None:
        row["shard_name"] = shard
    row["video_assignments"] = [
        {
            "model_key": "m_v",
            "extractor_name": "V",
            "dataset": "d",
            "array": {f"layer_{i}": v for i, v in enumerate(video)},
        }
    ]
    row["audio_assignments"] = [
        {
            "model_key": "m_a",
            "extractor_name": "A",
            "dataset": "d",
            "array": {f"layer_{i}": a for i, a in enumerate(audio)},
        }
    ]
    return row


def _records() -> list[dict]:
    return [
        _record("a_000.mp4", [1, 2], [3]),
        _record("b_010.mp4", [4, 5], [6], shard=None),
        _record("c_020.mp4", [7, 300], [0], shard="shard-000009"),
    ]


def test_companion_holds_the_shards_columns(tmp_path: Path):
    path = tmp_path / "shard-000003.pkl"
    assert write_cluster_shard(path, _records())
    assert pickle.loads(path.read_bytes()) == _records()  # the pickle is the FORMATS.md shard, unchanged
    columns = read_companion(path, LIMIT)
    assert columns is not None
    assert columns.keys == [
        ("video", "m_v", "layer_0"),
        ("video", "m_v", "layer_1"),
        ("audio", "m_a", "layer_0"),
    ]
    assert columns.labels.dtype == np.uint16  # id 300 does not fit a byte
    assert columns.labels.tolist() == [[1, 2, 3], [4, 5, 6], [7, 300, 0]]
    assert columns.names.split("\n") == ["a_000.mp4", "b_010.mp4", "c_020.mp4"]
    assert columns.raw_shards() == ["shard-000003", None, "shard-000009"]
    direct = parse_columns(_records())
    assert direct is not None and direct.keys == columns.keys and direct.raw_shards() == columns.raw_shards()
    assert np.array_equal(direct.labels, columns.labels) and direct.names == columns.names


def test_a_rewritten_pickle_is_read_from_the_pickle(tmp_path: Path):
    path = tmp_path / "shard-000003.pkl"
    write_cluster_shard(path, _records())
    changed = _records()
    changed[0]["video_assignments"][0]["array"]["layer_0"] = 9
    atomic_write_pickle(path, changed)  # same size, other bytes: the companion is stale
    assert read_companion(path, LIMIT) is None
    report = LoadReport()
    part = load_partition("p", 0, [path], report)
    assert part is not None and report.problems == [] and part.from_companions == 0
    assert part.labels[0].tolist() == [3, 9, 2]  # canonical order: m_a/layer_0, then m_v layers


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(p.read_bytes()[:100]),  # truncated zip
        lambda p: p.write_bytes(b"not a zip at all"),
        lambda p: np.savez(p, labels=np.zeros((3, 3), np.uint8)),  # members missing
    ],
)
def test_a_damaged_companion_is_ignored(tmp_path: Path, damage):
    path = tmp_path / "shard-000003.pkl"
    write_cluster_shard(path, _records())
    damage(columns_path(path))
    assert read_companion(path, LIMIT) is None
    part = load_partition("p", 0, [path], LoadReport())
    assert part is not None and part.labels.tolist() == [[3, 1, 2], [6, 4, 5], [0, 7, 300]]


def test_inconsistent_companion_arrays_are_refused(tmp_path: Path):
    path = tmp_path / "shard-000003.pkl"
    write_cluster_shard(path, _records())
    companion = columns_path(path)
    with np.load(companion) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["names"] = np.frombuffer(b"a_000.mp4\nb_010.mp4", dtype=np.uint8)  # two names for three rows
    with companion.open("wb") as handle:
        np.savez(handle, **arrays)
    assert read_companion(path, LIMIT) is None


def test_irregular_shards_get_no_companion_and_lose_an_old_one(tmp_path: Path):
    path = tmp_path / "shard-000003.pkl"
    write_cluster_shard(path, _records())
    assert columns_path(path).exists()
    irregular = _records()
    irregular[1]["video_assignments"][0]["array"]["layer_1"] = True  # a bool is not a cluster id
    assert not write_cluster_shard(path, irregular)
    assert not columns_path(path).exists()
    report = LoadReport()
    part = load_partition("p", 0, [path], report)
    assert part is not None and part.size == 2 and len(report.problems) == 1  # the bad row is named
    assert f"{path}:1" in report.problems[0]["where"]


def test_matching_companion_is_read_without_unpickling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    layout = DataLayout(tmp_path)
    data = make_assignments(50, ncentroids=32, seed=1)
    write_cluster_shards(layout, data, 20, log_name=None)
    paths = sorted(layout.clusters_dir.glob("shard-*.pkl"))
    assert [columns_path(p).exists() for p in paths] == [True, True, True]
    with monkeypatch.context() as m:
        m.setattr(partitions, "read_companion", lambda *args: None)
        with_pickles = load_partition("p", 0, paths, LoadReport())

    def refuse(path):
        raise AssertionError(f"unpickled {path}")

    monkeypatch.setattr(partitions, "safe_load", refuse)
    from_companions = load_partition("p", 0, paths, LoadReport())
    assert (with_pickles.from_companions, from_companions.from_companions) == (0, 3)
    assert np.array_equal(from_companions.labels, data.labels)
    assert from_companions.clusterings == with_pickles.clusterings
    everything = np.arange(50)
    assert from_companions.clip_names(everything) == with_pickles.clip_names(everything)


def test_companion_with_ids_beyond_ncentroids_falls_back_to_the_row_report(tmp_path: Path):
    path = tmp_path / "shard-000003.pkl"
    write_cluster_shard(path, _records())
    report = LoadReport()
    part = load_partition("p", 0, [path], report, ncentroids=32)
    assert part is not None and part.size == 2  # the clip with id 300 is left out, and named
    assert [p["where"] for p in report.problems] == [f"{path}:2"]


def test_companion_is_a_plain_npz_without_pickled_objects(tmp_path: Path):
    path = tmp_path / "shard-000003.pkl"
    write_cluster_shard(path, _records())
    with zipfile.ZipFile(columns_path(path)) as archive:
        assert all(name.endswith(".npy") for name in archive.namelist())
    with np.load(columns_path(path), allow_pickle=False) as npz:  # loads without object arrays
        assert npz["labels"].shape == (3, 3)
