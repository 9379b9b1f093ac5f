"""Split, derangement and whitening, checked against the rules written out independently here."""

from __future__ import annotations

import math

import numpy as np

from acav.correspondence_retrieval.derangement import (
    derange_classes,
    derange_samples,
    split_per_class,
    whiten,
)
from acav.correspondence_retrieval.pool import precision_curve


def _labels(per_class: int, classes: int = 10) -> np.ndarray:
    return np.repeat(np.arange(classes), per_class)


def test_split_is_half_per_class_and_aligned_for_twins():
    labels = _labels(7)
    split = split_per_class({"a": labels, "b": labels.copy()}, aligned=True, rng=np.random.default_rng(0))
    for c in range(10):
        train = split.train["a"][labels[split.train["a"]] == c]
        assert train.size == round(7 * 0.5)  # round(3.5) = 4 (banker's rounding as Python's round)
    np.testing.assert_array_equal(split.train["a"], split.train["b"])
    np.testing.assert_array_equal(split.test["a"], split.test["b"])
    assert not set(split.train["a"]) & set(split.test["a"])
    assert len(split.train["a"]) + len(split.test["a"]) == labels.size


def test_class_derangement_matches_half_the_classes_and_keeps_them_aligned():
    labels = _labels(20)
    cand = np.arange(labels.size)
    out = derange_classes(
        {"a": labels, "b": labels.copy()}, {"a": cand, "b": cand}, True, np.random.default_rng(3), 0.5, 15
    )
    n = out.positive.size
    assert n == 10 * 15
    assert out.positive.sum() == 5 * 15  # 10 - floor(0.5 * 10) matched classes, 15 samples each
    a, b = out.index["a"], out.index["b"]
    np.testing.assert_array_equal(a[out.positive], b[out.positive])  # twins stay aligned
    assert set(labels[a[out.positive]]) == set(out.matched_classes)
    assert not set(labels[a[~out.positive]]) & set(out.matched_classes)
    for view in (a, b):  # every sample used at most once per view
        assert np.unique(view).size == view.size
    # positives are scattered: not all at the front
    assert out.positive[: n // 2].sum() < out.positive.sum()


def test_class_derangement_with_uneven_class_sizes_cuts_to_the_smallest_view():
    la = _labels(6)
    lb = np.repeat(np.arange(10), 4)
    out = derange_classes(
        {"a": la, "b": lb},
        {"a": np.arange(la.size), "b": np.arange(lb.size)},
        False,
        np.random.default_rng(0),
    )
    assert out.positive.size == 40
    assert out.positive.sum() == 20
    pos = out.positive
    np.testing.assert_array_equal(la[out.index["a"][pos]], lb[out.index["b"][pos]])  # same class


def test_sample_derangement_keeps_floor_half_aligned():
    cand = np.arange(101)
    out = derange_samples(cand, ["v", "a"], np.random.default_rng(1), 0.5)
    assert out.positive.sum() == math.floor(0.5 * 101)  # the original's floor(size * ratio)
    np.testing.assert_array_equal(out.index["v"][out.positive], out.index["a"][out.positive])
    wrong = out.index["v"][~out.positive] != out.index["a"][~out.positive]
    assert wrong.mean() > 0.8  # independently permuted (a few fixed points by chance)


def test_whiten_divides_by_std_and_leaves_constant_dims():
    x = np.array([[1.0, 5.0, 2.0], [3.0, 5.0, 6.0], [5.0, 5.0, 10.0]])
    w = whiten(x)
    np.testing.assert_allclose(w.std(0), [1.0, 0.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(w[:, 1], 5.0)


def test_precision_curve_is_prefix_precision():
    positive = np.array([True, False, True, True, False])
    curve = precision_curve(np.array([0, 1, 2, 4]), positive)
    np.testing.assert_allclose(curve, [1.0, 0.5, 2 / 3])  # size = 3 positives
