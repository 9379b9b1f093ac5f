"""``--underused discount``: the original release's rule for under-used centres, in training and in
the final assignment, checked against a reference written here from the release's facts
(sangho-vision/acav100m, clustering/code/sgd_clustering.py): a centre whose point count is below
``(points seen / k) ** 0.7`` has its squared distances divided by 5 before the nearest centre is
taken; a batch update multiplies each centre by ``1 - n_j * lr`` and adds ``lr`` times the sum of its
points, with ``lr = 0.5 / max n_j`` when ``max n_j * lr >= 1``; the final assignment uses the same
discounted distances with the training's counts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from clustering_synth import make_feature_shards

from acav.cli import main
from acav.clustering.centroids import load_clustering_set
from acav.clustering.kmeans import MiniBatchKMeans, discounted_nearest
from acav.core.safe_pickle import safe_load

POWER, FACTOR = 0.7, 5.0


def original_labels(
    batch: np.ndarray, centers: np.ndarray, counts: np.ndarray, seen: float, power: float = POWER
) -> np.ndarray:
    d = ((batch[None, :, :].astype(np.float64) - centers[:, None, :]) ** 2).sum(-1)  # k x b
    d[counts < (seen / len(centers)) ** power, :] /= FACTOR
    return d.argmin(axis=0)


def original_step(batch, centers, counts, seen, lr=0.01):
    labels = original_labels(batch, centers, counts, seen)
    got = np.bincount(labels, minlength=len(centers)).astype(np.float64)
    if got.max() * lr >= 1.0:
        lr = 0.5 / got.max()
    sums = np.zeros_like(centers)
    np.add.at(sums, labels, batch.astype(np.float64))
    centers = centers * (1.0 - got * lr)[:, None] + lr * sums
    return centers, counts + got, seen + len(batch)


def test_discounted_nearest_is_the_originals_rule() -> None:
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(8, 5)).astype(np.float32)
    counts = np.array([0, 3, 50, 400, 2, 90, 1000, 9], dtype=np.float64)
    x = rng.normal(size=(300, 5)).astype(np.float32) * 2
    seen = float(counts.sum())
    ours, dist = discounted_nearest(
        torch.from_numpy(x), torch.from_numpy(centers), torch.from_numpy(counts), seen, POWER, FACTOR
    )
    expected = original_labels(x, centers.astype(np.float64), counts, seen)
    assert np.array_equal(ours.numpy(), expected)
    plain = ((x[:, None, :] - centers[None]) ** 2).sum(-1).argmin(1)
    assert (plain != expected).sum() > 10  # the discount changes assignments on this data
    true_dist = ((x - centers[expected]) ** 2).sum(1)
    np.testing.assert_allclose(dist.numpy(), true_dist, rtol=1e-4, atol=1e-4)  # undiscounted distances


def test_training_steps_equal_the_originals() -> None:
    rng = np.random.default_rng(1)
    k, d = 6, 4
    means = rng.normal(size=(k, d)) * 4
    data = (means[rng.integers(k, size=3200)] + rng.normal(size=(3200, d))).astype(np.float32)
    init = data[:k].copy()
    model = MiniBatchKMeans(k, d, schedule="constant", learning_rate=0.01, discount=(POWER, FACTOR), seed=0)
    model.set_centers(torch.from_numpy(init))
    model.start_epoch(0)
    centers, counts, seen = init.astype(np.float64), np.zeros(k), 0.0
    for start in range(0, len(data), 32):  # the release's batch size
        batch = data[start : start + 32]
        model.partial_fit(torch.from_numpy(batch))
        centers, counts, seen = original_step(batch, centers, counts, seen)
    np.testing.assert_allclose(model.centers.numpy(), centers, rtol=1e-4, atol=1e-4)
    assert np.array_equal(model.usage.numpy(), counts) and model.stats.reseeded == 0


def test_stage_assigns_with_the_discount(tmp_path: Path) -> None:
    make_feature_shards(tmp_path / "features", n_shards=2, clips_per_shard=150, n_clusters=4)
    flags = "--ncentroids 12 --batch-size 32 --lr-schedule constant --underused discount".split()
    # p = 0.95 (the release: 0.7) so that this small, well-separated data keeps under-used centres.
    flags += ["--discount-power", "0.95"]
    assert main(["cluster", "--data-dir", str(tmp_path), *flags]) == 0
    (centroid_file,) = sorted((tmp_path / "clusters" / "centroids").glob("*.npz"))
    cset = load_clustering_set(centroid_file)
    assert cset.extra["discount"] == [0.95, FACTOR]
    features = {}
    for path in sorted((tmp_path / "features").glob("shard-*.pkl")):
        for row in safe_load(path):
            features[row["filename"]] = row
    rows = {}
    for path in sorted((tmp_path / "clusters").glob("shard-*.pkl")):
        for row in safe_load(path):
            rows[row["filename"]] = row
    assert len(rows) == 300
    changed = 0
    for model in cset.models:
        assert model.usage is not None and model.usage.sum() == 2 * 300  # two epochs
        model_key, layer = model.key
        names = sorted(rows)
        x = np.stack([_feature(features[n], model_key, layer) for n in names])
        expected = original_labels(
            x, model.centers.astype(np.float64), model.usage, float(model.usage.sum()), power=0.95
        )
        got = [_label(rows[n], model_key, layer) for n in names]
        assert got == expected.tolist(), model.key
        plain = ((x[:, None, :] - model.centers[None]) ** 2).sum(-1).argmin(1)
        changed += int((plain != expected).sum())
    assert changed > 0  # the discount did change final assignments here


def _feature(row: dict, model_key: str, layer: str) -> np.ndarray:
    for entry in row["video_features"] + row["audio_features"]:
        if entry["model_key"] == model_key:
            return np.asarray(entry["array"][layer], dtype=np.float32)
    raise KeyError(model_key)


def _label(row: dict, model_key: str, layer: str) -> int:
    for entry in row["video_assignments"] + row["audio_assignments"]:
        if entry["model_key"] == model_key:
            return int(entry["array"][layer])
    raise KeyError(model_key)
