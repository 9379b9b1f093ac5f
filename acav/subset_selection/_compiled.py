"""The numba-compiled batch-greedy kernels. Imported only through :mod:`.kernels` (numba is optional).

See :mod:`.kernels` for the protocol between these loops and the Python driver.
"""

from __future__ import annotations

import numba
import numpy as np

from acav.subset_selection import kernels as _protocol

# The protocol constants, spelled out here because numba's on-disk cache is keyed on this file only:
# compiled code keeps the values it was compiled with. The check below makes a change in kernels.py
# that is not repeated here (which would leave stale cached code) fail at import.
DONE, NEED_UNIFORMS, NEED_FALLBACK, FLUSH_LOG = 0, 1, 2, 3
PHASE_DRAW, PHASE_SCORE = 0, 1
S_N, S_STEP, S_POOL_LEN, S_REMAINING, S_UPOS, S_PHASE, S_NB, S_KEEP, S_BRACKET, S_LOGS = range(10)
SCAN_LIMIT = 256
_here = {name: value for name, value in globals().items() if name.isupper() and not name.startswith("_")}
_there = {name: getattr(_protocol, name, None) for name in _here}
if _here != _there:
    raise RuntimeError(
        f"acav/subset_selection/_compiled.py and kernels.py disagree on the kernel protocol: {_here} vs {_there}"
    )

# cache=True: compiled once per label dtype, then loaded from numba's on-disk cache.
_njit = numba.njit(cache=True, nogil=True, boundscheck=False)


@_njit
def compact(selected, pool):
    """pool[:m] = the unselected clips in increasing order (np.flatnonzero(~selected))."""
    m = 0
    for c in range(selected.shape[0]):
        if not selected[c]:
            pool[m] = c
            m += 1
    return m


@_njit
def draw_once(pool, pool_len, selected, uniforms, upos, width, b, cand):
    """First ``b`` distinct unselected clips among ``width`` uniform draws from the pool.

    Returns how many were found (all ``width`` uniforms are consumed, as in numpy). Found clips
    are marked selected while scanning to reject repeats, then unmarked.
    """
    m = 0
    for t in range(width):
        c = pool[np.int64(uniforms[upos + t] * pool_len)]
        if selected[c]:
            continue
        selected[c] = True
        cand[m] = c
        m += 1
        if m == b:
            break
    for t in range(m):
        selected[cand[t]] = False
    return m


