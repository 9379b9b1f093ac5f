"""Mutual information of clustering pairs, and the tables that make incremental scoring exact and cheap.

For one pair of clusterings with contingency counts ``n_ab`` over a subset of ``n`` clips,

    MI = (1/n) sum_ab n_ab log(n n_ab / (n_a n_b))
       = log n + (1/n) [ sum_ab f(n_ab) - sum_a f(n_a) - sum_b f(n_b) ],   f(x) = x log x.

Adding one clip with labels ``(a, b)`` changes exactly one cell, one row sum and one column sum, so
the change of the bracket is ``g(n_ab) - g(n_a) - g(n_b)`` with ``g(x) = f(x + 1) - f(x)``. Every
candidate sees the same ``n``, so candidates are ranked by that sum over the pairs alone.

The ranking uses ``g`` in fixed point (``GAIN_SCALE`` units, int64): sums of integers are exact and
independent of summation order, so the numpy and torch backends break ties identically. The
objective itself is always evaluated in float64 from the integer counts.
"""

from __future__ import annotations

import numpy as np

# 2**32 units per nat: g(x) <= log(1e9) + 1 < 22, so 3 * pairs * 22 * 2**32 stays far below 2**63,
# and the rounding (2**-33 nat per term) is far below any real difference between candidates.
GAIN_SCALE = float(2**32)


def xlogx(x: np.ndarray) -> np.ndarray:
    """Elementwise ``x log x`` in float64 with ``0 log 0 = 0``."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros_like(x)
    positive = x > 0
    out[positive] = x[positive] * np.log(x[positive])
    return out


def gain_table(max_count: int) -> np.ndarray:
    """``round(GAIN_SCALE * (f(x + 1) - f(x)))`` for ``x = 0 .. max_count`` as int64."""
    x = np.arange(max_count + 2, dtype=np.float64)
    f = xlogx(x)
    return np.rint((f[1:] - f[:-1]) * GAIN_SCALE).astype(np.int64)


def xlogx_fixed(max_count: int, npairs: int) -> tuple[np.ndarray, float]:
    """``(table, scale)``: ``round(scale * x log x)`` for ``x = 0 .. max_count`` as int64.

    Used for the step log's objective, summed exactly over many cells: ``scale`` is the largest power
    of two <= 2**32 for which the joint and the margin sums of ``npairs`` pairs over a subset of up
    to ``max_count`` clips (each at most ``2 * npairs * f(max_count)``) stay below 2**62.
    """
    table = xlogx(np.arange(max_count + 1, dtype=np.float64))
    bound = 2.0 * max(npairs, 1) * (float(table[-1]) + 1.0)
    shift = min(32, int(np.floor(np.log2(2.0**62 / bound))))
    scale = float(2.0**shift)
    return np.rint(table * scale).astype(np.int64), scale


def mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """MI (nats) between two label arrays over the same items; equals sklearn's mutual_info_score."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"label arrays must be 1-d and of equal length, got {a.shape} and {b.shape}")
    n = a.size
    if n == 0:
        return 0.0
    ca = int(a.max()) + 1
    cb = int(b.max()) + 1
    table = np.bincount(a * cb + b, minlength=ca * cb).reshape(ca, cb)
    return mi_from_table(table)


def mi_from_table(table: np.ndarray) -> float:
    """MI (nats) of one contingency table of counts."""
    table = np.asarray(table, dtype=np.float64)
    n = table.sum()
    if n <= 0:
        return 0.0
    bracket = xlogx(table).sum() - xlogx(table.sum(1)).sum() - xlogx(table.sum(0)).sum()
    return float(max(np.log(n) + bracket / n, 0.0))


def objective_from_counts(cnt: np.ndarray, n: int, npairs: int, ncells: int, nmargin: int) -> float:
    """Mean MI over pairs from the flat count vector used by the selectors.

    ``cnt`` holds ``npairs * ncells`` joint cells, then ``npairs * nmargin`` row sums, then as many
    column sums (see :class:`acav.subset_selection.greedy.PairIndex`).
    """
    if n <= 0 or npairs == 0:
        return 0.0
    joint = npairs * ncells
    cnt = np.asarray(cnt)
    top = int(cnt.max()) if cnt.size else 0
    # Counts are at most n: a table of x log x up to the largest count is cheaper than one log per
    # cell whenever there are fewer distinct values than cells (the same values either way).
    f = xlogx(np.arange(top + 1))[cnt] if top < cnt.size else xlogx(cnt)
    bracket = f[:joint].sum() - f[joint:].sum()
    return float(np.log(n) + bracket / (npairs * n))


def objective_of_subset(labels: np.ndarray, subset: np.ndarray, pairs: list[tuple[int, int]]) -> float:
    """Mean over ``pairs`` of the MI of the two clusterings restricted to ``subset`` (direct computation)."""
    subset = np.asarray(subset, dtype=np.int64)
    if subset.size == 0 or not pairs:
        return 0.0
    rows = np.asarray(labels)[subset].astype(np.int64)
    return float(np.mean([mutual_information(rows[:, i], rows[:, j]) for i, j in pairs]))
