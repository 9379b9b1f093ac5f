"""Batch greedy and exact greedy MI selection for one partition: the fast CPU (numpy) path.

Procedure (the paper's batch greedy, as in the original ACAV100M code with ``keep_unselected``):

1. Start the subset with one clip drawn at random (seeded).
2. Draw a batch of ``B`` distinct candidates uniformly from the clips not yet selected.
3. Score every candidate by the objective after adding it alone to the current subset.
4. Add the ``k`` best candidates together (all scored against the same current subset, exactly as
   the original adds its top-k of a batch in one update); the others go back to the pool.
5. Repeat until the subset has the target size.

The original re-shuffles the whole pool every iteration and takes the first ``B`` clips; drawing
``B`` distinct unselected clips uniformly is the same distribution at O(B) instead of O(N) cost
(see :class:`PoolSampler`). Scores are exact O(pairs) look-ups (see :mod:`.mi`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np

from acav.core.logs import get_logger
from acav.subset_selection import kernels
from acav.subset_selection.mi import (
    GAIN_SCALE,
    gain_table,
    objective_from_counts,
    objective_of_subset,
    xlogx_fixed,
)

log = get_logger(__name__)

ALGORITHMS = ("batch_greedy", "greedy")
ENGINES = ("auto", "numba", "numpy")
# Uniform draws per batch: with at least half of the pool unselected (see PoolSampler) 2B + 8 draws
# give B valid distinct clips except with negligible probability; a shortfall is handled exactly.
DRAW_SLACK = 8
# Step-log scores the compiled loop buffers before handing them to Python (bounded memory).
LOG_BUFFER_CELLS = 1_000_000


@dataclass
class SelectionParams:
    batch_size: int = 20
    topk: int = 4
    algorithm: str = "batch_greedy"
    seed: int = 0
    log_points: int = 200  # at most this many per-step records in the selection log per partition
    # CPU loop of batch greedy: "auto" (numba when installed), "numba" or "numpy"; same selection.
    engine: str = "auto"
    # Independent runs with seeds seed, seed + 1, ...; the one with the highest objective is kept.
    # The first picks of a greedy run are random and can lock in a wrong audio-visual pairing on
    # small pools (correspondence_retrieval/README.md: restarts).
    starts: int = 1

    def validate(self) -> None:
        if self.starts < 1:
            raise ValueError(f"starts must be >= 1, got {self.starts}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {self.batch_size}")
        if self.topk < 1:
            raise ValueError(f"topk must be >= 1, got {self.topk}")
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {self.algorithm!r}; choose one of {', '.join(ALGORITHMS)}")
        if self.engine not in ENGINES:
            raise ValueError(f"unknown engine {self.engine!r}; choose one of {', '.join(ENGINES)}")

    def use_numba(self) -> bool:
        """Whether batch greedy runs the compiled kernel (numba installed and not turned off)."""
        if self.engine == "numpy":
            return False
        if kernels.available():
            return True
        if self.engine == "numba":
            raise RuntimeError(
                "engine 'numba' requested but numba is unavailable (not installed or ACAV_NUMBA=0)"
            )
        return False


@dataclass
class SelectionResult:
    selected: np.ndarray  # sorted clip indices into the partition
    objective: float  # mean MI over pairs of the selected subset
    random_objective: float  # same, for a uniformly random subset of the same size (seeded)
    steps: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    order: np.ndarray | None = None  # the selected clips in the order they were added (CPU paths)


class PairIndex:
    """Maps a clip's labels (one per clustering) to its ``3P`` positions in the flat count vector.

    Layout of the counts: ``P`` joint tables of ``C*C`` cells, then ``P`` row-sum vectors of ``C``,
    then ``P`` column-sum vectors of ``C``. Joint positions come first and count positively in the
    score, margins negatively (``sign``).
    """

    def __init__(self, pairs: list[tuple[int, int]], ncentroids: int, nclusterings: int) -> None:
        self.pairs = list(pairs)
        self.npairs = P = len(pairs)
        self.ncentroids = C = int(ncentroids)
        self.ncells = C * C
        self.size = P * C * C + 2 * P * C
        weights = np.zeros((nclusterings, 3 * P), dtype=np.float64)
        offsets = np.zeros(3 * P, dtype=np.int64)
        for p, (i, j) in enumerate(pairs):
            weights[i, p] += C  # joint cell a * C + b
            weights[j, p] += 1
            weights[i, P + p] += 1  # row sum a
            weights[j, 2 * P + p] += 1  # column sum b
            offsets[p] = p * C * C
            offsets[P + p] = P * C * C + p * C
            offsets[2 * P + p] = P * C * C + P * C + p * C
        # A float64 matmul (BLAS) of small integers is exact and the fastest way to form all 3P indices.
        self.weights = weights
        self.offsets = offsets
        self.sign = np.concatenate([np.ones(P, np.int64), -np.ones(2 * P, np.int64)])

    def indices(self, rows: np.ndarray) -> np.ndarray:
        """``(n, D)`` labels -> ``(n, 3P)`` int64 positions."""
        return (rows @ self.weights).astype(np.int64) + self.offsets

    def objective(self, counts: np.ndarray, n: int) -> float:
        return objective_from_counts(counts, n, self.npairs, self.ncells, self.ncentroids)

    def pair_columns(self) -> tuple[np.ndarray, np.ndarray]:
        """The two clusterings (label columns) of every pair, as int64 arrays."""
        pairs = np.asarray(self.pairs, dtype=np.int64).reshape(-1, 2)
        return np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1])

    def subset_counts(self, labels: np.ndarray, subset: np.ndarray, use_numba: bool) -> np.ndarray:
        """Flat counts of the clips ``subset`` (integers: the same whichever way they are counted)."""
        P, C = self.npairs, self.ncentroids
        counts = np.zeros(self.size, dtype=np.int64)
        subset = np.asarray(subset, dtype=np.int64)
        joint = counts[: P * C * C]
        if use_numba:
            first, second = self.pair_columns()
            labels = np.ascontiguousarray(labels)
            margins = np.zeros(labels.shape[1] * C, dtype=np.int64)
            bad = kernels.kernels()["joint_counts"](labels, subset, first, second, C, joint, margins)
            if bad >= 0:
                clip = int(subset[bad])
                detail = labels[clip].tolist() if 0 <= clip < len(labels) else f"not in [0, {len(labels)})"
                raise ValueError(f"clip {clip}: labels {detail} must lie in [0, {C})")
            self.margins_from_clusterings(counts, margins)
            return counts
        else:
            first, second = self.pair_columns()
            offsets = np.arange(P, dtype=np.int64) * (C * C)
            step = max(1, 4_000_000 // max(1, P))  # bounded memory for the cell indices
            for lo in range(0, subset.size, step):
                rows = labels[subset[lo : lo + step]].astype(np.int64)
                cells = rows[:, first] * C + rows[:, second] + offsets
                joint += np.bincount(cells.ravel(), minlength=joint.size)
        self.fill_margins(counts)
        return counts

    def margins_from_clusterings(self, counts: np.ndarray, margins: np.ndarray) -> None:
        """Set the row and column sums of the flat ``counts`` from the cluster sizes ``margins``
        (``D x C``, flat) of each clustering: pair ``(i, j)`` has the sizes of ``i`` as row sums."""
        P, C = self.npairs, self.ncentroids
        first, second = self.pair_columns()
        sizes = margins.reshape(-1, C)
        counts[P * C * C : P * C * C + P * C] = sizes[first].ravel()
        counts[P * C * C + P * C :] = sizes[second].ravel()

    def fill_margins(self, counts: np.ndarray) -> None:
        """Set the row and column sums of the flat ``counts`` from its joint cells."""
        P, C = self.npairs, self.ncentroids
        joint = counts[: P * C * C].reshape(P, C, C)
        counts[P * C * C : P * C * C + P * C] = joint.sum(2).ravel()
        counts[P * C * C + P * C :] = joint.sum(1).ravel()

    def subset_objective(self, labels: np.ndarray, subset: np.ndarray, use_numba: bool) -> float:
        """Mean MI over the pairs of the clips ``subset`` (the same float whichever way counted)."""
        return self.objective(self.subset_counts(labels, subset, use_numba), int(np.asarray(subset).size))


class PoolSampler:
    """Draws ``b`` distinct, not yet selected clips uniformly at random.

    Keeps a ``pool`` of candidate ids (initially all clips) and rejects draws that were selected
    since the pool was last compacted; the pool is compacted when more than half of it is stale, so
    acceptance stays >= 1/2 and a draw costs O(B), not the O(N) shuffle of the original.
    Draws come from their own generator in fixed-size blocks of ``2B + 8`` uniforms, so that the
    torch backend, fed the same stream, makes exactly the same choices.
    """

    def __init__(self, n: int, batch_size: int, rng_draw: np.random.Generator, rng_misc: np.random.Generator):
        self.n = n
        self.width = 2 * batch_size + DRAW_SLACK
        self.selected = np.zeros(n, dtype=bool)
        self.pool = np.arange(n, dtype=np.int64)
        self.pool_len = n
        self.remaining = n
        self.rng_draw = rng_draw
        self.rng_misc = rng_misc
        self._buffer = np.empty(0)
        self._pos = 0

    def _uniforms(self) -> np.ndarray:
        if self._pos + self.width > self._buffer.size:
            self._buffer = self.rng_draw.random(self.width * 4096)
            self._pos = 0
        out = self._buffer[self._pos : self._pos + self.width]
        self._pos += self.width
        return out

    def compact(self) -> None:
        self.pool = np.flatnonzero(~self.selected)
        self.pool_len = self.pool.size

    def mark(self, clips: np.ndarray) -> None:
        self.selected[clips] = True
        self.remaining -= int(np.asarray(clips).size)

    def draw(self, b: int) -> np.ndarray:
        if self.remaining <= b:
            return np.flatnonzero(~self.selected)
        if 2 * (self.pool_len - self.remaining) > self.pool_len:
            self.compact()
        u = self._uniforms()
        clips = self.pool[(u * self.pool_len).astype(np.int64)]
        head = clips[~self.selected[clips]][:b]
        if head.size == b:
            # Fast path: the first b unselected draws are distinct (repeats are rare when the pool is
            # much bigger than B); then they are exactly what the general rule below returns.
            ordered = np.sort(head)
            if (ordered[1:] != ordered[:-1]).all():
                return head
        while True:
            ok = ~self.selected[clips]
            ok &= ~np.triu(clips[:, None] == clips[None, :], 1).any(0)  # drop repeats of earlier draws
            found = clips[ok]
            if found.size >= b:
                return found[:b]
            if self.pool_len > self.remaining:
                self.compact()
                clips = self.pool[(self._uniforms() * self.pool_len).astype(np.int64)]
                continue
            return self.pool[self.rng_misc.choice(self.pool_len, b, replace=False)]


def partition_rngs(seed: int, partition: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent (draw, misc) generators per partition: results do not depend on batching."""
    draw, misc = np.random.SeedSequence([seed, partition]).spawn(2)
    return np.random.default_rng(draw), np.random.default_rng(misc)


