"""The per-video plan: balanced classes, the exact matching fraction, random mismatches, shots."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from acav.demo.plan import DemoConfig, make_plan


def test_classes_are_balanced_and_the_matching_fraction_is_exact():
    plans = make_plan(DemoConfig(num_videos=40, num_classes=4, match_fraction=0.5, seed=3))
    assert Counter(p.visual_class for p in plans) == {0: 10, 1: 10, 2: 10, 3: 10}
    assert sum(p.matching for p in plans) == 20
    for p in plans:
        assert p.matching == (p.audio_class == p.visual_class)
    assert len({p.youtube_id for p in plans}) == 40
    assert all(not p.youtube_id.startswith("-") for p in plans)


@pytest.mark.parametrize("fraction, expected", [(0.0, 0), (1.0, 24), (0.25, 6), (0.3, 7)])
def test_match_fraction_extremes(fraction, expected):
    plans = make_plan(DemoConfig(num_videos=24, match_fraction=fraction))
    assert sum(p.matching for p in plans) == expected


def test_mismatched_videos_pair_classes_at_random():
    # With many videos, every off-diagonal (visual, audio) pair occurs: no fixed mapping.
    plans = make_plan(DemoConfig(num_videos=400, num_classes=4, match_fraction=0.5, seed=1))
    pairs = Counter((p.visual_class, p.audio_class) for p in plans if not p.matching)
    assert set(pairs) == {(v, a) for v in range(4) for a in range(4) if v != a}
    # Roughly uniform: each of the 12 pairs expects 200 / 12 = 16.7.
    assert min(pairs.values()) >= 6 and max(pairs.values()) <= 30


def test_shots_and_durations():
    config = DemoConfig(num_videos=60, min_duration=30, max_duration=120, seed=5)
    plans = make_plan(config)
    durations = [p.duration for p in plans]
    assert min(durations) >= 30 and max(durations) <= 120 and len(set(durations)) > 20
    for p in plans:
        ranges = p.shot_ranges()
        assert 3 <= len(ranges) <= 6
        lengths = np.array([end - start for start, end in ranges]) / config.fps
        assert ranges[0][0] == 0 and ranges[-1][1] == p.duration * config.fps
        assert lengths.min() >= 4.9  # no flash shots
        assert lengths.max() >= 10.0  # a 10-s clip fits in at least one shot
    assert sum(len(p.shot_ranges()) for p in plans if p.duration >= 66) > 4 * sum(
        1 for p in plans if p.duration >= 66
    )


def test_plan_is_deterministic_and_independent_of_later_videos():
    a = make_plan(DemoConfig(num_videos=10, seed=11))
    b = make_plan(DemoConfig(num_videos=10, seed=11))
    assert a == b
    assert make_plan(DemoConfig(num_videos=10, seed=12)) != a


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"num_classes": 7}, "--num-classes"),
        ({"num_classes": 1}, "--num-classes"),
        ({"match_fraction": 1.5}, "--match-fraction"),
        ({"min_duration": 20}, "--min-duration"),
        ({"max_duration": 700}, "--max-duration"),
        ({"width": 161}, "--width"),
        ({"num_videos": 0}, "--num-videos"),
    ],
)
def test_invalid_options_are_named(kwargs, words):
    with pytest.raises(ValueError, match=words):
        DemoConfig(**kwargs).validate()


def test_matching_videos_are_spread_over_the_visual_classes():
    plans = make_plan(DemoConfig(num_videos=60, num_classes=4, match_fraction=0.5, seed=9))
    per_class = Counter(p.visual_class for p in plans if p.matching)
    assert sum(per_class.values()) == 30
    assert all(abs(count - 7.5) <= 1 for count in per_class.values()), per_class