@_njit
def run_steps(
    labels,
    pair_i,
    pair_j,
    margin_weight,
    ncentroids,
    joint_count,
    joint_gain,
    margin_count,
    margin_gain,
    gains,
    log_step,
    selected,
    pool,
    state,
    uniforms,
    ulen,
    cand,
    scores,
    best,
    chosen,
    log_rows,
    log_scores,
    target,
    batch,
    topk,
    width,
    every,
):
    """Batch-greedy steps until the subset has ``target`` clips or the caller is needed.

    ``joint_count``/``joint_gain``: the ``P x C x C`` joint counts and their gains (flat);
    ``margin_count``/``margin_gain``: the ``D x C`` cluster sizes per clustering and their gains.
    ``log_step[x]``: ``(x + 1) log (x + 1) - x log x`` as a difference of fixed-point values, so
    ``state[S_BRACKET]`` keeps the fixed-point bracket of the MI formula (see :mod:`.mi`) exactly,
    for the step log, whose rows ``(step, size, bracket, keep)`` and scores of the clips added go
    to ``log_rows``/``log_scores``.
    """
    C = ncentroids
    P = pair_i.shape[0]
    D = labels.shape[1]
    CC = C * C
    cap = log_rows.shape[0]
    taken = np.zeros(cand.shape[0], dtype=np.bool_)
    row = np.empty(D, dtype=np.int64)
    rows = np.empty((cand.shape[0], D), dtype=np.int64)  # labels of the batch
    pbase = np.arange(P) * CC  # first joint cell of each pair
    while True:
        if state[S_PHASE] == PHASE_DRAW:
            n = state[S_N]
            if n >= target:
                return DONE
            if state[S_STEP] % every == 0 and state[S_LOGS] == cap:
                return FLUSH_LOG
            remaining = state[S_REMAINING]
            b = min(batch, remaining)
            state[S_KEEP] = min(topk, b, target - n)
            if remaining <= b:
                # The whole rest of the pool, in increasing order (the pool is kept sorted).
                m = 0
                for t in range(state[S_POOL_LEN]):
                    c = pool[t]
                    if not selected[c]:
                        cand[m] = c
                        m += 1
                state[S_NB] = m
            else:
                # A step uses at most two blocks of `width` uniforms (draw, compact, redraw).
                if ulen - state[S_UPOS] < 2 * width:
                    return NEED_UNIFORMS
                pool_len = state[S_POOL_LEN]
                if 2 * (pool_len - remaining) > pool_len:
                    pool_len = compact(selected, pool)
                found = draw_once(pool, pool_len, selected, uniforms, state[S_UPOS], width, b, cand)
                state[S_UPOS] += width
                if found < b and pool_len > remaining:
                    pool_len = compact(selected, pool)
                    found = draw_once(pool, pool_len, selected, uniforms, state[S_UPOS], width, b, cand)
                    state[S_UPOS] += width
                state[S_POOL_LEN] = pool_len
                state[S_NB] = b
                if found < b:
                    state[S_PHASE] = PHASE_SCORE
                    return NEED_FALLBACK  # the caller fills cand[:b] and calls again
            state[S_PHASE] = PHASE_SCORE
        # Score the candidates against the current subset.
        nb = state[S_NB]
        keep = state[S_KEEP]
        # Gather the candidates' labels first: their cache misses overlap instead of queueing.
        for t in range(nb):
            c = cand[t]
            for d in range(D):
                rows[t, d] = labels[c, d]
        for t in range(nb):
            s = np.int64(0)
            for p in range(P):
                s += joint_gain[pbase[p] + rows[t, pair_i[p]] * C + rows[t, pair_j[p]]]
            for d in range(D):
                w = margin_weight[d]
                if w != 0:
                    s -= w * margin_gain[d * C + rows[t, d]]
            scores[t] = s
        # Top `keep` by score, ties to the earlier candidate (a stable descending sort).
        if keep * nb <= SCAN_LIMIT:
            for t in range(nb):
                taken[t] = False
            for r in range(keep):
                bi = -1
                for t in range(nb):
                    if not taken[t] and (bi < 0 or scores[t] > scores[bi]):
                        bi = t
                taken[bi] = True
                best[r] = bi
        else:
            order = np.argsort(-scores[:nb], kind="mergesort")
            for r in range(keep):
                best[r] = order[r]
        n = state[S_N]
        if state[S_STEP] % every == 0:
            i = state[S_LOGS]
            log_rows[i, 0] = state[S_STEP]
            log_rows[i, 1] = n
            log_rows[i, 2] = state[S_BRACKET]
            log_rows[i, 3] = keep
            for r in range(keep):
                log_scores[i, r] = scores[best[r]]
            state[S_LOGS] = i + 1
        # Add the `keep` best together (all were scored against the same subset).
        bracket = state[S_BRACKET]
        for r in range(keep):
            c = cand[best[r]]
            for d in range(D):
                row[d] = labels[c, d]
            for p in range(P):
                cell = p * CC + row[pair_i[p]] * C + row[pair_j[p]]
                x = joint_count[cell]
                bracket += log_step[x]
                joint_count[cell] = x + 1
                joint_gain[cell] = gains[x + 1]
            for d in range(D):
                w = margin_weight[d]
                if w != 0:
                    slot = d * C + row[d]
                    x = margin_count[slot]
                    bracket -= w * log_step[x]
                    margin_count[slot] = x + 1
                    margin_gain[slot] = gains[x + 1]
            selected[c] = True
            chosen[n + r] = c
        state[S_BRACKET] = bracket
        state[S_N] = n + keep
        state[S_REMAINING] -= keep
        state[S_STEP] += 1
        state[S_PHASE] = PHASE_DRAW


@_njit
def joint_counts(labels, subset, pair_i, pair_j, ncentroids, counts, margins):
    """Add the clips ``subset`` to the ``P x C x C`` joint counts (flat ``counts``) and to the
    ``D x C`` cluster sizes of every clustering (flat ``margins``).

    Returns -1, or the position in ``subset`` of the first clip that is out of range or has a
    label outside ``[0, ncentroids)`` (counts are then partial; the caller raises).
    """
    C = ncentroids
    P = pair_i.shape[0]
    D = labels.shape[1]
    N = labels.shape[0]
    CC = C * C
    for t in range(subset.shape[0]):
        c = subset[t]
        if c < 0 or c >= N:
            return t
        for d in range(D):
            if labels[c, d] < 0 or labels[c, d] >= C:
                return t
        for d in range(D):
            margins[d * C + np.int64(labels[c, d])] += 1
        for p in range(P):
            counts[p * CC + np.int64(labels[c, pair_i[p]]) * C + np.int64(labels[c, pair_j[p]])] += 1
    return -1
