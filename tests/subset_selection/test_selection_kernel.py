"""The compiled (numba) batch-greedy loop: identical to the numpy loop, guarded, and logged exactly."""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest

import acav.subset_selection as package
from acav.cli import main
from acav.core.layout import DataLayout
from acav.subset_selection import greedy, kernels
from acav.subset_selection.greedy import (
    PairIndex,
    SelectionParams,
    kernel_labels,
    select_partition,
    target_size,
)
from acav.subset_selection.mi import objective_of_subset, xlogx, xlogx_fixed
from acav.subset_selection.pairings import make_pairs
from acav.subset_selection.synthetic import make_assignments, write_cluster_shards

needs_numba = pytest.mark.skipif(not kernels.available(), reason="numba not installed (or ACAV_NUMBA=0)")


@pytest.fixture(scope="module")
def data():
    return make_assignments(4000, ncentroids=16, seed=11)


def _both(labels, ncentroids, pairs, size, **params):
    a = select_partition(labels, ncentroids, pairs, size, SelectionParams(engine="numpy", **params))
    b = select_partition(labels, ncentroids, pairs, size, SelectionParams(engine="numba", **params))
    return a, b


@needs_numba
@pytest.mark.parametrize(
    "n,ncentroids,pairing,ratio,batch,topk,seed",
    [
        (4000, 16, "combination", 0.2, 20, 4, 0),  # the paper's setting
        (4000, 16, "bipartite", 0.3, 20, 4, 1),
        (300, 8, "combination", 0.9, 20, 4, 5),  # pool compaction, redraws and the rng_misc fallback
        (41, 8, "diagonal", 0.9, 20, 4, 2),  # tiny: whole-pool batches
        (500, 8, "combination", 0.5, 100, 30, 3),  # large top-k: the stable-sort branch
        (300, 16, "diagonal", 0.13, 1000, 1, 7),  # batch bigger than the pool
        (3000, 8, "combination", 0.6, 7, 3, 9),  # compaction at N/2; k does not divide the size
    ],
)
def test_numba_loop_selects_exactly_what_the_numpy_loop_selects(
    n, ncentroids, pairing, ratio, batch, topk, seed
):
    d = make_assignments(n, ncentroids=ncentroids, seed=n + seed)
    pairs = make_pairs(d.clusterings, pairing)
    size = target_size(n, ratio, None)
    a, b = _both(d.labels, ncentroids, pairs, size, batch_size=batch, topk=topk, seed=seed, log_points=9)
    assert a.selected.size == size and np.unique(b.selected).size == size
    assert np.array_equal(a.order, b.order)  # same clips, added in the same order
    assert np.array_equal(a.selected, b.selected)
    assert a.objective == b.objective and a.random_objective == b.random_objective
    assert a.steps == b.steps and len(a.steps) >= 2


@needs_numba
@pytest.mark.parametrize(
    "n,seed,wanted", [(41, 1, "NEED_FALLBACK"), (41, 5, "NEED_FALLBACK"), (300, 0, "REFILL")]
)
def test_numba_loop_hands_back_draws_and_matches(monkeypatch, n, seed, wanted):
    # Nearly exhausted pools with B = 20: the kernel hands the fallback draw to rng_misc; and a run
    # that needs a second block of uniforms (the unread tail is kept).
    statuses = []
    run_steps = kernels.kernels()["run_steps"]

    def spy(*args):
        statuses.append(run_steps(*args))
        return statuses[-1]

    monkeypatch.setitem(kernels.kernels(), "run_steps", spy)
    d = make_assignments(n, ncentroids=8, seed=n)
    pairs = make_pairs(d.clusterings, "combination")
    a, b = _both(d.labels, 8, pairs, target_size(n, 0.9, None), seed=seed)
    if wanted == "REFILL":
        assert statuses.count(kernels.NEED_UNIFORMS) >= 2
    else:
        assert kernels.NEED_FALLBACK in statuses
    assert np.array_equal(a.order, b.order) and a.steps == b.steps


@needs_numba
def test_log_rows_are_flushed_when_the_buffer_is_full(monkeypatch, data):
    # A 3-row buffer (12 scores / keep 4): the kernel stops to have it emptied many times.
    statuses = []
    run_steps = kernels.kernels()["run_steps"]

    def spy(*args):
        statuses.append(run_steps(*args))
        return statuses[-1]

    monkeypatch.setattr(greedy, "LOG_BUFFER_CELLS", 12)
    monkeypatch.setitem(kernels.kernels(), "run_steps", spy)
    pairs = make_pairs(data.clusterings, "diagonal")
    a, b = _both(data.labels, 16, pairs, 1500, log_points=10_000, topk=4)
    assert statuses.count(kernels.FLUSH_LOG) >= 100
    assert len(a.steps) == math.ceil(1499 / 4) and a.steps == b.steps


def test_draw_stream_concatenates():
    # The compiled driver asks the draw generator for other block sizes than PoolSampler; this is the
    # property that makes both read the same doubles.
    one, two = np.random.default_rng(3), np.random.default_rng(3)
    parts = np.empty(7 + 48 * 4096 + 5)
    parts[:7] = one.random(7)
    one.random(out=parts[7 : 7 + 48 * 4096])
    parts[7 + 48 * 4096 :] = one.random(5)
    assert np.array_equal(parts, two.random(parts.size))


