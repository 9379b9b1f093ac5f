"""Stage 5 end to end on synthetic feature shards: outputs, logs, resume, reuse, partitions."""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from clustering_synth import make_feature_shards
from sklearn.metrics import adjusted_rand_score

from acav.cli import main
from acav.clustering import features as features_module
from acav.clustering import train as train_module
from acav.clustering.centroids import load_clustering_set
from acav.clustering.config import ClusteringConfig
from acav.clustering.kmeans import MiniBatchKMeans
from acav.clustering.stage import run_clustering
from acav.core.cluster_columns import read_companion
from acav.core.safe_pickle import safe_load

CLUSTERINGS = [
    ("layer_fake_visual", "layer_0"),
    ("layer_fake_visual", "layer_1"),
    ("layer_fake_audio", "layer_0"),
    ("layer_fake_audio", "layer_1"),
]


def cluster(data: Path, *flags: str) -> int:
    return main(["cluster", "--data-dir", str(data), "--ncentroids", "4", "--batch-size", "64", *flags])


def read_cluster_shards(data: Path) -> dict[str, dict]:
    """filename -> cluster row, over every cluster shard."""
    out = {}
    for path in sorted((data / "clusters").glob("shard-*.pkl")):
        for row in safe_load(path):
            out[row["filename"]] = row
    return out


def labels_of(rows: dict[str, dict], model_key: str, layer: str) -> dict[str, int]:
    out = {}
    for name, row in rows.items():
        for entry in row["video_assignments"] + row["audio_assignments"]:
            if entry["model_key"] == model_key:
                out[name] = entry["array"][layer]
    return out


def logs(data: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((data / "clusters").glob("log_*.json"))]


@pytest.fixture
def caplog(caplog):
    """caplog that also sees the ``acav`` logger (the CLI turns its propagation off)."""
    logger = logging.getLogger("acav")
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    truth = make_feature_shards(tmp_path / "features", n_shards=3, clips_per_shard=120, n_clusters=4)
    return tmp_path, truth


def test_outputs_match_formats_and_recover_clusters(data):
    root, truth = data
    assert cluster(root) == 0
    clusters = root / "clusters"
    assert sorted(p.name for p in clusters.glob("shard-*.pkl")) == [f"shard-00000{i}.pkl" for i in range(3)]
    rows = safe_load(clusters / "shard-000001.pkl")
    features = pickle.loads((root / "features" / "shard-000001.pkl").read_bytes())
    assert [r["filename"] for r in rows] == [f["filename"] for f in features]  # same clips, same order
    row = rows[0]
    assert set(row) == {"filename", "shard_name", "shard_size", "video_assignments", "audio_assignments"}
    assert row["shard_name"] == "shard-000001" and row["shard_size"] == 120
    (video,) = row["video_assignments"]
    (audio,) = row["audio_assignments"]
    assert video == {
        "model_key": "layer_fake_visual",
        "extractor_name": "FAKE_VISUAL",
        "dataset": "synthetic",
        "array": {"layer_0": video["array"]["layer_0"], "layer_1": video["array"]["layer_1"]},
    }
    assert set(audio["array"]) == {"layer_0", "layer_1"} and audio["model_key"] == "layer_fake_audio"
    assert all(type(v) is int and 0 <= v < 4 for v in [*video["array"].values(), *audio["array"].values()])
    companion = read_companion(clusters / "shard-000001.pkl", 1 << 30)  # stage 6's columnar copy
    assert companion is not None and companion.names.split("\n") == [r["filename"] for r in rows]
    first = {
        (m, k, layer): int(v) for (m, k, layer), v in zip(companion.keys, companion.labels[0], strict=True)
    }
    assert first == {
        (side, e["model_key"], layer): value
        for side, e in (("video", video), ("audio", audio))
        for layer, value in e["array"].items()
    }
    everything = read_cluster_shards(root)
    names = sorted(truth)
    for key in CLUSTERINGS:
        predicted = labels_of(everything, *key)
        assert adjusted_rand_score([truth[n] for n in names], [predicted[n] for n in names]) > 0.95

    (log,) = logs(root)
    assert set(log) >= {"hostname", "pid", "timestamp", "time", "shards"}
    assert log["shards"] == ["shard-000000", "shard-000001", "shard-000002"]
    assert log["pid"] == os.getpid() and isinstance(log["timestamp"], int)
    assert log["clips"] == 360 and log["skipped_clips"] == 0

    with np.load(clusters / log["centroids"], allow_pickle=False) as archive:  # readable without pickle
        meta = json.loads(str(archive["meta_json"]))
        assert archive["centers_001"].shape == (4, 20)
    assert meta["shards"] == log["shards"]
    entry = meta["clusterings"][3]
    assert (entry["model_key"], entry["layer"], entry["dims"], entry["ncentroids"]) == (
        "layer_fake_audio",
        "layer_1",
        10,
        4,
    )
    assert entry["inertia"] > 0 and entry["points"] == 360
    assert not list((clusters / "checkpoints").iterdir())  # removed once training finished


