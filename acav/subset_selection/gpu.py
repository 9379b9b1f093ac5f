"""Torch backend: batch greedy over many partitions at once (one GPU, or the CPU for testing).

Each iteration does the same work as :func:`acav.subset_selection.greedy._batch_greedy` for every
active partition in a handful of batched tensor operations, so the per-operation launch cost is
shared by all partitions. It mirrors the numpy path step for step (same per-partition random
streams, same draw/compaction/fallback rules, exact integer scores, stable top-k), so both
backends select the same clips; tests check that on the CPU.
"""

from __future__ import annotations

import math
import time

import numpy as np

from acav.core.logs import get_logger
from acav.subset_selection.greedy import (
    PairIndex,
    SelectionParams,
    SelectionResult,
    StepLog,
    partition_rngs,
)
from acav.subset_selection.mi import gain_table, objective_of_subset

log = get_logger(__name__)


class _HostDraws:
    """The numpy sampler's uniform stream of one partition, consumed in the same blocks."""

    def __init__(self, rng: np.random.Generator, width: int) -> None:
        self.rng, self.width = rng, width
        self.buffer = np.empty(0)
        self.pos = 0

    def take(self) -> np.ndarray:
        if self.pos + self.width > self.buffer.size:
            self.buffer = self.rng.random(self.width * 4096)
            self.pos = 0
        out = self.buffer[self.pos : self.pos + self.width]
        self.pos += self.width
        return out


