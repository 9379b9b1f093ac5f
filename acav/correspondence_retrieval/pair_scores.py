"""Clustering-agreement scores of contingency tables, and a batch greedy that maximises any of them.

The paper compares its MI objective with other agreement scores used as the pair score: adjusted
and normalised MI, Fowlkes-Mallows, Rand and adjusted Rand. MI decomposes into per-cell gains (which
is what makes stage 6's selector fast); these do not, so :func:`table_greedy` scores a candidate by
the score of the whole table after adding it. A candidate with labels ``(a, b)`` in a pair yields
the table ``current + e_ab``, so each step evaluates the ``C x C`` possible tables per pair once
and candidates look their score up. The batch procedure (``B`` uniform candidates, add the best
``k``) and the candidate draws are stage 6's (:class:`~acav.subset_selection.greedy.PoolSampler`).

Values equal scikit-learn's ``*_score`` functions on the same labels (tested).
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from acav.subset_selection.greedy import PoolSampler, partition_rngs
from acav.subset_selection.mi import xlogx

SCORES = ("mi", "ami", "nmi", "fm", "rand", "ari")


def _entropies(tables: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = tables.sum((1, 2))
    a, b = tables.sum(2), tables.sum(1)
    safe = np.maximum(n, 1)
    h_a = np.log(safe) - xlogx(a).sum(1) / safe
    h_b = np.log(safe) - xlogx(b).sum(1) / safe
    mi = np.log(safe) + (xlogx(tables).sum((1, 2)) - xlogx(a).sum(1) - xlogx(b).sum(1)) / safe
    return n, np.maximum(mi, 0.0), h_a, h_b


def _pairs(x: np.ndarray) -> np.ndarray:
    return x * (x - 1) / 2.0


def expected_mi_cells(a: np.ndarray, b: np.ndarray, n: float) -> np.ndarray:
    """``E[n_ij/n log(n n_ij / (a_i b_j))]`` under the hypergeometric model, per cell ``(i, j)``.

    ``a``: ``(I,)`` row sums, ``b``: ``(J,)`` column sums, ``n`` their total; returns ``(I, J)``.
    Summing the result gives the expected mutual information of AMI (Vinh et al., 2010).
    """
    a = np.asarray(a, dtype=np.float64)[:, None, None]
    b = np.asarray(b, dtype=np.float64)[None, :, None]
    top = int(max(1, np.minimum(a.max(), b.max())))
    k = np.arange(1, top + 1, dtype=np.float64)[None, None, :]
    valid = (k >= np.maximum(1, a + b - n)) & (k <= np.minimum(a, b))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_p = (
            gammaln(a + 1) + gammaln(b + 1) + gammaln(n - a + 1) + gammaln(n - b + 1) - gammaln(n + 1)
            - gammaln(k + 1) - gammaln(np.maximum(a - k, 0) + 1) - gammaln(np.maximum(b - k, 0) + 1)
            - gammaln(np.maximum(n - a - b + k, 0) + 1)
        )  # fmt: skip
        term = k / n * np.log(n * k / (a * b)) * np.exp(log_p)
    return np.where(valid, term, 0.0).sum(2)


def table_scores(tables: np.ndarray, score: str) -> np.ndarray:
    """The ``score`` of each ``(T, C, C)`` contingency table (counts), as ``(T,)`` float64.

    AMI here uses one margin pair per table (see :func:`expected_mi_cells`); :func:`variant_scores`
    has the fast path for the ``C x C`` one-clip extensions of a table.
    """
    tables = np.asarray(tables, dtype=np.float64)
    if score not in SCORES:
        raise ValueError(f"unknown pair score {score!r}; choose one of {', '.join(SCORES)}")
    n, mi, h_a, h_b = _entropies(tables)
    if score == "mi":
        return mi
    if score == "nmi":
        mean_h = (h_a + h_b) / 2
        return np.where(mean_h > 0, mi / np.where(mean_h > 0, mean_h, 1), 1.0)
    if score == "ami":
        emi = np.array([expected_mi_cells(t.sum(1), t.sum(0), t.sum()).sum() for t in tables])
        return _ami(mi, emi, h_a, h_b)
    a, b = tables.sum(2), tables.sum(1)
    sum_ij = _pairs(tables).sum((1, 2))
    sum_a, sum_b = _pairs(a).sum(1), _pairs(b).sum(1)
    total = _pairs(n)
    if score == "fm":
        denom = np.sqrt(sum_a * sum_b)
        return np.where(denom > 0, sum_ij / np.where(denom > 0, denom, 1), 0.0)
    if score == "rand":
        return np.where(total > 0, (total + 2 * sum_ij - sum_a - sum_b) / np.where(total > 0, total, 1), 1.0)
    expected = sum_a * sum_b / np.where(total > 0, total, 1)
    maximum = (sum_a + sum_b) / 2
    denom = maximum - expected
    return np.where(denom != 0, (sum_ij - expected) / np.where(denom != 0, denom, 1), 1.0)


def _ami(mi: np.ndarray, emi: np.ndarray, h_a: np.ndarray, h_b: np.ndarray) -> np.ndarray:
    denom = (h_a + h_b) / 2 - emi
    small = np.abs(denom) < 1e-12
    return np.where(small, 1.0, (mi - emi) / np.where(small, 1, denom))


def variant_scores(table: np.ndarray, score: str) -> np.ndarray:
    """``(C, C)``: the score of ``table + e_rc`` for every cell ``(r, c)`` (one clip added there)."""
    table = np.asarray(table, dtype=np.float64)
    c_rows, c_cols = table.shape
    eye = np.zeros((c_rows * c_cols, c_rows, c_cols))
    eye.reshape(c_rows * c_cols, -1)[np.arange(c_rows * c_cols), np.arange(c_rows * c_cols)] = 1
    tables = table[None] + eye
    if score != "ami":
        return table_scores(tables, score).reshape(c_rows, c_cols)
    # AMI: the expected MI of the extension with (r, c) changes row r, column c and n; every cell
    # term f(a_i, b_j, n + 1) is one of four precomputed variants (row/column +0 or +1).
    _, mi, h_a, h_b = _entropies(tables)
    a, b, n = table.sum(1), table.sum(0), table.sum() + 1
    f00 = expected_mi_cells(a, b, n)
    f10 = expected_mi_cells(a + 1, b, n)
    f01 = expected_mi_cells(a, b + 1, n)
    f11 = expected_mi_cells(a + 1, b + 1, n)
    emi = (
        f00.sum() - f00.sum(1)[:, None] - f00.sum(0)[None, :] + f00
        + f10.sum(1)[:, None] - f10 + f01.sum(0)[None, :] - f01 + f11
    )  # fmt: skip
    return _ami(mi, emi.ravel(), h_a, h_b).reshape(c_rows, c_cols)


def table_greedy(
    labels: np.ndarray,
    ncentroids: int,
    pairs: list[tuple[int, int]],
    subset_size: int,
    score: str,
    batch_size: int = 100,
    topk: int = 25,
    seed: int = 0,
) -> np.ndarray:
    """Batch greedy maximising the mean ``score`` over ``pairs``; returns clips in selection order."""
    labels = np.asarray(labels, dtype=np.int64)
    n_total = labels.shape[0]
    subset_size = min(int(subset_size), n_total)
    rng_draw, rng_misc = partition_rngs(seed, 0)
    sampler = PoolSampler(n_total, batch_size, rng_draw, rng_misc)
    first = np.array([int(rng_misc.integers(n_total))])
    tables = np.zeros((len(pairs), ncentroids, ncentroids), dtype=np.int64)
    left = np.array([i for i, _ in pairs])
    right = np.array([j for _, j in pairs])
    order = [first]
    sampler.mark(first)
    np.add.at(tables, (np.arange(len(pairs)), labels[first[0], left], labels[first[0], right]), 1)
    chosen = 1
    while chosen < subset_size:
        cand = sampler.draw(batch_size)
        lookup = np.stack([variant_scores(t, score) for t in tables])  # (P, C, C)
        scores = lookup[np.arange(len(pairs))[None, :], labels[cand][:, left], labels[cand][:, right]].mean(1)
        take = cand[np.argsort(-scores, kind="stable")[: min(topk, subset_size - chosen)]]
        sampler.mark(take)
        for clip in take:
            tables[np.arange(len(pairs)), labels[clip, left], labels[clip, right]] += 1
        order.append(take)
        chosen += take.size
    return np.concatenate(order)[:subset_size]