def test_same_seed_same_output_in_two_directories(tmp_path):
    for name in ("a", "b"):
        make_feature_shards(
            tmp_path / name / "features", n_shards=2, clips_per_shard=80, n_clusters=6, noise=4.0
        )
        assert cluster(tmp_path / name, "--seed", "7", "--ncentroids", "5") == 0
    for shard in ("shard-000000.pkl", "shard-000001.pkl"):
        a = (tmp_path / "a" / "clusters" / shard).read_bytes()
        assert a == (tmp_path / "b" / "clusters" / shard).read_bytes()
    ca = load_clustering_set(next((tmp_path / "a" / "clusters" / "centroids").glob("*.npz")))
    cb = load_clustering_set(next((tmp_path / "b" / "clusters" / "centroids").glob("*.npz")))
    for ma, mb in zip(ca.models, cb.models, strict=True):
        np.testing.assert_array_equal(ma.centers, mb.centers)


def test_missing_features_are_skipped_and_recorded(data):
    root, _ = data
    path = root / "features" / "shard-000002.pkl"
    rows = pickle.loads(path.read_bytes())
    lost = rows[5]["filename"]
    rows[5]["video_features"] = []
    path.write_bytes(pickle.dumps(rows))
    assert cluster(root) == 0
    assert lost not in read_cluster_shards(root)
    assert len(read_cluster_shards(root)) == 359
    records = [json.loads(line) for line in (root / "clusters" / "skipped.jsonl").read_text().splitlines()]
    assert (
        records == [{**records[0], "shard": "shard-000002", "filename": lost, "reason": records[0]["reason"]}]
        and "missing features for layer_fake_visual" in records[0]["reason"]
    )
    assert logs(root)[0]["skipped_clips"] == 1


def test_rerun_skips_finished_partitions(data):
    root, _ = data
    assert cluster(root) == 0
    before = {p.name: p.stat().st_mtime_ns for p in (root / "clusters").glob("shard-*.pkl")}
    assert cluster(root) == 0
    assert {p.name: p.stat().st_mtime_ns for p in (root / "clusters").glob("shard-*.pkl")} == before
    assert len(logs(root)) == 1


def test_resume_after_interruption_during_assignment(data, monkeypatch):
    root, _ = data
    assert cluster(root) == 0
    clusters = root / "clusters"
    reference = {p.name: p.read_bytes() for p in clusters.glob("shard-*.pkl")}
    # simulate a crash after training and the first shard: later shards and the log are missing
    for log_file in clusters.glob("log_*.json"):
        log_file.unlink()
    (clusters / "shard-000001.pkl").unlink()
    (clusters / "shard-000002.pkl").unlink()
    finished = (clusters / "shard-000000.pkl").stat().st_mtime_ns

    def no_training(*args, **kwargs):
        raise AssertionError("must reuse the saved centres, not train again")

    monkeypatch.setattr(train_module, "train_partition", no_training)
    assert cluster(root) == 0
    assert (clusters / "shard-000000.pkl").stat().st_mtime_ns == finished  # not redone
    assert {p.name: p.read_bytes() for p in clusters.glob("shard-*.pkl")} == reference
    (log,) = logs(root)
    assert log["shards"] == ["shard-000000", "shard-000001", "shard-000002"]