def target_size(n: int, ratio: float, size: int | None) -> int:
    """``round(ratio * n)`` as the original, or ``size``; clipped to ``[0, n]``."""
    wanted = int(size) if size is not None else int(round(ratio * n))
    return max(0, min(n, wanted))


class StepLog:
    """Per-step records (size, objective, gains of the clips added), thinned to ``points`` entries.

    The objective of a logged step comes from the bracket ``sum f(n_ab) - sum f(n_a) - sum f(n_b)``
    of :mod:`.mi` summed in fixed point (:func:`~acav.subset_selection.mi.xlogx_fixed`): an integer
    sum is exact in any order, so the compiled loop (which keeps it up to date incrementally), the
    numpy loop and the torch backend (which sum it over the counts) log identical values. Steps are
    kept as integers and turned into records once, in :attr:`records`.
    """

    def __init__(self, total_steps: int, points: int, index: PairIndex, max_count: int) -> None:
        self.every = max(1, math.ceil(total_steps / max(1, points)))
        self.index = index
        self.table, self.scale = xlogx_fixed(max_count, index.npairs)
        self.joint = index.npairs * index.ncells
        self._raw: list[tuple[int, int, int, list[int]]] = []
        self._records: list[dict] = []

    def wants(self, step: int) -> bool:
        return step % self.every == 0

    def bracket(self, counts: np.ndarray) -> int:
        """The fixed-point bracket of the flat ``counts`` (see :class:`PairIndex`)."""
        f = self.table[counts]
        return int(f[: self.joint].sum()) - int(f[self.joint :].sum())

    def add(self, step: int, counts: np.ndarray, n: int, scores: np.ndarray) -> None:
        """``scores``: fixed-point sums of the clips added at this step, against the current subset."""
        self.record(step, n, self.bracket(counts), scores)

    def record(self, step: int, n: int, bracket_fixed: int, scores) -> None:
        self._raw.append((int(step), int(n), int(bracket_fixed), np.asarray(scores).tolist()))

    def record_rows(self, rows: np.ndarray, scores: np.ndarray) -> None:
        """Rows ``(step, size, bracket, keep)`` with their scores (``keep`` first of each row)."""
        for (step, n, bracket, keep), row_scores in zip(rows.tolist(), scores.tolist(), strict=True):
            self._raw.append((step, n, bracket, row_scores[:keep]))

    @property
    def records(self) -> list[dict]:
        if len(self._records) < len(self._raw):
            self._records += self._finish(self._raw[len(self._records) :])
        return list(self._records)

    def _finish(self, raw: list[tuple[int, int, int, list[int]]]) -> list[dict]:
        """Objective and gains (``after - now``) of each logged step, all at once."""
        P = self.index.npairs
        n = np.array([r[1] for r in raw], dtype=np.float64)
        bracket = np.array([r[2] for r in raw], dtype=np.int64).astype(np.float64) / self.scale
        keep = np.array([len(r[3]) for r in raw])
        if keep.min() == keep.max():
            scores = np.array([r[3] for r in raw], dtype=np.float64)
        else:  # the last steps may add fewer clips: pad (the padding is masked out below)
            scores = np.zeros((len(raw), int(keep.max())))
            for i, r in enumerate(raw):
                scores[i, : keep[i]] = r[3]
        used = np.arange(scores.shape[1])[None, :] < keep[:, None]
        now = np.log(n) + bracket / (P * n)
        after = np.log(n + 1)[:, None] + (bracket[:, None] + scores / GAIN_SCALE) / (P * (n + 1))[:, None]
        gains = after - now[:, None]
        best = np.where(used, gains, -np.inf).max(1)
        mean = np.where(used, gains, 0.0).sum(1) / keep
        # numpy's rounding (scale, round half to even, unscale): one vector op instead of a slow
        # correctly-rounded round() per value; the log is informational.
        values = zip(
            raw,
            np.round(now, 8).tolist(),
            np.round(best, 10).tolist(),
            np.round(mean, 10).tolist(),
            strict=True,
        )
        return [
            {"step": r[0], "size": r[1], "objective": o, "gain_best": g, "gain_mean": m}
            for r, o, g, m in values
        ]


