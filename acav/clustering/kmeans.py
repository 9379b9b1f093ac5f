"""Mini-batch SGD k-means in torch (the paper's clustering method), on the GPU when one is visible.

Training for one clustering:

1. Initialise from a reservoir sample of the data (drawn in the first pass): k-means++ seeding,
   then a few Lloyd iterations on the sample (cheap: the sample is a few thousand rows).
2. Stream the data in mini-batches for ``epochs``. Each batch is assigned to its nearest centres
   and every centre moves toward the mean of its new points:

   * ``count`` schedule (default; Sculley, "Web-scale k-means clustering", WWW 2010): per-centre
     learning rate 1/count, which makes each centre the running mean of every point it was given.
     At each epoch start the counts are multiplied by ``count_decay`` so later epochs can still move
     the centres (with 1/count alone, a second epoch hardly changes anything).
   * ``constant`` schedule (the ACAV100M release): a global rate ``lr = learning_rate * 0.1 **
     (epoch // 5)`` applied per assigned point, with the release's fallback ``lr = 0.5 / max_count``
     when a centre received so many points that ``count * lr >= 1``.
3. Under-used centres are re-seeded (default) or, with ``discount`` (the release's rule, see
   :func:`discounted_nearest`), favoured in every assignment, training and final alike.
   Re-seeding: every ``reseed_every`` batches, a centre that received fewer
   than ``reseed_fraction`` of the average share of points in that window is moved onto a point of
   the current batch drawn with probability proportional to its squared distance to its centre (a
   point the clustering serves badly), as in k-means++. Re-seeding stops before the end of training
   so that a re-seeded centre is still refined (see ``allow_reseed`` in the caller).

Memory is one batch plus the ``k x d`` centres; nothing depends on the data set size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

SCHEDULES = ("count", "constant")
_ASSIGN_CHUNK = 32768  # rows per distance matrix, to bound memory for big assignment calls


def row_norms_sq(x: torch.Tensor) -> torch.Tensor:
    # vector_norm reduces without materialising x**2 (an n x d temporary): ~3x faster for wide features
    return torch.linalg.vector_norm(x, dim=1).square_()


def squared_distances(
    x: torch.Tensor, centers: torch.Tensor, centers_sq: torch.Tensor | None = None
) -> torch.Tensor:
    """``(n, k)`` squared Euclidean distances via ``|x|^2 - 2 x.c + |c|^2`` (one matmul).

    ``centers_sq`` (the squared norms of ``centers``) may be passed when it is reused across calls.
    """
    x_sq = row_norms_sq(x).unsqueeze(1)
    c_sq = row_norms_sq(centers) if centers_sq is None else centers_sq
    dist = torch.addmm(x_sq + c_sq.unsqueeze(0), x, centers.t(), alpha=-2.0)
    return dist.clamp_min_(0.0)


def nearest(x: torch.Tensor, centers: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of the nearest centre and the squared distance to it, for every row of ``x``."""
    if x.shape[0] <= _ASSIGN_CHUNK:
        dist, labels = squared_distances(x, centers).min(dim=1)
        return labels, dist
    labels_parts, dist_parts = [], []
    for start in range(0, x.shape[0], _ASSIGN_CHUNK):
        dist, labels = squared_distances(x[start : start + _ASSIGN_CHUNK], centers).min(dim=1)
        labels_parts.append(labels)
        dist_parts.append(dist)
    return torch.cat(labels_parts), torch.cat(dist_parts)


