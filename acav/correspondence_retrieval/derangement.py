"""Building the benchmark: train/test split per class, derangement of the test half, whitening.

A *source* holds two (or more) views of samples with class labels. ``aligned`` sources hold the
same samples in every view (index ``i`` is one item: an image and its rotated twin, a clip's
picture and its sound); class-level sources only share classes (MNIST digits and spoken digits).

Derangement (as in the ACAV100M release):

* ``class`` mode: classes of every view are sorted and put in one shared random order; at most
  ``max_per_class`` samples per class (the same count in every view). The first
  ``len(classes) - floor(negative_ratio * len(classes))`` classes are matched: their samples stay aligned
  across views (positives); the samples of the other classes are permuted independently per view
  (negatives). Positives are then scattered at random positions of the pool.
* ``sample`` mode (Kinetics-Sounds): a random ``size - floor(negative_ratio * size)`` of the aligned samples stay
  aligned, the others are permuted independently per view.

Each view's result is an index array into that view's samples: pool row ``r`` pairs view A's
sample ``index[A][r]`` with view B's sample ``index[B][r]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class Deranged:
    index: dict[str, np.ndarray]  # view -> (n,) sample indices
    positive: np.ndarray  # (n,) bool: the row's views correspond
    matched_classes: list[int]  # classes kept aligned (class mode)


@dataclass
class Split:
    train: dict[str, np.ndarray]  # view -> sample indices of the aligned train pairs
    test: dict[str, np.ndarray]  # view -> sample indices available to the test pool


def _class_members(labels: np.ndarray) -> dict[int, np.ndarray]:
    return {int(c): np.flatnonzero(labels == c) for c in np.unique(labels)}


def split_per_class(
    labels: dict[str, np.ndarray], aligned: bool, rng: np.random.Generator, train_ratio: float = 0.5
) -> Split:
    """Per class, the first ``round(train_ratio * size)`` samples (in a shuffled order) go to train.

    Classes are matched across views by sorted label. For aligned sources one shuffle is shared by
    the views (sample ``i`` stays with its twin); train pairs are aligned within each class.
    """
    views = list(labels)
    members = {v: _class_members(labels[v]) for v in views}
    classes = sorted(set.intersection(*(set(m) for m in members.values())))
    train = {v: [] for v in views}
    test = {v: [] for v in views}
    for c in classes:
        size = min(len(members[v][c]) for v in views)
        order = rng.permutation(size)
        cut = int(round(size * train_ratio))
        for v in views:
            items = members[v][c]
            if not aligned:
                items = items[rng.permutation(len(items))]
            items = items[order] if aligned else items[:size]
            train[v].append(items[:cut])
            test[v].append(items[cut:])
    return Split(
        {v: np.concatenate(train[v]).astype(np.int64) for v in views},
        {v: np.concatenate(test[v]).astype(np.int64) for v in views},
    )


def _scatter(
    blocks: dict[str, tuple[np.ndarray, np.ndarray]], rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``blocks[v] = (positives, negatives)`` index arrays -> pool indices with positives at random rows."""
    views = list(blocks)
    n_pos = len(blocks[views[0]][0])
    n_neg = len(blocks[views[0]][1])
    total = n_pos + n_neg
    true_order = rng.permutation(n_pos)  # shared by every view: positives stay aligned
    wrong_orders = {v: rng.permutation(n_neg) for v in views}  # independent per view
    true_rows = np.sort(rng.choice(total, n_pos, replace=False))
    positive = np.zeros(total, dtype=bool)
    positive[true_rows] = True
    out = {}
    for v in views:
        pos, neg = blocks[v]
        index = np.empty(total, dtype=np.int64)
        index[positive] = pos[true_order]
        index[~positive] = neg[wrong_orders[v]]
        out[v] = index
    return out, positive


def derange_classes(
    labels: dict[str, np.ndarray],
    candidates: dict[str, np.ndarray],
    aligned: bool,
    rng: np.random.Generator,
    negative_ratio: float = 0.5,
    max_per_class: int | None = 1000,
) -> Deranged:
    """Class-mode derangement of the samples ``candidates[v]`` (indices into view ``v``)."""
    views = list(labels)
    members = {}
    for v in views:
        cand = np.asarray(candidates[v], dtype=np.int64)
        members[v] = {c: cand[labels[v][cand] == c] for c in np.unique(labels[v][cand]).tolist()}
    classes = sorted(set.intersection(*(set(m) for m in members.values())))
    nclasses = len(classes)
    order = [classes[i] for i in rng.permutation(nclasses)]
    n_matched = nclasses - math.floor(negative_ratio * nclasses)
    pos = {v: [] for v in views}
    neg = {v: [] for v in views}
    for rank, c in enumerate(order):
        size = min(len(members[v][c]) for v in views)
        if max_per_class is not None:
            size = min(size, max_per_class)
        shared = rng.permutation(len(members[views[0]][c]))  # aligned views hold the same samples
        for v in views:
            items = members[v][c]
            picked = items[shared[:size]] if aligned else items[rng.permutation(len(items))[:size]]
            (pos if rank < n_matched else neg)[v].append(picked)
    blocks = {
        v: (
            np.concatenate(pos[v] or [np.empty(0, np.int64)]),
            np.concatenate(neg[v] or [np.empty(0, np.int64)]),
        )
        for v in views
    }
    index, positive = _scatter(blocks, rng)
    return Deranged(index, positive, [int(c) for c in order[:n_matched]])


def derange_samples(
    candidates: np.ndarray,
    views: list[str],
    rng: np.random.Generator,
    negative_ratio: float = 0.5,
    max_size: int | None = None,
) -> Deranged:
    """Sample-mode derangement of aligned samples ``candidates``: a random half stays aligned."""
    cand = np.asarray(candidates, dtype=np.int64)[rng.permutation(len(candidates))]
    if max_size is not None:
        cand = cand[:max_size]
    n_pos = math.floor(len(cand) * (1.0 - negative_ratio))
    blocks = {v: (cand[:n_pos], cand[n_pos:]) for v in views}
    index, positive = _scatter(blocks, rng)
    return Deranged(index, positive, [])


def whiten(x: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Divide every dimension by its standard deviation (as the original; constant dims stay as they are)."""
    x = np.asarray(x, dtype=np.float32)
    std = x.std(axis=0)
    return x / np.where(std > eps, std, 1.0).astype(np.float32)