def test_resume_training_from_epoch_checkpoint(tmp_path, monkeypatch):
    for name in ("whole", "broken"):
        make_feature_shards(
            tmp_path / name / "features", n_shards=2, clips_per_shard=100, n_clusters=6, noise=3.0
        )
    assert cluster(tmp_path / "whole", "--epochs", "3") == 0

    original = MiniBatchKMeans.start_epoch

    def crash_at_epoch_2(self, epoch):
        if epoch == 2:
            raise KeyboardInterrupt
        original(self, epoch)

    monkeypatch.setattr(MiniBatchKMeans, "start_epoch", crash_at_epoch_2)
    assert cluster(tmp_path / "broken", "--epochs", "3") == 130  # interrupted
    checkpoints = list((tmp_path / "broken" / "clusters" / "checkpoints").glob("*.npz"))
    assert len(checkpoints) == 1
    monkeypatch.setattr(MiniBatchKMeans, "start_epoch", original)
    starts = []
    monkeypatch.setattr(MiniBatchKMeans, "start_epoch", lambda self, e: (starts.append(e), original(self, e)))
    assert cluster(tmp_path / "broken", "--epochs", "3") == 0
    assert set(starts) == {2}  # only the last epoch was run again
    for shard in ("shard-000000.pkl", "shard-000001.pkl"):
        assert (tmp_path / "whole" / "clusters" / shard).read_bytes() == (
            tmp_path / "broken" / "clusters" / shard
        ).read_bytes()


def test_centroids_reuse_assigns_new_shards_without_training(data, monkeypatch, tmp_path):
    root, truth = data
    assert cluster(root) == 0
    centroid_file = next((root / "clusters" / "centroids").glob("*.npz"))
    other = tmp_path / "other"
    # same generating distribution (same blob centres), new clips and shard numbers
    new_truth = make_feature_shards(
        other / "features", n_shards=2, clips_per_shard=60, n_clusters=4, seed=5, first_index=7
    )
    monkeypatch.setattr(
        train_module, "train_partition", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained"))
    )
    assert cluster(other, "--centroids", str(centroid_file)) == 0
    old = read_cluster_shards(root)
    new = read_cluster_shards(other)
    assert len(new) == 120
    for key in CLUSTERINGS:
        old_labels, new_labels = labels_of(old, *key), labels_of(new, *key)
        # the same true cluster maps to the same cluster id in both data sets
        mapping = {truth[n]: old_labels[n] for n in old_labels}
        assert all(new_labels[n] == mapping[new_truth[n]] for n in new_labels)
    (log,) = logs(other)
    assert log["shards"] == ["shard-000007", "shard-000008"]
    copied = load_clustering_set(other / "clusters" / log["centroids"])
    assert copied.shards == log["shards"] and copied.extra["source"] == str(centroid_file)


def test_partitions_one_clustering_and_log_each(tmp_path):
    make_feature_shards(tmp_path / "features", n_shards=5, clips_per_shard=30, n_clusters=3)
    assert cluster(tmp_path, "--shards-per-partition", "2", "--ncentroids", "3") == 0
    assert [log["shards"] for log in logs(tmp_path)] == [
        ["shard-000000", "shard-000001"],
        ["shard-000002", "shard-000003"],
        ["shard-000004"],
    ]
    names = sorted(p.name for p in (tmp_path / "clusters" / "centroids").glob("*.npz"))
    assert names == [
        "shard-000000_shard-000001.npz",
        "shard-000002_shard-000003.npz",
        "shard-000004_shard-000004.npz",
    ]
    # new shards arriving later form a new partition; old ones are left alone
    make_feature_shards(tmp_path / "features", n_shards=1, clips_per_shard=30, n_clusters=3, first_index=5)
    assert cluster(tmp_path, "--shards-per-partition", "2", "--ncentroids", "3") == 0
    assert logs(tmp_path)[-1]["shards"] == ["shard-000005"] and len(logs(tmp_path)) == 4


def test_hostile_shard_is_refused_recorded_and_the_rest_clustered(data):
    root, _ = data

    class Hostile:
        def __reduce__(self):
            return (os.system, ("touch hacked",))

    (root / "features" / "shard-000001.pkl").write_bytes(pickle.dumps([Hostile()]))
    assert cluster(root) == 0
    assert not (root / "hacked").exists() and not Path("hacked").exists()
    (log,) = logs(root)
    assert log["shards"] == ["shard-000000", "shard-000002"]
    record = json.loads((root / "clusters" / "skipped.jsonl").read_text().splitlines()[0])
    assert record["shard"] == "shard-000001" and "refusing to unpickle" in record["reason"]


def test_empty_input_is_a_clear_error(tmp_path, caplog):
    assert cluster(tmp_path) == 1
    assert "no feature shards" in caplog.text and "stage 4" in caplog.text


