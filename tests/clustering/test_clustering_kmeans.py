"""Values of the torch mini-batch k-means: recovery, inertia against references, re-seeding, schedules."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans as SkKMeans
from sklearn.metrics import adjusted_rand_score

from acav.clustering import kmeans as km
from acav.clustering.kmeans import MiniBatchKMeans, kmeans_plus_plus, lloyd, nearest, squared_distances
from acav.core.device import choose_device


def blobs(n: int, dims: int, n_clusters: int, seed: int, spread: float = 10.0, noise: float = 1.0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_clusters, dims)) * spread
    labels = rng.integers(n_clusters, size=n)
    x = centers[labels] + rng.normal(size=(n, dims)) * noise
    return x.astype(np.float32), labels


def fit(x: np.ndarray, k: int, epochs: int = 2, batch: int = 256, seed: int = 0, **kwargs) -> MiniBatchKMeans:
    model = MiniBatchKMeans(k, x.shape[1], seed=seed, **kwargs)
    rng = np.random.default_rng(seed)
    sample = x[rng.choice(len(x), min(len(x), 64 * k), replace=False)]
    model.initialize(torch.from_numpy(sample), lloyd_iters=10)
    xt = torch.from_numpy(x)
    for epoch in range(epochs):
        model.start_epoch(epoch)
        order = torch.from_numpy(rng.permutation(len(x)))
        for start in range(0, len(x), batch):
            model.partial_fit(xt[order[start : start + batch]], allow_reseed=epoch < epochs - 1)
    return model


def inertia(x: np.ndarray, centers: np.ndarray) -> float:
    d = ((x[:, None, :].astype(np.float64) - centers[None].astype(np.float64)) ** 2).sum(-1)
    return float(d.min(1).sum())


def test_squared_distances_and_nearest_match_brute_force(monkeypatch):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 7)).astype(np.float32)
    c = rng.normal(size=(5, 7)).astype(np.float32)
    brute = ((x[:, None] - c[None]) ** 2).sum(-1)
    np.testing.assert_allclose(
        squared_distances(torch.from_numpy(x), torch.from_numpy(c)).numpy(), brute, rtol=1e-4, atol=1e-4
    )
    monkeypatch.setattr(km, "_ASSIGN_CHUNK", 64)  # exercise the chunked path
    labels, dist = nearest(torch.from_numpy(x), torch.from_numpy(c))
    np.testing.assert_array_equal(labels.numpy(), brute.argmin(1))
    np.testing.assert_allclose(dist.numpy(), brute.min(1), rtol=1e-4, atol=1e-4)


def test_recovers_well_separated_blobs():
    x, labels = blobs(3000, 16, 6, seed=2)
    model = fit(x, 6)
    predicted = model.assign(torch.from_numpy(x))[0].numpy()
    assert adjusted_rand_score(labels, predicted) > 0.99


def test_inertia_close_to_sklearn_on_overlapping_mixture():
    x, _ = blobs(6000, 24, 40, seed=3, spread=1.0)  # overlapping clusters: a real optimisation problem
    ours = inertia(x, model_centers(fit(x, 16, epochs=3)))
    reference = SkKMeans(16, n_init=3, random_state=0).fit(x).inertia_
    assert ours / reference < 1.03


def test_inertia_close_to_faiss():
    faiss = pytest.importorskip("faiss")
    faiss.omp_set_num_threads(1)
    x, _ = blobs(8000, 32, 50, seed=4, spread=1.0)
    ref = faiss.Kmeans(32, 16, niter=25, seed=1, max_points_per_centroid=1000)
    ref.train(x)
    ratio = inertia(x, model_centers(fit(x, 16, epochs=3))) / inertia(x, ref.centroids)
    assert ratio < 1.03


def model_centers(model: MiniBatchKMeans) -> np.ndarray:
    return model.centers.cpu().numpy()


def test_count_schedule_is_the_running_mean():
    # With one centre and learning rate 1/count, the centre is exactly the mean of all points seen.
    x, _ = blobs(1000, 5, 3, seed=5)
    model = MiniBatchKMeans(1, 5, count_decay=1.0, reseed_fraction=0.0)
    model.set_centers(torch.zeros(1, 5))
    model.start_epoch(0)
    for start in range(0, 1000, 128):
        model.partial_fit(torch.from_numpy(x[start : start + 128]))
    np.testing.assert_allclose(model_centers(model)[0], x.mean(0), rtol=1e-4, atol=1e-4)
    assert float(model.counts[0]) == 1000


def test_count_decay_scales_counts_at_epoch_start():
    model = MiniBatchKMeans(2, 3, count_decay=0.25)
    model.counts[:] = torch.tensor([40.0, 8.0], dtype=torch.float64)
    model.start_epoch(1)
    assert model.counts.tolist() == [10.0, 2.0]


def test_constant_schedule_with_release_fallback():
    x = np.ones((1000, 4), dtype=np.float32) * 2.0
    model = MiniBatchKMeans(1, 4, schedule="constant", learning_rate=0.01, reseed_fraction=0.0)
    model.set_centers(torch.zeros(1, 4))
    model.start_epoch(0)
    model.partial_fit(torch.from_numpy(x))
    # 1000 points * 0.01 >= 1, so the release's fallback lr = 0.5 / 1000 applies: c = 0.5 c + 0.5 mean
    np.testing.assert_allclose(model_centers(model)[0], np.full(4, 1.0), rtol=1e-5)
    assert model.stats.lr_fallbacks == 1
    small = MiniBatchKMeans(1, 4, schedule="constant", learning_rate=0.01, reseed_fraction=0.0)
    small.set_centers(torch.zeros(1, 4))
    small.start_epoch(5)  # epoch 5: lr = 0.01 * 0.1 = 0.001; 10 points -> c = 0 * (1 - 0.01) + 0.001 * 20
    small.partial_fit(torch.from_numpy(x[:10]))
    np.testing.assert_allclose(model_centers(small)[0], np.full(4, 0.02), rtol=1e-5)


def test_reseeding_revives_dead_centres():
    x, labels = blobs(4000, 8, 4, seed=6)
    centers = np.stack([x[labels == 0][0], x[labels == 1][0], np.full(8, 1e4), np.full(8, -1e4)]).astype(
        np.float32
    )

    def run(fraction: float) -> MiniBatchKMeans:
        model = MiniBatchKMeans(4, 8, reseed_fraction=fraction, reseed_every=2, seed=0)
        model.set_centers(torch.from_numpy(centers))
        for epoch in range(3):
            model.start_epoch(epoch)
            for start in range(0, 4000, 200):
                model.partial_fit(torch.from_numpy(x[start : start + 200]), allow_reseed=epoch < 2)
        return model

    without = run(0.0)
    assert without.stats.reseeded == 0
    assert torch.count_nonzero(without.counts).item() == 2  # the two far-away centres never get a point
    revived = run(0.05)
    assert revived.stats.reseeded >= 2
    predicted = revived.assign(torch.from_numpy(x))[0].numpy()
    assert len(np.unique(predicted)) == 4
    assert adjusted_rand_score(labels, predicted) > 0.95


def test_kmeans_plus_plus_and_lloyd():
    x, labels = blobs(800, 6, 5, seed=7)
    xt = torch.from_numpy(x)
    gen = torch.Generator().manual_seed(0)
    seeds = kmeans_plus_plus(xt, 5, gen)
    assert len({tuple(row) for row in seeds.numpy().round(5)}) == 5
    refined = lloyd(xt, seeds, 20)
    assert inertia(x, refined.numpy()) <= inertia(x, seeds.numpy())
    assert adjusted_rand_score(labels, nearest(xt, refined)[0].numpy()) > 0.99
    with pytest.raises(ValueError, match="at least 5 points"):
        kmeans_plus_plus(xt[:3], 5, gen)


def test_same_seed_same_centres_other_seed_differs():
    x, _ = blobs(2000, 10, 30, seed=8, spread=1.0)
    a, b, c = fit(x, 8, seed=3), fit(x, 8, seed=3), fit(x, 8, seed=4)
    np.testing.assert_array_equal(model_centers(a), model_centers(b))
    assert not np.array_equal(model_centers(a), model_centers(c))


def test_checkpoint_state_round_trip():
    x, _ = blobs(600, 4, 3, seed=9)
    model = fit(x, 3, epochs=1)
    clone = MiniBatchKMeans(3, 4)
    clone.load_state(model.state())
    np.testing.assert_array_equal(model_centers(clone), model_centers(model))
    np.testing.assert_array_equal(clone.counts.numpy(), model.counts.numpy())
    # the generator state travels too, so the next random draws agree
    assert torch.equal(
        torch.randint(1000, (5,), generator=clone.generator),
        torch.randint(1000, (5,), generator=model.generator),
    )


def test_checkpoint_from_another_device_type_still_restores_centres(tmp_path):
    # A CUDA generator state (16 bytes) cannot seed a CPU generator: centres and counts still load,
    # and the checkpoint is not half applied (counts kept while the centres are re-initialised).
    from acav.clustering.train import _load_checkpoint, _save_checkpoint

    x, _ = blobs(600, 4, 3, seed=9)
    model = fit(x, 3, epochs=1)
    state = model.state()
    state["generator"] = np.arange(16, dtype=np.uint8)
    clone = MiniBatchKMeans(3, 4)
    clone.load_state(state)
    np.testing.assert_array_equal(model_centers(clone), model_centers(model))
    np.testing.assert_array_equal(clone.counts.numpy(), model.counts.numpy())

    path = tmp_path / "ckpt.npz"
    _save_checkpoint(path, "fp", 0, [model, fit(x, 3, epochs=1)])
    wrong = [MiniBatchKMeans(3, 4), MiniBatchKMeans(3, 5)]  # the second does not match its state
    assert _load_checkpoint(path, "fp", wrong) == 0
    assert not wrong[0].counts.any()  # untouched


def test_cpu_device_path(monkeypatch):
    assert choose_device("cpu").type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    device = choose_device("auto")
    assert device.type == "cpu"
    x, labels = blobs(500, 4, 3, seed=10)
    model = MiniBatchKMeans(3, 4, device=device)
    model.initialize(torch.from_numpy(x))
    assert model.centers.device.type == "cpu"
    assert adjusted_rand_score(labels, model.assign(torch.from_numpy(x))[0].numpy()) > 0.99


@pytest.mark.gpu
def test_gpu_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    x, labels = blobs(5000, 32, 8, seed=11)
    cpu = fit(x, 8)
    gpu = MiniBatchKMeans(8, 32, device="cuda")
    gpu.set_centers(cpu.centers)
    assert torch.equal(gpu.assign(torch.from_numpy(x))[0].cpu(), cpu.assign(torch.from_numpy(x))[0])
    model = MiniBatchKMeans(8, 32, device="cuda", seed=0)
    model.initialize(torch.from_numpy(x[:512]))
    model.start_epoch(0)
    model.partial_fit(torch.from_numpy(x))
    assert adjusted_rand_score(labels, model.assign(torch.from_numpy(x))[0].cpu().numpy()) > 0.99