def select_partition(
    labels: np.ndarray,
    ncentroids: int,
    pairs: list[tuple[int, int]],
    subset_size: int,
    params: SelectionParams,
    partition: int = 0,
) -> SelectionResult:
    """Select ``subset_size`` clips of one partition maximising the mean MI over ``pairs``.

    ``labels``: ``(N, D)`` non-negative ints < ``ncentroids``. Deterministic for a given
    ``params.seed`` and ``partition`` number. With ``params.starts > 1`` the selection runs once per
    seed ``params.seed + s`` and the highest objective wins (ties: the lower seed).
    """
    params.validate()
    if params.starts == 1:
        return _select_once(labels, ncentroids, pairs, subset_size, params, partition)
    best: SelectionResult | None = None
    seconds = 0.0
    for start in range(params.starts):
        one = replace(params, seed=params.seed + start, starts=1)
        result = _select_once(labels, ncentroids, pairs, subset_size, one, partition)
        seconds += result.seconds
        if best is None or result.objective > best.objective:
            best = result
    assert best is not None
    best.seconds = seconds
    return best


def _select_once(
    labels: np.ndarray,
    ncentroids: int,
    pairs: list[tuple[int, int]],
    subset_size: int,
    params: SelectionParams,
    partition: int,
) -> SelectionResult:
    started = time.perf_counter()
    labels = np.asarray(labels)
    n_total = labels.shape[0]
    subset_size = max(0, min(int(subset_size), n_total))
    rng_draw, rng_misc = partition_rngs(params.seed, partition)
    index = PairIndex(pairs, ncentroids, labels.shape[1])
    if subset_size == 0:
        none = np.empty(0, np.int64)
        return SelectionResult(none, 0.0, 0.0, [], time.perf_counter() - started, none)
    if subset_size == n_total:
        everything = np.arange(n_total, dtype=np.int64)
        obj = objective_of_subset(labels, everything, pairs)
        return SelectionResult(everything, obj, obj, [], time.perf_counter() - started, everything)

    use_numba = params.use_numba()
    if use_numba:
        labels = kernel_labels(labels, index.ncentroids)
    if params.algorithm == "greedy":
        selected, counts, steps = _exact_greedy(labels, index, subset_size, rng_misc, params)
    elif use_numba:
        selected, counts, steps = _batch_greedy_numba(labels, index, subset_size, rng_draw, rng_misc, params)
    else:
        selected, counts, steps = _batch_greedy(labels, index, subset_size, rng_draw, rng_misc, params)
    objective = index.objective(counts, subset_size)
    random_subset = rng_misc.choice(n_total, subset_size, replace=False)
    random_objective = index.subset_objective(labels, random_subset, use_numba)
    return SelectionResult(
        np.sort(selected), objective, random_objective, steps, time.perf_counter() - started, selected
    )