def discounted_nearest(
    x: torch.Tensor, centers: torch.Tensor, usage: torch.Tensor, seen: float, power: float, factor: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ACAV100M release's assignment: a centre that has received fewer than ``(seen / k) ** power``
    points (``usage``: points per centre so far, ``seen`` their total) has its squared distances
    divided by ``factor`` before the nearest centre is taken. Returns the labels and the true
    (undiscounted) squared distances."""
    k = centers.shape[0]
    under = usage.to(centers.device) < (seen / k) ** power
    if not bool(under.any()):
        return nearest(x, centers)
    scale = torch.where(under, 1.0 / factor, 1.0).to(torch.float32)
    labels_parts, dist_parts = [], []
    for start in range(0, x.shape[0], _ASSIGN_CHUNK):
        dist = squared_distances(x[start : start + _ASSIGN_CHUNK], centers)
        labels = (dist * scale).argmin(dim=1)
        labels_parts.append(labels)
        dist_parts.append(dist.gather(1, labels.unsqueeze(1)).squeeze(1))
    return torch.cat(labels_parts), torch.cat(dist_parts)


def kmeans_plus_plus(x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007) with ``2 + log k`` trials per centre."""
    n = x.shape[0]
    if n < k:
        raise ValueError(f"k-means++ needs at least {k} points, got {n}")
    trials = 2 + int(math.log(k))
    first = int(torch.randint(n, (1,), generator=generator, device=x.device).item())
    chosen = [first]
    x_sq = row_norms_sq(x)  # the candidates' distances to every point reuse these norms
    closest = squared_distances(x, x[first : first + 1]).squeeze(1)
    for _ in range(1, k):
        total = closest.sum()
        if total <= 0:  # every point coincides with a centre already: pick any other rows
            weights = torch.ones_like(closest)
            weights[chosen] = 0
            if weights.sum() == 0:
                weights = torch.ones_like(closest)
        else:
            weights = closest
        candidates = torch.multinomial(weights, trials, replacement=True, generator=generator)
        cand_dist = torch.minimum(closest.unsqueeze(0), squared_distances(x[candidates], x, x_sq))
        best = int(cand_dist.sum(1).argmin().item())
        chosen.append(int(candidates[best].item()))
        closest = cand_dist[best]
    return x[chosen].clone()


def lloyd(x: torch.Tensor, centers: torch.Tensor, iters: int) -> torch.Tensor:
    """Full-batch Lloyd iterations on a (small) in-memory sample; an emptied centre takes the worst-served point."""
    centers = centers.clone()
    k = centers.shape[0]
    previous = None
    for _ in range(iters):
        labels, dist = nearest(x, centers)
        if previous is not None and torch.equal(labels, previous):
            break
        previous = labels
        counts = torch.bincount(labels, minlength=k).to(x.dtype)
        sums = torch.zeros_like(centers).index_add_(0, labels, x)
        filled = counts > 0
        centers[filled] = sums[filled] / counts[filled].unsqueeze(1)
        empty = (~filled).nonzero().flatten()
        if empty.numel():
            worst = dist.argsort(descending=True)[: empty.numel()]
            centers[empty] = x[worst]
    return centers


@dataclass
class TrainStats:
    batches: int = 0
    points: int = 0
    reseeded: int = 0
    lr_fallbacks: int = 0
    epoch_inertia: float = 0.0  # sum of squared distances over the current epoch (before each update)
    epoch_points: int = 0


class MiniBatchKMeans:
    """One streaming k-means model: call :meth:`initialize`, then per epoch :meth:`start_epoch` and :meth:`partial_fit`."""

    def __init__(
        self,
        ncentroids: int,
        dims: int,
        device: torch.device | str = "cpu",
        schedule: str = "count",
        learning_rate: float = 0.01,
        count_decay: float = 0.0,
        reseed_fraction: float = 0.05,
        reseed_every: int = 20,
        seed: int = 0,
        discount: tuple[float, float] | None = None,
    ) -> None:
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown learning-rate schedule {schedule!r}; use one of {SCHEDULES}")
        if ncentroids < 1 or dims < 1:
            raise ValueError(f"need ncentroids >= 1 and dims >= 1, got {ncentroids} and {dims}")
        self.k = ncentroids
        self.dims = dims
        self.device = torch.device(device)
        self.schedule = schedule
        self.learning_rate = learning_rate
        self.count_decay = count_decay
        self.reseed_fraction = reseed_fraction
        self.reseed_every = max(1, reseed_every)
        self.discount = discount  # (power, factor) of the release's rule, or None
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        self.centers = torch.zeros(ncentroids, dims, device=self.device)
        # float64 counts stay exact far past 2**24 points
        self.counts = torch.zeros(ncentroids, dtype=torch.float64, device=self.device)
        self._window_usage = torch.zeros(ncentroids, dtype=torch.float64, device=self.device)
        # points each centre received over the whole training (never decayed; the discount rule's counts)
        self.usage = torch.zeros(ncentroids, dtype=torch.float64, device=self.device)
        self._window_points = 0
        self.epoch = 0
        self.stats = TrainStats()

    # -- initialisation -------------------------------------------------------------------------
    def initialize(self, sample: torch.Tensor, lloyd_iters: int = 10) -> None:
        """Seed the centres from an in-memory sample (k-means++ then ``lloyd_iters`` Lloyd steps)."""
        sample = sample.to(self.device, torch.float32)
        centers = kmeans_plus_plus(sample, self.k, self.generator)
        if lloyd_iters > 0:
            centers = lloyd(sample, centers, lloyd_iters)
        self.set_centers(centers)

    def set_centers(self, centers: torch.Tensor) -> None:
        if tuple(centers.shape) != (self.k, self.dims):
            raise ValueError(f"centres must be {self.k} x {self.dims}, got {tuple(centers.shape)}")
        self.centers = centers.to(self.device, torch.float32).clone()

    # -- training -------------------------------------------------------------------------------
    def start_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.counts.mul_(self.count_decay)
        self._window_usage.zero_()
        self._window_points = 0
        self.stats.epoch_inertia = 0.0
        self.stats.epoch_points = 0

    def current_lr(self) -> float:
        return self.learning_rate * 0.1 ** (self.epoch // 5)

    def partial_fit(self, x: torch.Tensor, allow_reseed: bool = True) -> float:
        """One SGD step on a mini-batch; returns the batch's inertia measured before the step."""
        x = x.to(self.device, torch.float32)
        n = x.shape[0]
        if n == 0:
            return 0.0
        labels, dist = self.assign(x)
        got = torch.bincount(labels, minlength=self.k).to(torch.float64)
        sums = torch.zeros_like(self.centers).index_add_(0, labels, x)
        if self.schedule == "count":
            new_counts = self.counts + got
            # c <- c + (sum_x - m c) / (count + m): the running mean of every point the centre got.
            step = (1.0 / new_counts.clamp_min(1.0)).to(torch.float32).unsqueeze(1)
            self.centers += (sums - got.to(torch.float32).unsqueeze(1) * self.centers) * step
        else:
            lr = self.current_lr()
            peak = float(got.max().item())
            if peak * lr >= 1.0:
                lr = 0.5 / peak
                self.stats.lr_fallbacks += 1
            self.centers.mul_((1.0 - got * lr).to(torch.float32).unsqueeze(1)).add_(sums, alpha=lr)
        self.counts += got
        self.usage += got
        self._window_usage += got
        self._window_points += n
        inertia = float(dist.sum().item())
        self.stats.batches += 1
        self.stats.points += n
        self.stats.epoch_inertia += inertia
        self.stats.epoch_points += n
        if allow_reseed and self.discount is None and self.stats.batches % self.reseed_every == 0:
            self._reseed_underused(x, dist)
        return inertia

    def _reseed_underused(self, x: torch.Tensor, dist: torch.Tensor) -> int:
        expected = self._window_points / self.k
        if expected * self.reseed_fraction < 1.0:
            return 0  # the window is too short to call any centre under-used; keep accumulating
        under = (self._window_usage < self.reseed_fraction * expected).nonzero().flatten()
        self._window_usage.zero_()
        self._window_points = 0
        if under.numel() == 0:
            return 0
        weights = dist.clone()
        available = int((weights > 0).sum().item())
        count = min(under.numel(), available)
        if count == 0:
            return 0
        picks = torch.multinomial(weights, count, replacement=False, generator=self.generator)
        targets = under[:count]
        self.centers[targets] = x[picks]
        self.counts[targets] = 1.0  # a fresh centre: its next points move it quickly
        self.stats.reseeded += count
        return count

    # -- use ------------------------------------------------------------------------------------
    def assign(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.to(self.device, torch.float32)
        if self.discount is None:
            return nearest(x, self.centers)
        seen = float(self.usage.sum().item())
        return discounted_nearest(x, self.centers, self.usage, seen, *self.discount)

    def state(self) -> dict[str, Any]:
        """Numpy state for checkpoints (centres, counts, epoch, stats)."""
        return {
            "centers": self.centers.cpu().numpy(),
            "counts": self.counts.cpu().numpy(),
            "usage": self.usage.cpu().numpy(),
            "generator": self.generator.get_state().cpu().numpy(),
            "batches": np.int64(self.stats.batches),
            "reseeded": np.int64(self.stats.reseeded),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.set_centers(torch.from_numpy(np.asarray(state["centers"], dtype=np.float32)))
        self.counts = torch.from_numpy(np.asarray(state["counts"], dtype=np.float64)).to(self.device)
        if "usage" in state:
            self.usage = torch.from_numpy(np.asarray(state["usage"], dtype=np.float64)).to(self.device)
        if "generator" in state:
            try:
                self.generator.set_state(torch.from_numpy(np.asarray(state["generator"], dtype=np.uint8)))
            except RuntimeError:
                # a checkpoint from another device type (CUDA and CPU generator states differ): the
                # centres and counts still resume; only later re-seeding draws differ
                pass
        self.stats.batches = int(state.get("batches", 0))
        self.stats.reseeded = int(state.get("reseeded", 0))


def fit_array(
    x: np.ndarray,
    ncentroids: int,
    epochs: int = 2,
    batch_size: int = 1024,
    seed: int = 0,
    init_iters: int = 10,
    count_decay: float = 0.1,
    device: torch.device | str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster an in-memory ``(n, d)`` array with the stage's mini-batch SGD k-means.

    The same procedure as :func:`acav.clustering.train.train_partition` for one key (k-means++ and
    Lloyd on the data, then ``epochs`` shuffled passes of :meth:`MiniBatchKMeans.partial_fit`,
    re-seeding stopped before the last epoch), for callers that hold their features in memory
    (e.g. the correspondence-retrieval experiments). Returns ``(centres (k, d), labels (n,))``.
    """
    data = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device)
    n, dims = data.shape
    k = min(int(ncentroids), n)
    model = MiniBatchKMeans(k, dims, device=device, count_decay=count_decay, seed=seed)
    model.initialize(data, init_iters)
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        model.start_epoch(epoch)
        order = torch.from_numpy(rng.permutation(n)).to(data.device)
        allow = epoch < epochs - 1
        for start in range(0, n, batch_size):
            model.partial_fit(data[order[start : start + batch_size]], allow_reseed=allow)
    labels, _ = model.assign(data)
    return model.centers.cpu().numpy(), labels.cpu().numpy().astype(np.int64)