def select_partitions_torch(
    labels_list: list[np.ndarray],
    ncentroids: int,
    pairs: list[tuple[int, int]],
    sizes: list[int],
    params: SelectionParams,
    numbers: list[int],
    device: str = "cpu",
) -> list[SelectionResult]:
    """Batch greedy on several partitions that share their clusterings and pairs."""
    import torch

    params.validate()
    if params.algorithm != "batch_greedy":
        raise ValueError("the torch backend runs batch_greedy; use the numpy backend for exact greedy")
    started = time.perf_counter()
    dev = torch.device(device)
    Q = len(labels_list)
    D = labels_list[0].shape[1]
    index = PairIndex(pairs, ncentroids, D)
    B, k = params.batch_size, params.topk
    width = 2 * B + 8
    n_tot = [int(x.shape[0]) for x in labels_list]
    sizes = [max(0, min(int(s), n)) for s, n in zip(sizes, n_tot, strict=True)]
    n_max = max(n_tot)
    rngs = [partition_rngs(params.seed, num) for num in numbers]
    draws = [_HostDraws(r[0], width) for r in rngs]

    labels = torch.zeros((Q, n_max, D), dtype=torch.int64, device=dev)
    for q, arr in enumerate(labels_list):
        labels[q, : n_tot[q]] = torch.as_tensor(arr.astype(np.int64), device=dev)
    weights = torch.as_tensor(index.weights, dtype=torch.float64, device=dev)
    offsets = torch.as_tensor(index.offsets, device=dev)
    sign = torch.as_tensor(index.sign, device=dev)
    gains = torch.as_tensor(gain_table(max(sizes + [1])), device=dev)
    L = index.size
    counts = torch.zeros((Q, L + 1), dtype=torch.int64, device=dev)  # last slot: sink for masked updates
    selected = torch.zeros((Q, n_max + 1), dtype=torch.bool, device=dev)  # last column: sink
    selected[:, n_max] = True
    pool = torch.arange(n_max, device=dev).repeat(Q, 1)
    pool_len = list(n_tot)
    remaining = list(n_tot)
    n_sel = [0] * Q
    qrows = torch.arange(Q, device=dev)
    steplogs = [StepLog(math.ceil(max(s - 1, 0) / min(k, B)), params.log_points, index, s) for s in sizes]
    full = [s == n for s, n in zip(sizes, n_tot, strict=True)]

    # Start clips (partitions selecting everything or nothing are finished at once, like numpy).
    for q in range(Q):
        if sizes[q] == 0 or full[q]:
            continue
        start = int(rngs[q][1].integers(n_tot[q]))
        pos = labels[q, start].double() @ weights
        counts[q].index_add_(
            0, pos.long() + offsets, torch.ones(3 * index.npairs, dtype=torch.int64, device=dev)
        )
        selected[q, start] = True
        remaining[q] -= 1
        n_sel[q] = 1

    def compact(q: int) -> None:
        free = torch.nonzero(~selected[q, : n_tot[q]]).squeeze(1)
        pool[q, : free.numel()] = free
        pool_len[q] = free.numel()

    step = 0
    while True:
        active = [q for q in range(Q) if 0 < n_sel[q] < sizes[q]]
        if not active:
            break
        b_q = [min(B, remaining[q]) for q in range(Q)]
        keep_q = [min(k, b_q[q], sizes[q] - n_sel[q]) if q in active else 0 for q in range(Q)]
        special: dict[int, torch.Tensor] = {}
        drawing = []
        for q in active:
            if remaining[q] <= b_q[q]:
                special[q] = torch.nonzero(~selected[q, : n_tot[q]]).squeeze(1)
                continue
            if 2 * (pool_len[q] - remaining[q]) > pool_len[q]:
                compact(q)
            drawing.append(q)
        cand = torch.zeros((Q, B), dtype=torch.int64, device=dev)
        if drawing:
            u = np.zeros((Q, width))
            m = np.ones(Q)
            for q in drawing:
                u[q] = draws[q].take()
                m[q] = pool_len[q]
            pos = torch.floor(torch.as_tensor(u, device=dev) * torch.as_tensor(m, device=dev)[:, None]).long()
            clips = pool.gather(1, pos)
            ok = ~selected.gather(1, clips)
            ok &= ~torch.triu(clips[:, :, None] == clips[:, None, :], diagonal=1).any(1)
            found = ok.sum(1).cpu().numpy()
            order = torch.sort((~ok).to(torch.int8), dim=1, stable=True).indices[:, :B]
            cand = clips.gather(1, order)
            for q in drawing:
                if found[q] < b_q[q]:
                    special[q] = _redraw(
                        q, b_q[q], selected, pool, pool_len, remaining, draws, rngs, compact, dev
                    )
        for q, chosen in special.items():
            cand[q] = 0
            cand[q, : chosen.numel()] = chosen[:B]
        valid = torch.as_tensor(np.arange(B)[None, :] < np.asarray(b_q)[:, None], device=dev)
        rows = labels[qrows[:, None], cand]  # Q x B x D
        positions = (rows.double() @ weights).long() + offsets  # Q x B x 3P
        scores = (gains[counts.gather(1, positions.view(Q, -1)).view(positions.shape)] * sign).sum(-1)
        scores = torch.where(valid, scores, torch.iinfo(torch.int64).min)
        kmax = max(keep_q)
        best = torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :kmax]  # Q x kmax
        use = torch.as_tensor(np.arange(kmax)[None, :] < np.asarray(keep_q)[:, None], device=dev)
        logged = [q for q in active if steplogs[q].wants(step)]
        if logged:
            counts_host = counts[:, :L].cpu().numpy()
            best_scores = scores.gather(1, best).cpu().numpy()
            for q in logged:
                steplogs[q].add(step, counts_host[q], n_sel[q], best_scores[q, : keep_q[q]])
        add_pos = positions.gather(1, best[:, :, None].expand(-1, -1, positions.shape[2]))
        add_pos = torch.where(use[:, :, None], add_pos, L)
        counts.scatter_add_(1, add_pos.reshape(Q, -1), torch.ones_like(add_pos.reshape(Q, -1)))
        added = torch.where(use, cand.gather(1, best), n_max)
        selected.scatter_(1, added, True)
        for q in active:
            remaining[q] -= keep_q[q]
            n_sel[q] += keep_q[q]
        step += 1

    results = []
    sel_host = selected[:, :n_max].cpu().numpy()
    counts_host = counts[:, :L].cpu().numpy()
    elapsed = time.perf_counter() - started
    for q in range(Q):
        labels_q = labels_list[q]
        if sizes[q] == 0:
            results.append(SelectionResult(np.empty(0, np.int64), 0.0, 0.0, [], elapsed))
            continue
        if full[q]:
            everything = np.arange(n_tot[q], dtype=np.int64)
            obj = objective_of_subset(labels_q, everything, pairs)
            results.append(SelectionResult(everything, obj, obj, [], elapsed))
            continue
        chosen = np.flatnonzero(sel_host[q, : n_tot[q]])
        objective = index.objective(counts_host[q], sizes[q])
        random_subset = rngs[q][1].choice(n_tot[q], sizes[q], replace=False)
        # Counted as in the numpy backend: the same integer counts give the same float objective.
        random_objective = index.subset_objective(labels_q, random_subset, use_numba=False)
        results.append(SelectionResult(chosen, objective, random_objective, steplogs[q].records, elapsed))
    return results


def _redraw(q, b, selected, pool, pool_len, remaining, draws, rngs, compact, dev):
    """The rare shortfall path of PoolSampler.draw for one partition: compact and redraw, or fall back."""
    import torch

    while True:
        if pool_len[q] > remaining[q]:
            compact(q)
        else:
            pos = rngs[q][1].choice(pool_len[q], b, replace=False)
            return pool[q, torch.as_tensor(pos, device=dev)]
        u = torch.as_tensor(draws[q].take(), device=dev)
        clips = pool[q, torch.floor(u * pool_len[q]).long()]
        ok = ~selected[q, clips]
        ok &= ~torch.triu(clips[:, None] == clips[None, :], diagonal=1).any(0)
        found = clips[ok]
        if found.numel() >= b:
            return found[:b]