def _batch_greedy(
    labels: np.ndarray,
    index: PairIndex,
    subset_size: int,
    rng_draw: np.random.Generator,
    rng_misc: np.random.Generator,
    params: SelectionParams,
) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    n_total, width = labels.shape
    sampler = PoolSampler(n_total, params.batch_size, rng_draw, rng_misc)
    gains = gain_table(subset_size)
    counts = np.zeros(index.size, dtype=np.int64)
    sign = index.sign
    # A constant-1 label column carries the offsets through the matmul: one op fewer per step.
    augmented = np.empty((n_total, width + 1), dtype=labels.dtype)
    augmented[:, :width] = labels
    augmented[:, width] = 1
    weights = np.vstack([index.weights, index.offsets[None, :].astype(np.float64)])
    k, batch = params.topk, params.batch_size

    start = int(rng_misc.integers(n_total))
    np.add.at(counts, index.indices(labels[[start]]).ravel(), 1)
    # current[i] = gains[counts[i]]: kept up to date so scoring is one gather, not two.
    current = gains[counts]
    sampler.mark(np.array([start]))
    chosen_all = np.empty(subset_size, dtype=np.int64)
    chosen_all[0] = start
    n = 1
    steplog = StepLog(math.ceil((subset_size - 1) / min(k, batch)), params.log_points, index, subset_size)
    every = steplog.every
    draw, selected = sampler.draw, sampler.selected
    step = 0
    while n < subset_size:
        b = min(batch, sampler.remaining)
        keep = min(k, b, subset_size - n)
        candidates = draw(b)
        positions = (augmented[candidates] @ weights).astype(np.int64)
        scores = current[positions] @ sign
        best = np.argsort(-scores, kind="stable")[:keep]
        if step % every == 0:
            steplog.add(step, counts, n, scores[best])
        # The k clips are added together; add.at counts a cell hit by several of them correctly.
        touched = positions[best].ravel()
        np.add.at(counts, touched, 1)
        current[touched] = gains[counts[touched]]
        added = candidates[best]
        selected[added] = True
        sampler.remaining -= keep
        chosen_all[n : n + keep] = added
        n += keep
        step += 1
    return chosen_all, counts, steplog.records