def test_no_complete_clip_is_a_clear_error(tmp_path, caplog):
    make_feature_shards(tmp_path / "features", n_shards=1, clips_per_shard=5)
    path = tmp_path / "features" / "shard-000000.pkl"
    rows = pickle.loads(path.read_bytes())
    for i, row in enumerate(rows):
        row["audio_features" if i % 2 else "video_features"] = []
    path.write_bytes(pickle.dumps(rows))
    assert cluster(tmp_path) == 1
    assert "nothing to cluster" in caplog.text


def test_fewer_clips_than_centroids_reduces_k(tmp_path):
    make_feature_shards(tmp_path / "features", n_shards=1, clips_per_shard=10, n_clusters=2)
    assert cluster(tmp_path, "--ncentroids", "32") == 0
    cset = load_clustering_set(next((tmp_path / "clusters" / "centroids").glob("*.npz")))
    assert {m.ncentroids for m in cset.models} == {10}


@pytest.mark.parametrize("normalize", ["l2", "standardize"])
def test_normalisation_is_stored_and_reused(tmp_path, normalize):
    truth = make_feature_shards(tmp_path / "features", n_shards=2, clips_per_shard=60, n_clusters=4)
    assert cluster(tmp_path, "--normalize", normalize) == 0
    cset = load_clustering_set(next((tmp_path / "clusters" / "centroids").glob("*.npz")))
    assert cset.normalize == normalize
    if normalize == "standardize":
        assert all(m.mean is not None and m.std.shape == (m.dims,) for m in cset.models)
    else:
        assert all(np.allclose(np.linalg.norm(m.centers, axis=1), 1.0, atol=0.05) for m in cset.models)
    rows = read_cluster_shards(tmp_path)
    names = sorted(truth)
    predicted = labels_of(rows, *CLUSTERINGS[0])
    assert adjusted_rand_score([truth[n] for n in names], [predicted[n] for n in names]) > 0.95


def test_faiss_backend(data):
    pytest.importorskip("faiss")
    root, truth = data
    assert cluster(root, "--backend", "faiss", "--faiss-threads", "1") == 0
    rows = read_cluster_shards(root)
    names = sorted(truth)
    for key in CLUSTERINGS:
        predicted = labels_of(rows, *key)
        assert adjusted_rand_score([truth[n] for n in names], [predicted[n] for n in names]) > 0.95
    assert load_clustering_set(next((root / "clusters" / "centroids").glob("*.npz"))).backend == "faiss"


def test_config_file_section_and_validation(data, tmp_path):
    root, _ = data
    config = tmp_path / "acav.yaml"
    config.write_text("clustering:\n  ncentroids: 3\n  epochs: 1\n")
    assert main(["cluster", "--data-dir", str(root), "--config", str(config)]) == 0
    cset = load_clustering_set(next((root / "clusters" / "centroids").glob("*.npz")))
    assert {m.ncentroids for m in cset.models} == {3}
    assert cset.extra["config"]["epochs"] == 1
    with pytest.raises(Exception, match="epochs must be >= 1"):
        run_clustering(root, ClusteringConfig(epochs=0))


def test_centroids_of_other_widths_is_a_clear_error(data, tmp_path, caplog):
    root, _ = data
    assert cluster(root) == 0
    centroid_file = next((root / "clusters" / "centroids").glob("*.npz"))
    models = {
        "layer_fake_visual": ("video", "FAKE_VISUAL", "synthetic", (12, 21)),
        "layer_fake_audio": ("audio", "FAKE_AUDIO", "synthetic", (6, 10)),
    }
    other = tmp_path / "other"
    make_feature_shards(other / "features", n_shards=1, clips_per_shard=10, models=models)
    assert cluster(other, "--centroids", str(centroid_file)) == 1
    assert "layer_fake_visual/layer_1 has 21 dims, expected 20" in caplog.text
    assert not list((other / "clusters").glob("log_*.json"))


def test_missing_centroid_file_is_a_clear_error(data, caplog):
    root, _ = data
    assert cluster(root, "--centroids", str(root / "nope.npz")) == 1
    assert "centroid file not found" in caplog.text


