"""``--backend faiss``: train the centres with faiss's k-means on the reservoir sample.

faiss k-means needs its training set in memory, so it trains on the reservoir sample drawn in the
first pass (faiss itself subsamples to ``max_points_per_centroid * k`` = 256 k points by default,
so a sample of that size loses nothing). Assignment then streams over the shards exactly as for the
torch backend. faiss is optional (``pip install faiss-cpu``).

Threads: faiss uses OpenMP; on small shared machines more than one thread can be dramatically
slower (~25x with 2 threads on the 2-core development machines), so the default is 1.
"""

from __future__ import annotations

import numpy as np

from acav.core.logs import get_logger

log = get_logger(__name__)


class FaissUnavailableError(RuntimeError):
    pass


def import_faiss(threads: int = 1):  # noqa: ANN201 - faiss has no type stubs
    try:
        import faiss
    except ImportError as exc:
        raise FaissUnavailableError(
            "--backend faiss needs the faiss-cpu package: .venv/bin/pip install faiss-cpu "
            "(or use the default --backend torch)"
        ) from exc
    if threads > 0:
        faiss.omp_set_num_threads(threads)
    return faiss


def train_faiss(
    sample: np.ndarray,
    ncentroids: int,
    iterations: int = 20,
    seed: int = 0,
    threads: int = 1,
    init: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """Centres ``(k, d)`` float32 and the final training objective (sum of squared distances).

    ``init`` (e.g. k-means++ seeds) replaces faiss's random initial centres, which can leave two
    centres in one blob and none in another on small, well-separated data.
    """
    faiss = import_faiss(threads)
    data = np.ascontiguousarray(sample, dtype=np.float32)
    n, dims = data.shape
    if n < ncentroids:
        raise ValueError(f"faiss k-means needs at least {ncentroids} points, got {n}")
    kmeans = faiss.Kmeans(
        dims,
        ncentroids,
        niter=iterations,
        seed=seed,
        verbose=False,
        # use every sampled point (the sample size already bounds memory)
        max_points_per_centroid=max(256, -(-n // ncentroids)),
    )
    if init is not None:
        kmeans.train(data, init_centroids=np.ascontiguousarray(init, dtype=np.float32))
    else:
        kmeans.train(data)
    objective = float(kmeans.obj[-1]) if len(kmeans.obj) else float("nan")
    return np.asarray(kmeans.centroids, dtype=np.float32).copy(), objective
