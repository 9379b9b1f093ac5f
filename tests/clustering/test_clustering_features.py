"""Reading feature shards: validation, skip reasons, scan statistics, streaming mini-batches."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from clustering_synth import make_feature_shards

from acav.clustering.features import (
    ClusteringInputError,
    ShardReadError,
    batches_of,
    iter_blocks,
    load_block,
    parse_clip,
    read_shard_rows,
    scan_shards,
)

KEYS = [
    ("layer_fake_visual", "layer_0"),
    ("layer_fake_visual", "layer_1"),
    ("layer_fake_audio", "layer_0"),
    ("layer_fake_audio", "layer_1"),
]
DIMS = {KEYS[0]: 12, KEYS[1]: 20, KEYS[2]: 6, KEYS[3]: 10}


def load_rows(path: Path) -> list:
    with open(path, "rb") as handle:
        return pickle.load(handle)  # test-written file, trusted


def write_rows(path: Path, rows: list) -> None:
    with open(path, "wb") as handle:
        pickle.dump(rows, handle)


class Hostile:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_parse_clip_float16_and_layer_lists(tmp_path):
    make_feature_shards(tmp_path, 1, 3, dtype=np.float16)
    row = load_rows(tmp_path / "shard-000000.pkl")[0]
    row["audio_features"][0]["array"] = [np.ones(6, np.float16), np.zeros(10, np.float16)]
    clip = parse_clip(row)
    assert set(clip.vectors) == set(KEYS)
    assert clip.vectors[KEYS[2]].dtype == np.float32 and clip.vectors[KEYS[2]].tolist() == [1.0] * 6
    assert clip.models["layer_fake_audio"].side == "audio"
    assert clip.models["layer_fake_visual"].extractor_name == "FAKE_VISUAL"


def test_load_block_skips_bad_clips_with_reasons(tmp_path):
    make_feature_shards(tmp_path, 1, 6)
    path = tmp_path / "shard-000000.pkl"
    rows = load_rows(path)
    rows[1]["audio_features"] = []  # extraction failed for the audio model
    rows[2]["video_features"][0]["array"]["layer_1"] = np.full(20, np.nan, np.float32)
    rows[3]["video_features"][0]["array"]["layer_0"] = np.zeros((3, 4), np.float32)
    rows[4] = "not a clip"
    write_rows(path, rows)
    block = load_block(path, KEYS, DIMS)
    assert block.kept == [0, 5]
    assert block.matrices[KEYS[1]].shape == (2, 20)
    np.testing.assert_array_equal(
        block.matrices[KEYS[0]][1], rows[5]["video_features"][0]["array"]["layer_0"]
    )
    reasons = dict(block.skipped)
    assert "missing features for layer_fake_audio" in reasons[rows[1]["filename"]]
    assert "NaN" in reasons[rows[2]["filename"]]
    assert "1-D" in reasons[rows[3]["filename"]]
    assert "not a dict" in reasons[None]


def test_wrong_width_in_block_is_skipped(tmp_path):
    make_feature_shards(tmp_path, 1, 2)
    path = tmp_path / "shard-000000.pkl"
    rows = load_rows(path)
    rows[0]["audio_features"][0]["array"]["layer_1"] = np.zeros(11, np.float32)
    write_rows(path, rows)
    block = load_block(path, KEYS, DIMS)
    assert block.kept == [1]
    assert "11 dims, expected 10" in block.skipped[0][1]


def test_scan_finds_keys_dims_stats_and_sample(tmp_path):
    make_feature_shards(tmp_path, 3, 40)
    paths = sorted(tmp_path.glob("shard-*.pkl"))
    catalog = scan_shards(paths, sample_size=50, seed=0, show_progress=False)
    assert catalog.keys == KEYS  # video models first, layers in numeric order
    assert catalog.dims == DIMS
    assert catalog.complete_clips == 120
    assert catalog.sample[KEYS[0]].shape == (50, 12)
    every = np.concatenate([load_block(p, KEYS, DIMS).matrices[KEYS[3]] for p in paths])
    np.testing.assert_allclose(catalog.mean[KEYS[3]], every.mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(catalog.std[KEYS[3]], every.std(0), rtol=1e-4, atol=1e-4)
    # every sampled row is a real row, rows aligned across keys
    rows = {tuple(r) for r in every}
    block_rows = np.concatenate([load_block(p, KEYS, DIMS).matrices[KEYS[0]] for p in paths])
    index = {tuple(r): i for i, r in enumerate(block_rows)}
    for a, b in zip(catalog.sample[KEYS[0]], catalog.sample[KEYS[3]], strict=True):
        assert tuple(b) in rows
        assert tuple(every[index[tuple(a)]]) == tuple(b)


def test_scan_ignores_a_model_only_a_few_clips_have(tmp_path):
    # One odd clip with an extra model must not make every other clip incomplete.
    make_feature_shards(tmp_path, 2, 20)
    path = tmp_path / "shard-000001.pkl"
    rows = load_rows(path)
    extra = {"model_key": "layer_odd", "array": {"layer_0": np.ones(3, np.float32)}}
    rows[4]["video_features"].append(extra)
    write_rows(path, rows)
    paths = sorted(tmp_path.glob("*.pkl"))
    catalog = scan_shards(paths, sample_size=30, seed=0, show_progress=False)
    assert catalog.keys == KEYS
    assert catalog.complete_clips == 40
    assert catalog.sample[KEYS[0]].shape == (30, 12)
    block = load_block(path, catalog.keys, catalog.dims)
    assert len(block.kept) == 20 and not block.skipped


def test_scan_reports_inconsistent_dims_clearly(tmp_path):
    # A whole shard of another width: extractors were mixed, which no per-clip skip can repair.
    make_feature_shards(tmp_path, 2, 5)
    path = tmp_path / "shard-000001.pkl"
    rows = load_rows(path)
    for row in rows:
        row["video_features"][0]["array"]["layer_0"] = np.zeros(13, np.float32)
    write_rows(path, rows)
    with pytest.raises(
        ClusteringInputError,
        match=r"layer_fake_visual/layer_0: 5 clips have 12 dims .* but 5 have another width, e.g. 13 in shard-000001.pkl",
    ):
        scan_shards(sorted(tmp_path.glob("*.pkl")), 10, 0, show_progress=False)


def test_one_clip_of_another_width_is_skipped_not_fatal(tmp_path):
    make_feature_shards(tmp_path, 2, 5)
    path = tmp_path / "shard-000000.pkl"  # the odd clip comes first: the majority still decides
    rows = load_rows(path)
    rows[0]["video_features"][0]["array"]["layer_0"] = np.zeros(13, np.float32)
    write_rows(path, rows)
    paths = sorted(tmp_path.glob("*.pkl"))
    catalog = scan_shards(paths, 10, 0, show_progress=False)
    assert catalog.dims[KEYS[0]] == 12
    assert catalog.complete_clips == 9
    assert all(matrix.shape[0] == 9 for matrix in catalog.sample.values())
    block = load_block(path, catalog.keys, catalog.dims)
    assert len(block.kept) == 4
    assert block.skipped == [
        (rows[0]["filename"], "wrong feature size: layer_fake_visual/layer_0 has 13 dims, expected 12")
    ]


def test_hostile_pickle_is_refused_and_reported(tmp_path):
    make_feature_shards(tmp_path, 2, 5)
    write_rows(tmp_path / "shard-000001.pkl", [Hostile()])
    with pytest.raises(ShardReadError, match="refusing to unpickle"):
        read_shard_rows(tmp_path / "shard-000001.pkl")
    catalog = scan_shards(sorted(tmp_path.glob("*.pkl")), 10, 0, show_progress=False)
    assert [p.name for p in catalog.shards] == ["shard-000000.pkl"]
    assert catalog.failed_shards[0][0].name == "shard-000001.pkl"
    blocks = list(iter_blocks(sorted(tmp_path.glob("*.pkl")), KEYS, DIMS))
    assert isinstance(blocks[1], tuple) and "refusing" in blocks[1][1]


def test_batches_stream_across_shards(tmp_path):
    make_feature_shards(tmp_path, 4, 37)
    paths = sorted(tmp_path.glob("*.pkl"))
    blocks = [load_block(p, KEYS, DIMS) for p in paths]
    batches = list(batches_of(iter(blocks), 16, np.random.default_rng(0)))
    sizes = [b[KEYS[0]].shape[0] for b in batches]
    assert sizes == [16] * 9 + [148 - 144]
    streamed = np.concatenate([b[KEYS[2]] for b in batches])
    expected = np.concatenate([b.matrices[KEYS[2]] for b in blocks])
    assert sorted(map(tuple, streamed)) == sorted(map(tuple, expected))
    # rows stay aligned across keys inside every batch
    pair = {
        tuple(a): tuple(b)
        for blk in blocks
        for a, b in zip(blk.matrices[KEYS[0]], blk.matrices[KEYS[2]], strict=True)
    }
    for batch in batches:
        for a, b in zip(batch[KEYS[0]], batch[KEYS[2]], strict=True):
            assert pair[tuple(a)] == tuple(b)
    # without a generator the order is the file order
    plain = np.concatenate([b[KEYS[1]] for b in batches_of(iter(blocks), 16, None)])
    np.testing.assert_array_equal(plain, np.concatenate([b.matrices[KEYS[1]] for b in blocks]))