def test_streaming_over_shards_gives_the_exact_mean_for_one_centroid(data):
    # k = 1 with the 1/count schedule: the centre must be the mean of every clip of every shard,
    # whatever the batch boundaries, shard order and shuffling.
    root, _ = data
    assert cluster(root, "--ncentroids", "1", "--batch-size", "50") == 0
    cset = load_clustering_set(next((root / "clusters" / "centroids").glob("*.npz")))
    rows = [r for p in sorted((root / "features").glob("*.pkl")) for r in pickle.loads(p.read_bytes())]
    for model in cset.models:
        side = model.info.side
        vectors = [
            e["array"][model.key[1]]
            for r in rows
            for e in r[f"{side}_features"]
            if e["model_key"] == model.key[0]
        ]
        np.testing.assert_allclose(model.centers[0], np.mean(vectors, axis=0), rtol=1e-4, atol=1e-4)
        assert model.inertia == pytest.approx(((np.asarray(vectors) - model.centers[0]) ** 2).sum(), rel=1e-4)


def test_cpu_threads_option(data, monkeypatch):
    import torch

    root, _ = data
    calls = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    assert cluster(root, "--cpu-threads", "1", "--device", "cpu") == 0
    assert calls == [1]


@pytest.mark.parametrize(
    "flags", [("--faiss-threads", "-1"), ("--faiss-iters", "0"), ("--reseed-every", "0")]
)
def test_invalid_thread_and_iteration_options_are_config_errors(tmp_path, flags, caplog):
    make_feature_shards(tmp_path / "features", n_shards=1, clips_per_shard=10)
    assert cluster(tmp_path, *flags) == 2
    assert flags[0][2:].replace("-", "_") in caplog.text
    assert not (tmp_path / "clusters").exists()


def test_train_on_sample_trains_without_streaming_the_shards(data, monkeypatch):
    root, truth = data

    def no_stream(*args, **kwargs):
        raise AssertionError("the epochs streamed the shards")

    monkeypatch.setattr(train_module, "iter_blocks", no_stream)
    assert cluster(root, "--train-on-sample", "--sample-size", "200") == 0
    rows = read_cluster_shards(root)
    names = sorted(truth)
    assert len(rows) == 360  # every clip is still assigned
    for key in CLUSTERINGS:
        predicted = labels_of(rows, *key)
        assert adjusted_rand_score([truth[n] for n in names], [predicted[n] for n in names]) > 0.95


def test_feature_cache_reads_each_shard_once_with_the_same_output(data, tmp_path, monkeypatch):
    root, _ = data
    other = tmp_path / "copy"
    shutil.copytree(root / "features", other / "features")
    reads: list[str] = []
    real = features_module.safe_load

    def counting(path, *args, **kwargs):
        reads.append(Path(path).name)
        return real(path, *args, **kwargs)

    parsed: list[int] = []
    real_parse = features_module.parse_clip

    def counting_parse(row):
        parsed.append(1)
        return real_parse(row)

    monkeypatch.setattr(features_module, "safe_load", counting)
    monkeypatch.setattr(features_module, "parse_clip", counting_parse)
    assert cluster(root) == 0  # cache on (auto budget)
    assert sorted(reads) == ["shard-000000.pkl", "shard-000001.pkl", "shard-000002.pkl"]
    assert len(parsed) == 360  # each clip parsed once
    reads.clear()
    parsed.clear()
    assert cluster(other, "--cache-mb", "-1") == 0  # off: every pass reads every shard again
    assert len(reads) == 4 * 3 and len(parsed) == 4 * 360  # scan, two epochs, assignment
    for name in ("shard-000000.pkl", "shard-000001.pkl", "shard-000002.pkl"):
        assert (root / "clusters" / name).read_bytes() == (other / "clusters" / name).read_bytes()


def test_rows_cache_budget_and_changed_files(tmp_path):
    small = tmp_path / "a.pkl"
    small.write_bytes(pickle.dumps([{"filename": "a"}]))
    big = tmp_path / "b.pkl"
    big.write_bytes(pickle.dumps([{"filename": "b" * 5000}]))
    with features_module.rows_cache(small.stat().st_size + 10) as cache:
        first = features_module.read_shard_rows(small)
        assert features_module.read_shard_rows(small) is first and cache.hits == 1
        features_module.read_shard_rows(big)  # over the budget: not kept
        assert features_module.read_shard_rows(big) == [{"filename": "b" * 5000}] and cache.hits == 1
        small.write_bytes(pickle.dumps([{"filename": "changed!"}]))  # another size and time
        assert features_module.read_shard_rows(small) == [{"filename": "changed!"}]
    with features_module.rows_cache(0) as none:
        assert none is None and features_module._active_cache is None
