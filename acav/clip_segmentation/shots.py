"""Shots from cached scdet scores, with the paper's threshold annealing (all in memory)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class ShotResult:
    cuts: list[float]  # cut times (s): first frame of each new shot
    shots: list[tuple[float, float]]  # [start, end) of every shot, covering [0, video end)
    threshold: float  # the threshold that produced ``cuts``
    tries: list[float] = field(default_factory=list)  # every threshold tried, in order

    def long_shots(self, min_length: float, eps: float = 1e-6) -> list[tuple[float, float]]:
        return [(a, b) for a, b in self.shots if b - a >= min_length - eps]


def detect_cuts(times: np.ndarray, scores: np.ndarray, threshold: float) -> list[float]:
    """Times of frames whose score is >= ``threshold`` (scdet reports ``lavfi.scd.time`` for those)."""
    return [float(t) for t in times[scores >= threshold]]


def shots_from_cuts(cuts: list[float], end: float) -> list[tuple[float, float]]:
    """Consecutive intervals between 0, the cuts and ``end`` (a shot = time between two cuts)."""
    bounds = [0.0] + [c for c in cuts if 0.0 < c < end] + [end]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


def anneal(
    times: np.ndarray,
    scores: np.ndarray,
    end: float,
    *,
    threshold: float = 10.0,
    factor: float = 1.2,
    max_threshold: float = 100.0,
    min_length: float = 10.0,
    wanted: int = 3,
) -> ShotResult:
    """Raise the threshold by ``factor`` (capped at ``max_threshold``) until ``wanted`` shots are at
    least ``min_length`` long, as the original pipeline did by re-running scdet; returns the last try.
    """
    tries: list[float] = []
    current = min(threshold, max_threshold)
    while True:
        tries.append(current)
        cuts = detect_cuts(times, scores, current)
        result = ShotResult(cuts=cuts, shots=shots_from_cuts(cuts, end), threshold=current, tries=tries)
        if len(result.long_shots(min_length)) >= wanted or current >= max_threshold:
            return result
        current = min(current * factor, max_threshold)
