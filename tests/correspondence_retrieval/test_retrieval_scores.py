"""Pair scores against scikit-learn, and the greedy that maximises them."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from acav.correspondence_retrieval.pair_scores import table_greedy, table_scores, variant_scores

SKLEARN = {
    "mi": metrics.mutual_info_score,
    "ami": metrics.adjusted_mutual_info_score,
    "nmi": metrics.normalized_mutual_info_score,
    "fm": metrics.fowlkes_mallows_score,
    "rand": metrics.rand_score,
    "ari": metrics.adjusted_rand_score,
}


def _table(a: np.ndarray, b: np.ndarray, c: int) -> np.ndarray:
    return np.bincount(a * c + b, minlength=c * c).reshape(c, c)


@pytest.mark.parametrize("score", sorted(SKLEARN))
def test_table_scores_equal_sklearn(score):
    rng = np.random.default_rng(0)
    for size in (40, 300):
        a = rng.integers(0, 6, size)
        b = np.where(rng.random(size) < 0.5, a, rng.integers(0, 6, size))
        got = table_scores(_table(a, b, 6)[None], score)[0]
        assert got == pytest.approx(SKLEARN[score](a, b), abs=1e-9)


@pytest.mark.parametrize("score", ["ami", "ari", "nmi"])
def test_variant_scores_equal_scoring_each_extended_table(score):
    rng = np.random.default_rng(1)
    a = rng.integers(0, 4, 60)
    b = np.where(rng.random(60) < 0.6, a, rng.integers(0, 4, 60))
    table = _table(a, b, 4)
    fast = variant_scores(table, score)
    for r in range(4):
        for c in range(4):
            extended = table.copy()
            extended[r, c] += 1
            assert fast[r, c] == pytest.approx(table_scores(extended[None], score)[0], abs=1e-9)


def test_table_greedy_prefers_agreeing_clips():
    rng = np.random.default_rng(2)
    n = 400
    positive = rng.random(n) < 0.5
    cls = rng.integers(0, 5, n)
    other = np.where(positive, cls, rng.integers(0, 5, n))
    labels = np.stack([cls, cls, other, other], 1)
    pairs = [(0, 2), (0, 3), (1, 2), (1, 3)]
    order = table_greedy(labels, 5, pairs, int(positive.sum()), "ari", batch_size=50, topk=10, seed=0)
    assert len(set(order.tolist())) == order.size == positive.sum()
    assert positive[order].mean() > 0.8  # chance is 0.5
