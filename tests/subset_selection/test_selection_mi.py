"""MI values, x log x tables and the exactness of incremental gains."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from acav.subset_selection.greedy import PairIndex
from acav.subset_selection.mi import (
    GAIN_SCALE,
    gain_table,
    mi_from_table,
    mutual_information,
    objective_from_counts,
    objective_of_subset,
    xlogx,
)


@pytest.mark.parametrize("n,ca,cb,seed", [(1, 3, 3, 0), (7, 2, 5, 1), (200, 8, 8, 2), (5000, 32, 32, 3)])
def test_mi_matches_sklearn(n, ca, cb, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, ca, n)
    b = np.where(rng.random(n) < 0.5, a % cb, rng.integers(0, cb, n))
    assert mutual_information(a, b) == pytest.approx(mutual_info_score(a, b), abs=1e-12)


def test_mi_of_identical_labels_is_entropy_and_independent_is_zero():
    a = np.repeat(np.arange(4), 24)
    assert mutual_information(a, a) == pytest.approx(math.log(4))
    assert mutual_information(a, np.tile(np.arange(4), 24)) == pytest.approx(0.0, abs=1e-12)
    assert mi_from_table(np.zeros((3, 3))) == 0.0


def test_xlogx_and_gain_table():
    assert xlogx(np.array([0, 1, 2, 10])).tolist() == pytest.approx(
        [0, 0, 2 * math.log(2), 10 * math.log(10)]
    )
    table = gain_table(1000)
    x = np.array([0, 1, 2, 57, 1000])
    expected = xlogx(x + 1) - xlogx(x)
    assert np.abs(table[x] / GAIN_SCALE - expected).max() < 1e-9
    assert table.dtype == np.int64


def _direct_counts(labels, subset, index: PairIndex) -> np.ndarray:
    counts = np.zeros(index.size, dtype=np.int64)
    np.add.at(counts, index.indices(labels[subset]).ravel(), 1)
    return counts


def test_incremental_gain_equals_recomputed_objective():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 6, (300, 4)).astype(np.uint8)
    labels[:, 1] = np.where(rng.random(300) < 0.7, labels[:, 0], labels[:, 1])
    pairs = [(0, 1), (0, 2), (1, 3), (2, 3)]
    index = PairIndex(pairs, 6, 4)
    subset = rng.choice(300, 60, replace=False)
    counts = _direct_counts(labels, subset, index)
    n = subset.size
    before = objective_of_subset(labels, subset, pairs)
    assert index.objective(counts, n) == pytest.approx(before, abs=1e-12)
    assert objective_from_counts(counts, n, 4, 36, 6) == pytest.approx(before, abs=1e-12)
    gains = gain_table(n + 1)
    others = np.setdiff1d(np.arange(300), subset)[:50]
    scores = gains[counts[index.indices(labels[others])]] @ index.sign
    bracket = (before - math.log(n)) * len(pairs) * n
    for clip, score in zip(others, scores, strict=True):
        after_direct = objective_of_subset(labels, np.append(subset, clip), pairs)
        after_incremental = math.log(n + 1) + (bracket + score / GAIN_SCALE) / (len(pairs) * (n + 1))
        assert after_incremental == pytest.approx(after_direct, abs=1e-9)
    # The ranking by integer score is the ranking by the true objective after adding.
    direct = [objective_of_subset(labels, np.append(subset, c), pairs) for c in others]
    assert others[int(np.argmax(scores))] == others[int(np.argmax(direct))]
