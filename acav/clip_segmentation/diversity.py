"""Greedy choice of visually diverse clips among the candidates of one video.

The paper starts from a random candidate and repeatedly adds the candidate least similar to the
ones already chosen (the original compared every pair of candidate clips with ffmpeg's
``signature`` filter, one process per pair). We compare fingerprints from the decode pass instead:
each candidate is described by ``samples`` frames spread evenly over its window, each frame by the
mean Y, U, V of a coarse grid (scores.py). The distance of two candidates is a symmetric Chamfer
distance: for every sampled frame of one, the L1 distance (per cell, 0..255) to the closest
sampled frame of the other, averaged, then averaged over both directions. Similarity is
``1 - distance / 255`` in [0, 1]; matching the closest frame (not the same position) makes two
windows of the same scene similar even when their content is shifted in time, as a signature
match would.
"""

from __future__ import annotations

import random

import numpy as np

from acav.core.decode import uniform_indices

# "fingerprint": ours (below); "signature": the original's ffmpeg signature measure (signature.py).
DIVERSITY_MEASURES = ("fingerprint", "signature")


def window_descriptor(fingerprints: np.ndarray, first: int, last: int, samples: int) -> np.ndarray:
    """``[samples, D]`` float32 fingerprints of frames spread evenly over ``first..last``."""
    picks = first + uniform_indices(last - first + 1, samples)
    return fingerprints[picks].astype(np.float32)


def similarity_matrix(descriptors: list[np.ndarray]) -> np.ndarray:
    """``[N, N]`` similarities in [0, 1] (1 on the diagonal) between candidate descriptors."""
    count = len(descriptors)
    sim = np.ones((count, count), dtype=np.float64)
    for i in range(count):
        for j in range(i + 1, count):
            a, b = descriptors[i], descriptors[j]
            pair = np.abs(a[:, None, :] - b[None, :, :]).mean(axis=2)  # [Sa, Sb] mean L1 per cell
            distance = 0.5 * (pair.min(axis=1).mean() + pair.min(axis=0).mean())
            sim[i, j] = sim[j, i] = 1.0 - distance / 255.0
    return sim


def choose_diverse(
    similarity: np.ndarray, count: int, rng: random.Random, first: int | None = None
) -> list[int]:
    """Indices of ``count`` candidates: a random first pick (or ``first``), then each time the
    candidate whose highest similarity to the chosen ones is lowest (ties: the earliest candidate).
    All candidates when there are no more than ``count``."""
    total = similarity.shape[0]
    if total <= count:
        return list(range(total))
    chosen = [rng.randrange(total) if first is None else first]
    while len(chosen) < count:
        rest = [i for i in range(total) if i not in chosen]
        worst_match = [similarity[i, chosen].max() for i in rest]
        chosen.append(rest[int(np.argmin(worst_match))])
    return chosen
