"""Baselines and the stage-6 selector on small pools built here, with values checked."""

from __future__ import annotations

import numpy as np
import pytest

from acav.correspondence_retrieval.methods import MethodSettings, cca_scores, pca_scores, run_method
from acav.correspondence_retrieval.pool import Pool, build_pool, cluster, precision_curve
from acav.correspondence_retrieval.sources import Source
from acav.subset_selection.pairings import Clustering


def _linear_twin_source(
    n_per_class: int = 40, classes: int = 6, seed: int = 0, spread: float = 3.0
) -> Source:
    """View b = a fixed linear map of view a plus a little noise; classes are Gaussian blobs."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), n_per_class)
    centres = rng.normal(0, spread, (classes, 8))
    base = centres[labels] + rng.normal(0, 1, (labels.size, 8))
    mix = rng.normal(0, 1, (8, 8))
    a_layers = [base, base[:, :4] ** 2]
    twin = base @ mix + rng.normal(0, 0.05, base.shape)
    b_layers = [twin, twin[:, :4]]
    return Source("toy", {"a": a_layers, "b": b_layers}, {"a": labels, "b": labels.copy()}, aligned=True,
                  ncentroids=classes, modality={"a": "video", "b": "audio"})  # fmt: skip


def test_pool_shapes_and_positive_rate():
    pool = build_pool(_linear_twin_source(), seed=0)
    assert pool.size == 6 * 20  # half of each class is the test pool
    assert pool.npositive == 3 * 20
    assert [x.shape[1] for x in pool.all_layers()] == [8, 4, 8, 4]
    assert pool.pairs("combination") == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    assert pool.pairs("layer_1") == [(1, 3)]
    with pytest.raises(ValueError, match="layer_0..layer_1"):
        pool.pairs("layer_5")


def test_cca_recovers_a_linear_twin_and_pca_scores_are_finite():
    pool = build_pool(_linear_twin_source(), seed=1)
    scores = cca_scores(pool, dims=8, components=4)
    order = np.argsort(-scores)[: pool.npositive]
    assert pool.positive[order].mean() > 0.85  # chance: 0.5
    for distance in ("ip", "cs", "l1", "l2"):
        assert np.isfinite(pca_scores(pool, distance, "bipartite")).all()


def test_pca_l2_between_identical_views_ranks_positives_first():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3))
    positive = np.zeros(50, dtype=bool)
    positive[:25] = True
    y = x.copy()
    y[25:] = rng.normal(size=(25, 3))  # negatives: unrelated second view
    pool = Pool("t", ["a", "b"], {"a": [x], "b": [y]}, positive, {}, [Clustering("video", "a", "layer_0"),
                Clustering("audio", "b", "layer_0")], 4)  # fmt: skip
    # identical views: the PCA of a and b are fitted separately, but on positives the projections agree
    order = run_method("pca_l2", pool, 0, MethodSettings(pairing="bipartite"))
    assert pool.positive[order].mean() > 0.7


def test_ours_and_greedy_use_stage6_and_beat_random():
    # crisp classes (clusters = classes); 10 classes, 5 deranged: a fifth of the negatives pair a
    # class with itself and look like positives to any cluster-level score (ceiling ~0.83)
    pool = build_pool(_linear_twin_source(80, classes=10, spread=8.0), seed=2)
    cluster(pool, backend="sgd", seed=2)
    assert pool.assignments.shape == (pool.size, 4)
    settings = MethodSettings(batch_size=20, topk=5)
    results = {
        m: precision_curve(run_method(m, pool, 2, settings), pool.positive)[-1]
        for m in ("ours", "greedy", "random", "nmi", "pmi")
    }
    assert results["random"] < 0.6
    assert results["ours"] > 0.68
    assert results["greedy"] > 0.7
    assert results["nmi"] > 0.7
    assert results["pmi"] > 0.7
    best_of_3 = precision_curve(
        run_method("ours", pool, 2, MethodSettings(batch_size=20, topk=5, starts=3)), pool.positive
    )
    assert best_of_3.size == pool.npositive


def test_contrastive_learns_the_twin_map():
    pool = build_pool(_linear_twin_source(60), seed=3)
    order = run_method("contrastive", pool, 3, MethodSettings(contrastive_epochs=200, contrastive_batch=32))
    assert pool.positive[order].mean() > 0.65  # chance: 0.5


@pytest.mark.parametrize("backend", ["sgd", "scipy", "faiss"])
def test_cluster_backends_find_the_blobs(backend):
    if backend == "faiss":
        pytest.importorskip("faiss")
    from sklearn.metrics import adjusted_rand_score

    from acav.correspondence_retrieval.pool import cluster_layer

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 50)
    x = np.eye(4)[labels] * 10 + rng.normal(0, 0.5, (200, 4))
    assert adjusted_rand_score(labels, cluster_layer(x.astype(np.float32), 4, backend, 0)) > 0.95


def test_runner_grid_reuses_grid_independent_results_and_shards(tmp_path, monkeypatch):
    from acav.correspondence_retrieval.config import Experiment
    from acav.correspondence_retrieval.runner import Outputs, Runner

    experiment = Experiment(
        "t", "toy", ["toy"], ["ours", "greedy"], seeds=1,
        grid=[{"batch_size": 20, "topk": 5}, {"batch_size": 40, "topk": 5}, {"shards": 4, "shard_clustering": "shared"}],
    )  # fmt: skip
    runner = Runner(experiment, Outputs(tmp_path), {})
    monkeypatch.setattr(runner, "source", lambda name: _linear_twin_source(80, classes=10, spread=8.0))
    rows = runner.run()
    assert len(rows) == 6
    greedy = [r for r in rows if r["method"] == "greedy"]
    assert len({r["precision"] for r in greedy}) == 1  # computed once, reused for every grid entry
    labels = [r["settings"] for r in rows if r["method"] == "ours"]
    assert labels == ["batch_size=20,topk=5", "batch_size=40,topk=5", "shards=4"]
    sharded = next(r for r in rows if r["settings"].startswith("shards"))
    assert sharded["precision"] > sharded["chance"] + 0.05  # 100-clip shards: the small-pool regime


def test_a_failing_method_is_recorded_and_the_grid_goes_on(tmp_path, monkeypatch):
    import json

    from acav.correspondence_retrieval import runner as runner_module
    from acav.correspondence_retrieval.config import Experiment
    from acav.correspondence_retrieval.runner import Outputs, Runner

    experiment = Experiment("t", "toy", ["toy"], ["cca", "random"], seeds=2)
    runner = Runner(experiment, Outputs(tmp_path), {})
    monkeypatch.setattr(runner, "source", lambda name: _linear_twin_source())
    real = runner_module.run_method

    def flaky(name, pool, seed, settings):
        if name == "cca" and seed == 1:
            raise np.linalg.LinAlgError("SVD did not converge")
        return real(name, pool, seed, settings)

    monkeypatch.setattr(runner_module, "run_method", flaky)
    rows = runner.run()
    assert sorted((r["method"], r["seed"]) for r in rows) == [("cca", 0), ("random", 0), ("random", 1)]
    failures = [json.loads(line) for line in (tmp_path / "t" / "failures.jsonl").read_text().splitlines()]
    assert failures == [{**failures[0], "dataset": "toy", "method": "cca", "settings": "default", "seed": 1,
                         "error": "LinAlgError: SVD did not converge"}]  # fmt: skip
