"""One benchmark instance ("pool"): the split, the derangement, whitening and the clusterings."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from acav.correspondence_retrieval.derangement import (
    derange_classes,
    derange_samples,
    split_per_class,
    whiten,
)
from acav.correspondence_retrieval.sources import Source
from acav.subset_selection.pairings import Clustering, make_pairs

CLUSTER_BACKENDS = ("sgd", "faiss", "scipy")


@dataclass
class Pool:
    source: str
    views: list[str]
    layers: dict[str, list[np.ndarray]]  # whitened test features, row r of every view is pair r
    positive: np.ndarray  # (n,) bool
    train: dict[str, list[np.ndarray]]  # whitened aligned train pairs (contrastive baseline only)
    clusterings: list[Clustering]  # one per (view, layer), in the column order of the labels
    ncentroids: int
    assignments: np.ndarray | None = None  # (n, D) cluster labels, filled by cluster()
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(self.positive.size)

    @property
    def npositive(self) -> int:
        return int(self.positive.sum())

    def all_layers(self) -> list[np.ndarray]:
        return [layer for v in self.views for layer in self.layers[v]]

    def pairs(self, pairing: str) -> list[tuple[int, int]]:
        """Stage 6's pairings (``combination``, ``bipartite``, ``diagonal``) or ``layer_N`` (one pair)."""
        if pairing.startswith("layer_"):
            depth = int(pairing.split("_", 1)[1])
            width = len(self.layers[self.views[0]])
            if not 0 <= depth < width:
                raise ValueError(f"pairing {pairing}: layers are layer_0..layer_{width - 1}")
            return [(depth, width + depth)]
        return make_pairs(self.clusterings, pairing)


def build_pool(
    source: Source,
    seed: int,
    negative_ratio: float = 0.5,
    max_per_class: int | None = 1000,
    train_ratio: float = 0.5,
    pool_size: int | None = None,
) -> Pool:
    """Split per class, derange the test half (see :mod:`.derangement`), whiten every layer."""
    rng = np.random.default_rng(seed)
    views = list(source.views)
    split = split_per_class(source.labels, source.aligned, rng, train_ratio)
    if source.mode == "sample":
        deranged = derange_samples(split.test[views[0]], views, rng, negative_ratio, pool_size)
    else:
        per_class = max_per_class
        if pool_size is not None:
            nclasses = len(np.unique(source.labels[views[0]]))
            per_class = (
                max(1, pool_size // nclasses)
                if per_class is None
                else min(per_class, max(1, pool_size // nclasses))
            )
        deranged = derange_classes(source.labels, split.test, source.aligned, rng, negative_ratio, per_class)
    layers = {v: [whiten(layer[deranged.index[v]]) for layer in source.views[v]] for v in views}
    train = {v: [whiten(layer[split.train[v]]) for layer in source.views[v]] for v in views}
    clusterings = [
        Clustering(source.modality.get(v, "video" if i == 0 else "audio"), v, f"layer_{d}")
        for i, v in enumerate(views)
        for d in range(len(source.views[v]))
    ]
    return Pool(source.name, views, layers, deranged.positive, train, clusterings, source.ncentroids)


def cluster_layer(x: np.ndarray, ncentroids: int, backend: str, seed: int) -> np.ndarray:
    """Cluster labels of one layer with stage 5's k-means (``sgd``), faiss, or scipy's k-means++."""
    if backend == "sgd":
        from acav.clustering.kmeans import fit_array

        return fit_array(x, ncentroids, seed=seed)[1]
    if backend == "faiss":
        import torch

        from acav.clustering.faiss_backend import train_faiss
        from acav.clustering.kmeans import kmeans_plus_plus, nearest

        data = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        init = kmeans_plus_plus(data, ncentroids, torch.Generator().manual_seed(seed)).numpy()
        centers, _ = train_faiss(x, ncentroids, seed=seed, init=init)
        return nearest(data, torch.from_numpy(centers))[0].numpy().astype(np.int64)
    if backend == "scipy":
        from scipy.cluster.vq import kmeans2

        _, labels = kmeans2(np.asarray(x, dtype=np.float64), ncentroids, minit="++", seed=seed)
        return labels.astype(np.int64)
    raise ValueError(f"unknown clustering backend {backend!r}; choose one of {', '.join(CLUSTER_BACKENDS)}")


def cluster(pool: Pool, ncentroids: int | None = None, backend: str = "sgd", seed: int = 0) -> np.ndarray:
    """``(n, D)`` labels, one clustering per (view, layer); stored on the pool with its CPU time."""
    k = int(ncentroids or pool.ncentroids)
    started = time.process_time()
    columns = [cluster_layer(x, k, backend, seed * 1000 + i) for i, x in enumerate(pool.all_layers())]
    pool.assignments = np.stack(columns, 1)
    pool.ncentroids = k
    pool.timings["cluster_cpu_s"] = time.process_time() - started
    return pool.assignments


def precision_curve(order: np.ndarray, positive: np.ndarray, size: int | None = None) -> np.ndarray:
    """Precision of every prefix of ``order`` (lengths 1..size; size = number of positives)."""
    size = int(positive.sum()) if size is None else size
    hits = positive[np.asarray(order[:size], dtype=np.int64)]
    return np.cumsum(hits) / np.arange(1, hits.size + 1)
