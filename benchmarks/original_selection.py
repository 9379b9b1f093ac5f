"""A faithful re-implementation of the original ACAV100M batch-greedy MI selection (the baseline).

Written from the algorithm of the original release (``EfficientBatchMI`` with ``keep_unselected``,
batch 20, top 4), keeping the costs that matter:

- the contingency tables are float32 ``P x C x C`` tensors initialised to machine epsilon (so that
  ``log`` never sees 0), with row and column sums and totals;
- every iteration shuffles the *whole* remaining pool (``randperm``) and takes its first ``B`` ids;
- every candidate's ``P x C x C`` one-hot table is built (one-hot + einsum), added to the subset's
  tables, and the full MI of every pair is recomputed over all ``C x C`` cells;
- the top ``k`` of the batch (scored against the same subset) are added together, their tables
  recomputed again; the unselected ids are found with ``unique`` and concatenated back to the pool;
- the start clip (first of a Python ``random.shuffle``) is added to the tables but, as in the
  original, not returned in the selection.

Only used by ``benchmarks/subset_selection.py``; not part of the package.
"""

from __future__ import annotations

import random
import time

import numpy as np
import torch


class OriginalBatchMI:
    def __init__(
        self,
        assignments: np.ndarray,
        pairs: list[tuple[int, int]],
        ncentroids: int,
        batch_size: int = 20,
        topk: int = 4,
        dtype: torch.dtype = torch.float32,
    ):
        self.assignments = torch.from_numpy(np.ascontiguousarray(assignments).astype(np.int64))
        self.C = ncentroids
        self.pairs = torch.tensor(pairs, dtype=torch.long)
        self.B = min(batch_size, assignments.shape[0] - 1)
        self.k = min(topk, self.B)
        eps = float(np.finfo("float64").eps)
        P = len(pairs)
        self.dtype = dtype  # float32 as the original; float64 only to study its rounding
        joint = torch.full((P, self.C, self.C), eps, dtype=dtype)
        self.cache = {"N": joint, "a": joint.sum(1), "b": joint.sum(2), "n": joint.sum(1).sum(-1)}
        self.batches: list | None = None  # set to [] to record (batch, chosen) of every step

    def _one_hot(self, ids: torch.Tensor) -> torch.Tensor:
        rows = self.assignments.index_select(0, ids)  # W x D
        out = torch.zeros((*rows.shape, self.C), dtype=self.dtype)
        out.scatter_(-1, rows.unsqueeze(-1), torch.ones((*rows.shape, 1), dtype=self.dtype))
        return out  # W x D x C

    def _tables(self, ids: torch.Tensor) -> dict[str, torch.Tensor]:
        onehot = self._one_hot(ids)
        W = onehot.shape[0]
        first = onehot.gather(1, self.pairs[:, 0].view(1, -1, 1).repeat(W, 1, self.C))  # W x P x C
        second = onehot.gather(1, self.pairs[:, 1].view(1, -1, 1).repeat(W, 1, self.C))
        joint = torch.einsum("wpa,wpb->wpab", first, second)  # W x P x C x C
        return {"N": joint, "a": joint.sum(2), "b": joint.sum(3), "n": joint.sum(3).sum(-1)}

    @staticmethod
    def _mi(t: dict[str, torch.Tensor]) -> torch.Tensor:
        joint = t["N"]
        a = t["a"].unsqueeze(2)
        b = t["b"].unsqueeze(3)
        n = t["n"].unsqueeze(-1).unsqueeze(-1)
        return (joint / n * (joint.log() + n.log() - (a.log() + b.log()))).sum([2, 3])  # W x P

    def add(self, ids: list[int]) -> None:
        t = self._tables(torch.tensor(ids, dtype=torch.long))
        for key in self.cache:
            self.cache[key] = self.cache[key] + t[key].sum(0)

    def step(self) -> list[int]:
        self.pool = self.pool.index_select(0, torch.randperm(self.pool.shape[0]))  # shuffle the whole pool
        batch = self.pool[: self.B]
        t = self._tables(batch)
        last = {key: self.cache[key].unsqueeze(0) + t[key] for key in t}
        scores = self._mi(last).mean(-1)
        _, best = scores.topk(self.k)
        chosen = t_ids = batch.index_select(0, best)
        again = self._tables(t_ids)  # the original recomputes the chosen clips' tables
        for key in self.cache:
            self.cache[key] = self.cache[key] + again[key].sum(0)
        if self.batches is not None:
            self.batches.append((batch.clone(), chosen.clone()))
        rest = self.pool[self.B :]
        both, counts = torch.cat((batch, chosen)).unique(return_counts=True)
        self.pool = torch.cat((rest, both[counts == 1]))  # unselected back to the (re-concatenated) pool
        return chosen.tolist()

    def start(self, seed: int) -> int:
        random.seed(seed)
        torch.manual_seed(seed)
        candidates = list(range(self.assignments.shape[0]))
        random.shuffle(candidates)
        self.add([candidates[0]])
        self.pool = torch.tensor(candidates[1:], dtype=torch.long)
        return candidates[0]


def run_original(
    assignments: np.ndarray,
    pairs: list[tuple[int, int]],
    ncentroids: int,
    subset_size: int,
    seed: int = 0,
    max_iterations: int | None = None,
    batch_size: int = 20,
    topk: int = 4,
    record: list | None = None,
    dtype: torch.dtype = torch.float32,
    warmup_iterations: int = 50,
) -> tuple[list[int], float, int]:
    """``(selected ids, CPU seconds in the selection loop, iterations)``, stopping early at ``max_iterations``.

    With ``record`` (a list), the start clip and then ``(batch, chosen)`` of every step are appended.
    ``warmup_iterations`` untimed steps of a throwaway run come first: torch's first calls (kernel
    selection, allocator growth) cost about twice a warm step, and a capped run of a few hundred
    steps would otherwise time mostly that.
    """
    torch.set_num_threads(1)
    with torch.no_grad():
        if warmup_iterations:
            warm = OriginalBatchMI(assignments, pairs, ncentroids, batch_size, topk, dtype)
            warm.start(seed + 1)
            for _ in range(min(warmup_iterations, max(0, (assignments.shape[0] - 2 * batch_size) // topk))):
                warm.step()
            del warm
        method = OriginalBatchMI(assignments, pairs, ncentroids, batch_size, topk, dtype)
        start = method.start(seed)
        if record is not None:
            record.append(start)
            method.batches = record
        selected: list[int] = []
        iterations = 0
        started = time.process_time()  # CPU time: robust on a shared machine
        while len(selected) < subset_size and (max_iterations is None or iterations < max_iterations):
            selected += method.step()
            iterations += 1
        seconds = time.process_time() - started
    return selected[:subset_size], seconds, iterations