def kernel_labels(labels: np.ndarray, ncentroids: int) -> np.ndarray:
    """Labels checked to lie in ``[0, ncentroids)``, as the smallest unsigned dtype that holds them.

    The compiled loop does not bounds-check, and one dtype per cluster-count range keeps the number
    of compiled variants small (uint8 for up to 256 clusters: no copy for the partitions we load).
    """
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 2-d integer array, got {labels.dtype} of shape {labels.shape}")
    if labels.size:
        high = int(labels.max())
        low = 0 if np.issubdtype(labels.dtype, np.unsignedinteger) else int(labels.min())
        if low < 0 or high >= ncentroids:
            raise ValueError(f"cluster ids must lie in [0, {ncentroids}), found ids from {low} to {high}")
    dtype = np.uint8 if ncentroids <= 2**8 else np.uint16 if ncentroids <= 2**16 else np.uint32
    return np.ascontiguousarray(labels, dtype=dtype)


def _batch_greedy_numba(
    labels: np.ndarray,
    index: PairIndex,
    subset_size: int,
    rng_draw: np.random.Generator,
    rng_misc: np.random.Generator,
    params: SelectionParams,
) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """The same procedure as :func:`_batch_greedy`, stepping in the compiled kernel.

    The kernel hands control back only for fresh uniforms (the same blocks, from the same
    generator, as ``PoolSampler``), for the rare ``rng_misc.choice`` fallback and to flush step-log
    rows, so the random streams are consumed identically and the same clips are selected.
    """
    K = kernels
    run_steps = K.kernels()["run_steps"]
    n_total, width_d = labels.shape
    C, P = index.ncentroids, index.npairs
    k, batch = params.topk, params.batch_size
    width = 2 * batch + DRAW_SLACK
    block = width * 4096
    gains = gain_table(subset_size)
    first, second = index.pair_columns()
    margin_weight = np.bincount(first, minlength=width_d) + np.bincount(second, minlength=width_d)
    margin_weight = margin_weight.astype(np.int64)
    steplog = StepLog(math.ceil((subset_size - 1) / min(k, batch)), params.log_points, index, subset_size)

    start = int(rng_misc.integers(n_total))
    row = labels[start].astype(np.int64)
    counts = np.zeros(index.size, dtype=np.int64)
    joint_count = counts[: P * C * C]  # a view: the kernel updates the joint cells in place
    joint_count[np.arange(P) * (C * C) + row[first] * C + row[second]] = 1
    joint_gain = gains[joint_count]
    margin_count = np.zeros(width_d * C, dtype=np.int64)
    margin_count[np.arange(width_d) * C + row] = 1
    margin_gain = gains[margin_count]
    selected = np.zeros(n_total, dtype=bool)
    selected[start] = True
    # int32 ids where they fit: half the cache footprint of the random pool look-ups.
    pool = np.arange(n_total, dtype=np.int32 if n_total < 2**31 else np.int64)
    chosen = np.empty(subset_size, dtype=np.int64)
    chosen[0] = start
    state = np.zeros(K.STATE_SIZE, dtype=np.int64)
    state[K.S_N] = 1
    state[K.S_POOL_LEN] = n_total
    state[K.S_REMAINING] = n_total - 1
    state[K.S_BRACKET] = 0  # one clip: every count is 0 or 1, and 0 log 0 = 1 log 1 = 0
    cand = np.zeros(batch, dtype=np.int64)
    scores = np.zeros_like(cand)
    best = np.zeros_like(cand)
    keep_max = min(k, batch)
    capacity = max(1, min(params.log_points + 1, LOG_BUFFER_CELLS // keep_max))
    log_rows = np.zeros((capacity, 4), dtype=np.int64)
    log_scores = np.zeros((capacity, keep_max), dtype=np.int64)
    # One reused buffer (no allocation and page faults per refill): the unread tail (< 2 widths)
    # moves to the front and fresh doubles are written after it; `filled` is the valid length.
    uniforms = np.empty(block + 2 * width)
    filled = 0
    log_step = np.diff(steplog.table)  # bracket change of one count x -> x + 1, exact in integers

    def flush() -> None:
        steplog.record_rows(log_rows[: state[K.S_LOGS]], log_scores[: state[K.S_LOGS]])
        state[K.S_LOGS] = 0

    while True:
        status = run_steps(
            labels, first, second, margin_weight, C, joint_count, joint_gain, margin_count,
            margin_gain, gains, log_step, selected, pool, state, uniforms, filled, cand,
            scores, best, chosen, log_rows, log_scores, subset_size, batch, k, width, steplog.every,
        )  # fmt: skip
        if status == K.DONE:
            break
        if status == K.NEED_UNIFORMS:
            # Keep the unread tail and append more of the same stream. PoolSampler takes it in blocks
            # of `block`; consecutive random(a), random(b) calls give the same doubles as one
            # random(a + b) (tested), so asking only for what the remaining steps can use (small
            # partitions) reads the same sequence.
            steps_left = -(-(subset_size - int(state[K.S_N])) // keep_max)
            more = min(block, max(2 * width, width * (steps_left + 2)))
            tail = filled - int(state[K.S_UPOS])
            uniforms[:tail] = uniforms[state[K.S_UPOS] : filled]
            rng_draw.random(out=uniforms[tail : tail + more])
            filled = tail + more
            state[K.S_UPOS] = 0
        elif status == K.NEED_FALLBACK:
            b = int(state[K.S_NB])
            pool_len = int(state[K.S_POOL_LEN])
            cand[:b] = pool[:pool_len][rng_misc.choice(pool_len, b, replace=False)]
        elif status == K.FLUSH_LOG:
            flush()
        else:  # pragma: no cover - a kernel bug
            raise RuntimeError(f"selection kernel returned unknown status {status}")
    flush()
    index.margins_from_clusterings(counts, margin_count)
    return chosen, counts, steplog.records


def _exact_greedy(
    labels: np.ndarray,
    index: PairIndex,
    subset_size: int,
    rng_misc: np.random.Generator,
    params: SelectionParams,
) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """k = 1 over the whole pool each step: O(N) per step, for small partitions."""
    n_total = labels.shape[0]
    if n_total > 50_000:
        log.warning(
            "exact greedy on %d clips costs O(N) per selected clip; batch_greedy is much faster", n_total
        )
    gains = gain_table(subset_size)
    counts = np.zeros(index.size, dtype=np.int64)
    positions = index.indices(labels).astype(np.int32 if index.size < 2**31 else np.int64)
    remaining = np.ones(n_total, dtype=bool)
    start = int(rng_misc.integers(n_total))
    np.add.at(counts, positions[start], 1)
    remaining[start] = False
    chosen = [start]
    steplog = StepLog(subset_size - 1, params.log_points, index, subset_size)
    n = 1
    chunk = max(1, 2_000_000 // positions.shape[1])
    while n < subset_size:
        pool = np.flatnonzero(remaining)
        best_score, best_clip = None, -1
        for lo in range(0, pool.size, chunk):
            part = pool[lo : lo + chunk]
            scores = gains[counts[positions[part]]] @ index.sign
            i = int(np.argmax(scores))  # first maximum: the lowest clip index among ties
            if best_score is None or scores[i] > best_score:
                best_score, best_clip = scores[i], int(part[i])
        if steplog.wants(n - 1):
            steplog.add(n - 1, counts, n, np.array([best_score]))
        counts[positions[best_clip]] += 1  # the 3P positions of one clip are distinct
        remaining[best_clip] = False
        chosen.append(best_clip)
        n += 1
    return np.asarray(chosen, dtype=np.int64), counts, steplog.records