def test_step_log_values_equal_direct_objectives(data):
    pairs = make_pairs(data.clusterings, "combination")
    result = select_partition(data.labels, 16, pairs, 400, SelectionParams(seed=2, log_points=6))
    assert result.steps[0]["size"] == 1 and len(result.steps) == 6
    for record in result.steps:
        size = record["size"]
        now = objective_of_subset(data.labels, result.order[:size], pairs)
        assert record["objective"] == pytest.approx(now, abs=2e-8)
        # The best clip of the step is the first one added at it; the others follow it.
        keep = min(4, 400 - size)
        added = result.order[size : size + keep]
        gains = [
            objective_of_subset(data.labels, np.append(result.order[:size], c), pairs) - now for c in added
        ]
        assert record["gain_best"] == pytest.approx(gains[0], abs=1e-9)
        assert record["gain_best"] == pytest.approx(max(gains), abs=1e-9)
        assert record["gain_mean"] == pytest.approx(float(np.mean(gains)), abs=1e-9)


def test_xlogx_fixed_is_precise_and_cannot_overflow():
    table, scale = xlogx_fixed(5000, 45)
    assert scale == 2.0**32 and table.dtype == np.int64
    assert np.abs(table / scale - xlogx(np.arange(5001))).max() <= 0.5 / scale
    table, scale = xlogx_fixed(2_000_000, 45)  # 2M selected (10M clips at ratio 0.2)
    assert scale == 2.0**30
    assert 2 * 45 * float(table[-1]) < 2.0**62


def test_kernel_labels_checks_range_and_narrows_dtype():
    labels = np.array([[0, 3], [2, 1]], dtype=np.int64)
    out = kernel_labels(labels, 4)
    assert out.dtype == np.uint8 and np.array_equal(out, labels)
    assert kernel_labels(labels, 300).dtype == np.uint16
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        kernel_labels(labels, 3)
    with pytest.raises(ValueError, match="-1"):
        kernel_labels(np.array([[0, -1]]), 4)
    with pytest.raises(ValueError, match="integer"):
        kernel_labels(np.zeros((2, 2)), 4)


@needs_numba
def test_subset_counts_agree_and_reject_bad_labels(data):
    pairs = make_pairs(data.clusterings, "bipartite")
    index = PairIndex(pairs, 16, data.labels.shape[1])
    subset = np.random.default_rng(0).choice(4000, 700, replace=False)
    fast = index.subset_counts(data.labels, subset, use_numba=True)
    slow = index.subset_counts(data.labels, subset, use_numba=False)
    assert np.array_equal(fast, slow)
    assert index.objective(fast, 700) == pytest.approx(
        objective_of_subset(data.labels, subset, pairs), abs=1e-12
    )
    bad = data.labels.copy()
    bad[subset[5], 0] = 16
    with pytest.raises(ValueError, match=f"clip {subset[5]}"):
        index.subset_counts(bad, subset, use_numba=True)


def test_numpy_loop_when_numba_is_switched_off(monkeypatch, data):
    monkeypatch.setenv("ACAV_NUMBA", "0")
    assert not kernels.available()
    assert not SelectionParams().use_numba()
    with pytest.raises(RuntimeError, match="numba"):
        SelectionParams(engine="numba").use_numba()
    pairs = make_pairs(data.clusterings, "diagonal")
    result = select_partition(data.labels, 16, pairs, 300, SelectionParams(seed=1))
    assert np.unique(result.selected).size == 300


def test_numpy_loop_when_numba_is_missing(monkeypatch, data):
    # Simulate an environment without numba: the guarded import fails and the numpy loop runs.
    monkeypatch.setattr(kernels, "_kernels", None)
    monkeypatch.setattr(kernels, "_failed", False)
    monkeypatch.setitem(sys.modules, "numba", None)
    monkeypatch.delitem(sys.modules, "acav.subset_selection._compiled", raising=False)
    if hasattr(package, "_compiled"):
        monkeypatch.delattr(package, "_compiled")
    assert not kernels.available()
    with pytest.raises(RuntimeError, match="numba"):
        kernels.kernels()
    pairs = make_pairs(data.clusterings, "diagonal")
    auto = select_partition(data.labels, 16, pairs, 300, SelectionParams(seed=1))
    forced = select_partition(data.labels, 16, pairs, 300, SelectionParams(seed=1, engine="numpy"))
    assert np.array_equal(auto.order, forced.order) and auto.steps == forced.steps


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="engine"):
        SelectionParams(engine="fortran").validate()


def test_cli_output_is_the_same_with_either_loop(monkeypatch, tmp_path):
    layout = DataLayout(tmp_path / "data")
    write_cluster_shards(layout, make_assignments(1000, ncentroids=12, seed=8), 250)
    args = ["select", "--data-dir", str(layout.root), "--backend", "numpy", "-q"]
    outputs, logs = [], []
    compiled = kernels.available()
    for switch in ("1", "0"):
        monkeypatch.setenv("ACAV_NUMBA", switch)
        assert main(args) == 0
        outputs.append(layout.output_csv.read_bytes())
        logs.append(json.loads(layout.selection_log.read_text()))
    assert outputs[0] == outputs[1] and outputs[0].count(b"\n") == 200
    assert logs[0]["partitions"][0]["steps"] == logs[1]["partitions"][0]["steps"]
    assert logs[1]["cpu_loop"] == "numpy"
    assert logs[0]["cpu_loop"] == ("numba" if compiled else "numpy")
