"""Benchmark: our mini-batch k-means (stage 5) against the ACAV100M release's, on the same data.

    python benchmarks/clustering_original.py            # ~1 min of CPU here
    python benchmarks/clustering_original.py --n 50000 --dims 128 --seeds 5

The release's algorithm is restated here from its facts (sangho-vision/acav100m,
clustering/code/sgd_clustering.py and config.py), not taken from our code: centres start at
``rand * 1e-5``; the first ``10 * k`` points get random centres; batches of 32; each batch moves a
centre j with n_j new points by ``c_j <- c_j (1 - n_j lr) + lr sum(x)`` with ``lr = 0.01`` (``0.5 /
max n_j`` when ``max n_j * lr >= 1``); distances to a centre with fewer than ``(points seen / k) **
0.7`` points are divided by 5, in training and in the final assignment; 2 epochs. The data order is
a fresh permutation per epoch (the release shuffled shards and a 100-item buffer).

Data: a Gaussian mixture with ``--true-clusters`` components of unequal sizes (Zipf weights), so
that small clusters exist. Reported per variant, mean over seeds: mean squared distance of each
point to the centre it is assigned to (lower is better), adjusted Rand index against the true
components, the smallest cluster's share of the points, the number of empty clusters, and CPU
seconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import adjusted_rand_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from acav.clustering.kmeans import MiniBatchKMeans  # noqa: E402


def mixture(n: int, dims: int, components: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, components + 1)
    labels = rng.choice(components, size=n, p=weights / weights.sum())
    means = rng.normal(size=(components, dims)) * 3.0
    return (means[labels] + rng.normal(size=(n, dims))).astype(np.float32), labels


DISCOUNT_MOVED: list[float] = []  # per release run: share of points the final discount sends elsewhere


class ReleaseKMeans:
    """One k-means of the release (see the module docstring): ``add`` one batch, ``best`` labels."""

    def __init__(self, dims: int, k: int, gen: torch.Generator) -> None:
        self.k, self.gen = k, gen
        self.centers = torch.rand(k, dims, generator=gen) * 1e-5
        self.counts = torch.zeros(k)
        self.seen = 0

    def best(self, b: torch.Tensor) -> torch.Tensor:
        if self.seen < 10 * self.k:
            return torch.rand(self.k, len(b), generator=self.gen).argmin(0)
        centers = self.centers
        d = -2 * centers @ b.T + (b.norm(dim=1) ** 2)[None, :] + (centers.norm(dim=1) ** 2)[:, None]
        d[self.counts < (self.seen / self.k) ** 0.7, :] /= 5.0
        return d.argmin(0)

    def add(self, b: torch.Tensor, lr: float = 0.01) -> None:
        labels = self.best(b)
        got = torch.bincount(labels, minlength=self.k).float()
        if got.max() * lr >= 1.0:
            lr = 0.5 / float(got.max())
        self.counts += got
        self.centers = self.centers * (1 - got * lr)[:, None] + lr * torch.zeros_like(
            self.centers
        ).index_add_(0, labels, b)
        self.seen += len(b)


def original_kmeans(x: np.ndarray, k: int, seed: int, epochs: int = 2, batch: int = 32) -> np.ndarray:
    """The release's algorithm (see the module docstring); returns the final labels."""
    gen = torch.Generator().manual_seed(seed)
    data = torch.from_numpy(x)
    model = ReleaseKMeans(x.shape[1], k, gen)
    for _ in range(epochs):
        order = torch.randperm(len(data), generator=gen)
        for start in range(0, len(data) - batch + 1, batch):  # the release dropped the last batch
            model.add(data[order[start : start + batch]])
    out = torch.cat([model.best(data[s : s + 4096]) for s in range(0, len(data), 4096)])
    nearest = torch.cdist(data, model.centers).argmin(1)
    DISCOUNT_MOVED.append(float((out != nearest).float().mean()))
    return out.numpy()


def ours(x: np.ndarray, k: int, seed: int, epochs: int = 2, **options) -> np.ndarray:
    """Stage 5's model driven as the stage drives it (sample initialisation, batches, re-seeding
    only before the last epoch), with the stage's option names."""
    batch = options.pop("batch_size", 1024)
    gen = np.random.default_rng(seed)
    model = MiniBatchKMeans(k, x.shape[1], seed=seed, **options)
    sample = x[gen.choice(len(x), size=min(len(x), 64 * k), replace=False)]
    model.initialize(torch.from_numpy(sample), 10)
    data = torch.from_numpy(x)
    for epoch in range(epochs):
        model.start_epoch(epoch)
        order = torch.from_numpy(gen.permutation(len(x)))
        for start in range(0, len(x), batch):
            model.partial_fit(data[order[start : start + batch]], allow_reseed=epoch < epochs - 1)
    return model.assign(data)[0].numpy()


VARIANTS = {
    "release (reference)": lambda x, k, s: original_kmeans(x, k, s),
    "ours default (k-means++, batch 1024, 1/count, re-seed)": lambda x, k, s: ours(x, k, s),
    "ours, batch 32": lambda x, k, s: ours(x, k, s, batch_size=32),
    "ours, --underused discount": lambda x, k, s: ours(x, k, s, discount=(0.7, 5.0)),
    "ours, release settings but init (batch 32, constant lr, discount)": lambda x, k, s: ours(
        x, k, s, batch_size=32, schedule="constant", count_decay=1.0, discount=(0.7, 5.0)
    ),
}


def measure(
    x: np.ndarray, truth: np.ndarray, labels: np.ndarray, k: int
) -> tuple[float, float, float, float]:
    centers = np.zeros((k, x.shape[1]))
    sizes = np.bincount(labels, minlength=k)
    np.add.at(centers, labels, x)
    centers[sizes > 0] /= sizes[sizes > 0, None]
    mse = float(((x - centers[labels]) ** 2).sum(1).mean())
    return (
        mse,
        float(adjusted_rand_score(truth, labels)),
        float(sizes.min() / len(x)),
        float((sizes == 0).sum()),
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--dims", type=int, default=64)
    parser.add_argument("--true-clusters", type=int, default=32)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = {name: [] for name in VARIANTS}
    for seed in range(args.seeds):
        x, truth = mixture(args.n, args.dims, args.true_clusters, seed)
        for name, run in VARIANTS.items():
            start = time.process_time()
            labels = run(x, args.k, seed)
            cpu = time.process_time() - start
            rows[name].append((*measure(x, truth, labels, args.k), cpu))
    print(f"n={args.n} dims={args.dims} true clusters={args.true_clusters} k={args.k} seeds={args.seeds}")
    print("| variant | mean sq. distance | ARI vs truth | smallest cluster | empty clusters | CPU s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, values in rows.items():
        mse, ari, small, empty, cpu = np.mean(values, axis=0)
        print(f"| {name} | {mse:.2f} | {ari:.3f} | {100 * small:.2f} % | {empty:.1f} | {cpu:.2f} |")
    moved = 100 * float(np.mean(DISCOUNT_MOVED))
    print(
        f"release: the discount in the final assignment sends {moved:.2f} % of points to a centre that is not their nearest"
    )


if __name__ == "__main__":
    main()
