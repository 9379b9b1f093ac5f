"""Shots from cached scdet scores, with the paper's threshold annealing (all in memory).

Annealing re-thresholds the scores with the threshold multiplied by ``factor`` (capped at
``max_threshold``) until ``wanted`` shots are at least ``min_length`` long or the cap is reached,
the same tries the original ran scdet for. Which try's shots are then used is the shot rule:

- ``best`` (default): among the tries that found at least one cut, the one with the most long
  shots, ties to the lowest threshold. Only when no try found a cut (the first finds the most) is
  the video cut-free, one shot from start to end. Windows are centred in the chosen try's long
  shots, so a clip never crosses a cut that try detected; when it has no long shot the video
  gives no clip.
- ``original``: the original release's rule. Its candidate list is replaced only by a try that
  found a cut, so it ends with the LAST try that found one, even when an earlier try had more long
  shots (with the cap at 100 the last tries usually find none). Without a long shot, the centred
  window of the whole video is taken, across cuts.

``keep_last_shot``: the original's shots run from 0 through the cuts and drop the shot after the
last cut; we keep it by default (it is as real a shot as the others). ``False`` reproduces the
original.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SHOT_RULES = ("best", "original")
_EPS = 1e-6


@dataclass(frozen=True)
class ShotTry:
    threshold: float
    cuts: list[float]


@dataclass
class ShotResult:
    cuts: list[float]  # cut times (s) of the chosen try: first frame of each new shot
    shots: list[tuple[float, float]]  # [start, end) of the chosen try's shots
    threshold: float  # the chosen try's threshold
    tries: list[float] = field(default_factory=list)  # every threshold tried, in order
    cut_free: bool = False  # no try found a cut: the whole video is one shot

    def long_shots(self, min_length: float, eps: float = _EPS) -> list[tuple[float, float]]:
        return [(a, b) for a, b in self.shots if b - a >= min_length - eps]


def detect_cuts(times: np.ndarray, scores: np.ndarray, threshold: float) -> list[float]:
    """Times of frames whose score is >= ``threshold`` (scdet reports ``lavfi.scd.time`` for those)."""
    return [float(t) for t in times[scores >= threshold]]


def shots_from_cuts(cuts: list[float], end: float, keep_last: bool = True) -> list[tuple[float, float]]:
    """Consecutive intervals between 0, the cuts and ``end`` (a shot = time between two cuts);
    without ``keep_last`` the shot after the last cut is dropped, as in the original. No cut: the
    whole video is one shot either way."""
    inner = [c for c in cuts if 0.0 < c < end]
    bounds = [0.0, *inner, end] if keep_last or not inner else [0.0, *inner]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


def _long_count(cuts: list[float], end: float, keep_last: bool, min_length: float) -> int:
    return sum(1 for a, b in shots_from_cuts(cuts, end, keep_last) if b - a >= min_length - _EPS)


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
    keep_last: bool = True,
    rule: str = "best",
) -> ShotResult:
    """Run the annealing tries and pick one by ``rule`` (see the module docstring)."""
    if rule not in SHOT_RULES:
        raise ValueError(f"shot rule must be one of {SHOT_RULES}, got {rule!r}")
    tries: list[ShotTry] = []
    current = min(threshold, max_threshold)
    while True:
        tries.append(ShotTry(current, detect_cuts(times, scores, current)))
        # The original's stop test looks at the candidates of the last try that found a cut.
        last_with_cuts = next((t for t in reversed(tries) if t.cuts), None)
        enough = last_with_cuts is not None and (
            _long_count(last_with_cuts.cuts, end, keep_last, min_length) >= wanted
        )
        if enough or current >= max_threshold:
            break
        current = min(current * factor, max_threshold)
    thresholds = [t.threshold for t in tries]
    with_cuts = [t for t in tries if t.cuts]
    if not with_cuts:
        return ShotResult([], shots_from_cuts([], end), tries[-1].threshold, thresholds, cut_free=True)
    if rule == "original":
        chosen = with_cuts[-1]
    else:  # the most long shots; max() keeps the first (lowest threshold) of equals
        chosen = max(with_cuts, key=lambda t: _long_count(t.cuts, end, keep_last, min_length))
    shots = shots_from_cuts(chosen.cuts, end, keep_last)
    return ShotResult(chosen.cuts, shots, chosen.threshold, thresholds)
