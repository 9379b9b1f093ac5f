"""Retrieval methods: each ranks the pool's pairs and returns the first ``N`` (N = positives).

* ``ours``: stage 6's batch greedy MI selector (``B = 100``, ``k = 25``) on the clusterings.
* ``greedy``: stage 6's exact greedy (k = 1 over the whole pool).
* ``random``: a constant score, i.e. a random order.
* ``ami`` / ``nmi`` / ``fm`` / ``rand`` / ``ari``: the same batch greedy with another pair score
  (:mod:`.pair_scores`).
* ``pca_ip`` / ``pca_cs`` / ``pca_l1`` / ``pca_l2``: every layer PCA-reduced to the smallest layer
  width; per pair, inner product / cosine / -L1 / -L2 between the two layers of a sample, averaged
  over the pairing; the top ``N`` samples.
* ``contrastive``: two linear maps to a shared width trained on the aligned train half with a
  symmetric InfoNCE loss (temperature 0.1, AdamW 2e-4, warm-up then linear decay, 20 epochs);
  score = cosine of the projected views.
* ``cca`` (beyond the original): per view, all layers PCA-reduced, CCA fitted on the pool without
  labels; score = cosine in the canonical space.
* ``pmi`` (beyond the original): no greedy at all; each clip is scored by the pointwise mutual
  information of its cluster cells, ``log(n n_ab / (n_a n_b))`` over the whole pool, averaged
  over the pairing (the same clusterings as ``ours``).

Selection-based methods return their selection order, so the precision curve is the precision of
every prefix of the selection; score-based methods return samples by decreasing score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from acav.correspondence_retrieval.pair_scores import SCORES, table_greedy
from acav.correspondence_retrieval.pool import Pool

CLUSTER_METHODS = ("ours", "greedy", "ami", "nmi", "fm", "rand", "ari", "pmi")
PCA_METHODS = {"pca_ip": "ip", "pca_cs": "cs", "pca_l1": "l1", "pca_l2": "l2"}
METHODS = (
    "ours",
    "greedy",
    "random",
    "ami",
    "nmi",
    "fm",
    "rand",
    "ari",
    *PCA_METHODS,
    "contrastive",
    "cca",
    "pmi",
)


@dataclass
class MethodSettings:
    pairing: str = "combination"
    batch_size: int = 100
    topk: int = 25
    starts: int = 1  # selector runs with different seeds; the highest final objective is kept
    contrastive_epochs: int = 20
    contrastive_batch: int = 256
    cca_dims: int = 32  # PCA width per view before CCA
    cca_components: int = 10


def run_method(name: str, pool: Pool, seed: int, settings: MethodSettings) -> np.ndarray:
    """The first ``pool.npositive`` pairs chosen by method ``name`` (row indices, in rank order)."""
    size = pool.npositive
    if name == "random":
        return np.random.default_rng([seed, 7]).permutation(pool.size)[:size]
    if name in ("ours", "greedy"):
        return select_mi(pool, seed, settings, algorithm="batch_greedy" if name == "ours" else "greedy")
    if name in SCORES:
        if pool.assignments is None:
            raise RuntimeError("cluster the pool before running a cluster-based method")
        return table_greedy(pool.assignments, pool.ncentroids, pool.pairs(settings.pairing), size, name,
                            settings.batch_size, settings.topk, seed)  # fmt: skip
    if name in PCA_METHODS:
        return top(pca_scores(pool, PCA_METHODS[name], settings.pairing), size)
    if name == "contrastive":
        return top(contrastive_scores(pool, seed, settings), size)
    if name == "cca":
        return top(cca_scores(pool, settings.cca_dims, settings.cca_components), size)
    if name == "pmi":
        return top(pmi_scores(pool, settings.pairing), size)
    raise ValueError(f"unknown method {name!r}; choose from {', '.join(METHODS)}")


def top(scores: np.ndarray, size: int) -> np.ndarray:
    """Indices of the ``size`` highest scores, best first (ties: lower index first)."""
    return np.argsort(-np.asarray(scores), kind="stable")[:size]


def select_mi(pool: Pool, seed: int, settings: MethodSettings, algorithm: str = "batch_greedy") -> np.ndarray:
    """Stage 6's selector on the pool's clusterings; with ``starts > 1`` the best-objective run wins."""
    from acav.subset_selection.greedy import SelectionParams, select_partition

    if pool.assignments is None:
        raise RuntimeError("cluster the pool before running a cluster-based method")
    pairs = pool.pairs(settings.pairing)
    # seeds seed * 1000 + 0 .. starts - 1: stage 6's restarts (SelectionParams.starts)
    params = SelectionParams(batch_size=settings.batch_size, topk=settings.topk, algorithm=algorithm,
                             seed=seed * 1000, log_points=1, starts=max(1, settings.starts))  # fmt: skip
    result = select_partition(pool.assignments, pool.ncentroids, pairs, pool.npositive, params)
    return np.asarray(result.order)


def pca_project(x: np.ndarray, dims: int) -> np.ndarray:
    """``x`` centred and projected on its first ``dims`` principal components."""
    centred = x - x.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:dims].T


def pca_scores(pool: Pool, distance: str, pairing: str) -> np.ndarray:
    layers = pool.all_layers()
    dims = min(min(layer.shape[1] for layer in layers), pool.size)
    reduced = [pca_project(layer, dims) for layer in layers]
    total = np.zeros(pool.size)
    pairs = pool.pairs(pairing)
    for i, j in pairs:
        a, b = reduced[i], reduced[j]
        if distance == "ip":
            total += (a * b).sum(1)
        elif distance == "cs":
            total += (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)
        elif distance == "l1":
            total -= np.abs(a - b).sum(1)
        else:
            total -= ((a - b) ** 2).sum(1)
    return total / len(pairs)


def pmi_scores(pool: Pool, pairing: str) -> np.ndarray:
    """Mean over the pairing's clustering pairs of the pointwise MI of each clip's cell (whole pool)."""
    if pool.assignments is None:
        raise RuntimeError("cluster the pool before running a cluster-based method")
    labels, k, n = pool.assignments, pool.ncentroids, pool.size
    total = np.zeros(n)
    pairs = pool.pairs(pairing)
    for i, j in pairs:
        table = np.bincount(labels[:, i] * k + labels[:, j], minlength=k * k).reshape(k, k).astype(np.float64)
        pmi = np.log(n * table / np.maximum(np.outer(table.sum(1), table.sum(0)), 1.0) + 1e-12)
        total += pmi[labels[:, i], labels[:, j]]
    return total / len(pairs)


def _concat(layers: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(layers, axis=1).astype(np.float32)


def contrastive_scores(pool: Pool, seed: int, settings: MethodSettings) -> np.ndarray:
    """Train two linear maps on the train pairs (symmetric InfoNCE), score the pool by cosine."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    a_view, b_view = pool.views
    train_a = torch.from_numpy(_concat(pool.train[a_view]))
    train_b = torch.from_numpy(_concat(pool.train[b_view]))
    width = min(train_a.shape[1], train_b.shape[1])
    map_a = torch.nn.Linear(train_a.shape[1], width)
    map_b = torch.nn.Linear(train_b.shape[1], width)
    params = list(map_a.parameters()) + list(map_b.parameters())
    optimiser = torch.optim.AdamW(params, lr=2e-4)
    n = train_a.shape[0]
    batch = min(settings.contrastive_batch, n)
    steps_per_epoch = max(1, n // batch)
    total = steps_per_epoch * settings.contrastive_epochs
    warmup = max(1, total // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser,
        lambda s: (s + 1) / warmup if s < warmup else max(0.0, (total - s) / max(1, total - warmup)),
    )
    generator = torch.Generator().manual_seed(seed)
    for _ in range(settings.contrastive_epochs):
        order = torch.randperm(n, generator=generator)
        for step in range(steps_per_epoch):
            idx = order[step * batch : (step + 1) * batch]
            za = F.normalize(map_a(train_a[idx]), dim=1)
            zb = F.normalize(map_b(train_b[idx]), dim=1)
            logits = za @ zb.t() / 0.1
            target = torch.arange(idx.numel())
            loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    with torch.no_grad():
        za = F.normalize(map_a(torch.from_numpy(_concat(pool.layers[a_view]))), dim=1)
        zb = F.normalize(map_b(torch.from_numpy(_concat(pool.layers[b_view]))), dim=1)
        return (za * zb).sum(1).numpy()


def _inverse_sqrt(cov: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(cov)
    return vectors @ np.diag(1.0 / np.sqrt(np.maximum(values, 1e-12))) @ vectors.T


def cca_scores(pool: Pool, dims: int = 32, components: int = 10, ridge: float = 1e-3) -> np.ndarray:
    """Cosine of the two views in their top canonical components (CCA fitted on the unlabelled pool)."""
    a_view, b_view = pool.views
    width = max(2, min(dims, pool.size // 4))
    xa = pca_project(_concat(pool.layers[a_view]).astype(np.float64), width)
    xb = pca_project(_concat(pool.layers[b_view]).astype(np.float64), width)
    n = xa.shape[0]
    caa = xa.T @ xa / n
    cbb = xb.T @ xb / n
    caa += ridge * np.trace(caa) / caa.shape[0] * np.eye(caa.shape[0])
    cbb += ridge * np.trace(cbb) / cbb.shape[0] * np.eye(cbb.shape[0])
    wa, wb = _inverse_sqrt(caa), _inverse_sqrt(cbb)
    u, _, vt = np.linalg.svd(wa @ (xa.T @ xb / n) @ wb)
    r = max(1, min(components, u.shape[1], vt.shape[0]))
    ua = xa @ wa @ u[:, :r]
    ub = xb @ wb @ vt[:r].T
    return (ua * ub).sum(1) / (np.linalg.norm(ua, axis=1) * np.linalg.norm(ub, axis=1) + 1e-12)


def needs_clusters(method: str) -> bool:
    return method in CLUSTER_METHODS


def expected_random_precision(pool: Pool) -> float:
    return pool.npositive / pool.size if pool.size else math.nan
