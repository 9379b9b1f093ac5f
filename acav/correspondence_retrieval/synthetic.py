"""Selection on synthetic cluster assignments (stage 6's generator): scale and pool-size sweeps.

Clips have a latent class per view; positives share it, negatives draw the audio class
independently; every clustering relabels its view's class and replaces it by a random label with
probability ``noise`` (:func:`acav.subset_selection.synthetic.make_assignments`). This isolates the
selector from feature quality: exp4 runs it on 1M clips in one partition and in 10 shards, and the
pool-size sweep measures how small pools and many centroids hurt.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import numpy as np

from acav.core.logs import get_logger
from acav.subset_selection.greedy import SelectionParams, select_partition
from acav.subset_selection.pairings import make_pairs
from acav.subset_selection.synthetic import make_assignments

log = get_logger(__name__)


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def select_shards(
    labels: np.ndarray, positive: np.ndarray, ncentroids: int, pairs, shards: int, params: SelectionParams
) -> float:
    """Precision at N = positives when the clips are split into ``shards`` random partitions."""
    rng = np.random.default_rng([params.seed, 4])
    parts = np.array_split(rng.permutation(labels.shape[0]), shards)
    hits = 0
    total = 0
    for number, part in enumerate(parts):
        want = int(round(positive.sum() * part.size / labels.shape[0]))
        result = select_partition(labels[part], ncentroids, pairs, want, params, partition=number)
        hits += int(positive[part][result.selected].sum())
        total += int(result.selected.size)
    return hits / max(total, 1)


def synthetic_rows(
    experiment: str, spec: dict[str, Any], batch_size: int = 100, topk: int = 25
) -> list[dict[str, Any]]:
    """One row per (clips, centroids, positive rate, shards, seed); dataset ``synthetic``."""
    rows = []
    grid = itertools.product(
        _as_list(spec.get("clips", 100_000)), _as_list(spec.get("ncentroids", 32)),
        _as_list(spec.get("positive_rate", 0.5)), _as_list(spec.get("shards", 1)),
    )  # fmt: skip
    for clips, k, rate, shards in grid:
        for seed in range(int(spec.get("seeds", 1))):
            data = make_assignments(int(clips), int(k), 5, float(rate), float(spec.get("noise", 0.3)), seed)
            pairs = make_pairs(data.clusterings, "combination")
            params = SelectionParams(batch_size=batch_size, topk=topk, seed=seed, log_points=1)
            started_cpu, started = time.process_time(), time.perf_counter()
            precision = select_shards(data.labels, data.positive, int(k), pairs, int(shards), params)
            cpu, wall = time.process_time() - started_cpu, time.perf_counter() - started
            label = f"clips={clips},ncentroids={k},positive_rate={rate},shards={shards}"
            log.info(
                "synthetic %s seed %d: precision %.3f (chance %.3f) %.1fs cpu",
                label,
                seed,
                precision,
                data.positive.mean(),
                cpu,
            )
            rows.append({
                "experiment": experiment, "dataset": "synthetic", "method": "ours", "settings": label, "seed": seed,
                "pool": int(clips), "positives": int(data.positive.sum()), "precision": round(precision, 6),
                "chance": round(float(data.positive.mean()), 6), "method_cpu_s": round(cpu, 3),
                "method_wall_s": round(wall, 3), "cluster_cpu_s": 0, "ncentroids": int(k), "objective": "",
            })  # fmt: skip
    return rows
