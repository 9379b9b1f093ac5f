"""CPU thread budget: a stage's ``--threads`` (the cores it may use) split over its workers.

Without a budget every layer sizes itself to the whole machine: torch's intra-op pool, OpenMP,
OpenBLAS, FFmpeg's frame threads in each decoder and x264's threads in each ffmpeg process all
start one thread per core, in every worker process. With W workers on C cores that is W x C busy
threads, and on a small or shared machine the contention made SlowFast and the audio front end
many times slower. :func:`plan_threads` is the one rule every stage uses to split its budget, and
:func:`limit_threads` applies a share inside a process (each worker calls it for itself).
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# Read by OpenMP, MKL, OpenBLAS and numba when they start (in this process and its children).
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, e.g. under taskset or a container)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def thread_budget(requested: int = 0) -> int:
    """``--threads`` as given, or every available core when it is 0."""
    if requested < 0:
        raise ValueError(f"--threads must be >= 0 (0: every available core), got {requested}")
    return requested or available_cores()


@dataclass(frozen=True)
class ThreadPlan:
    """How a budget of ``budget`` threads is shared: ``workers`` parallel workers (processes or
    ffmpeg jobs) of ``per_worker`` threads each, and ``main`` threads for the process driving them."""

    budget: int
    workers: int
    per_worker: int
    main: int
    main_computes: bool  # the driving process computes while its workers run (stage 4's models)

    @property
    def total(self) -> int:
        """Busy threads at most: the workers', plus the main process's when it computes."""
        return self.workers * self.per_worker + (self.main if self.main_computes else 0)


def plan_threads(budget: int, workers: int, main_computes: bool = False, warn: bool = True) -> ThreadPlan:
    """The thread rule of every stage: ``budget`` threads (see :func:`thread_budget`) shared by
    ``workers`` parallel workers and, when ``main_computes``, the process that drives them.

    * Workers only (stage 3's videos, ``acav rebuild``'s cuts): each gets ``budget // workers``.
    * Main computing too (stage 4 on a CPU: decoding workers + the models): the main process
      counts as one more worker and also gets what the division leaves.
    * No workers: the main process gets the whole budget.
    * A main process that only waits (it collects results) keeps 1 thread, not counted.

    Every share is at least 1, so more workers than ``budget`` exceed it (a warning says so,
    unless ``warn`` is false: an automatic worker count the caller chose knowingly).
    """
    budget, workers = max(1, budget), max(0, workers)
    if workers == 0:
        plan = ThreadPlan(budget, 0, 0, budget, True)
    elif main_computes:
        per_worker = max(1, budget // (workers + 1))
        plan = ThreadPlan(budget, workers, per_worker, max(1, budget - workers * per_worker), True)
    else:
        plan = ThreadPlan(budget, workers, max(1, budget // workers), 1, False)
    if warn and plan.total > budget:
        log.warning(
            "%d worker(s)%s need %d threads at least, above the budget of %d (--threads): "
            "lower --workers or raise --threads",
            workers,
            " and the main process" if main_computes else "",
            plan.total,
            budget,
        )
    return plan


def decoding_workers(budget: int, main_computes: bool) -> int:
    """Auto ``--workers`` of a DataLoader that decodes for models (stage 4, ``acav evaluate``): half
    the budget when the models share it on the CPU, all of it when they run on a GPU; at most 8."""
    return max(1, min(8, budget // 2 if main_computes else budget))


def limit_threads(threads: int, openmp: int | None = None) -> None:
    """Cap this process's compute threads at ``threads``: torch (if loaded), the OpenMP and BLAS
    pools already loaded (threadpoolctl), and the environment read by those that start later
    here or in child processes. ``openmp``: a different cap for torch and OpenMP (see
    :func:`worker_threads`)."""
    openmp = threads if openmp is None else openmp
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(openmp if name == "OMP_NUM_THREADS" else threads)
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != openmp:
        torch.set_num_threads(openmp)
    from threadpoolctl import ThreadpoolController

    # The limits stay in force (not used as context managers). OpenMP last, and a BLAS built on
    # OpenMP (faiss's OpenBLAS) counts as OpenMP: setting its threads sets its OpenMP pool's.
    pools = ThreadpoolController()
    pools.limit(limits=threads, user_api="blas")
    pools.limit(limits=openmp, user_api="openmp")
    pools.select(threading_layer="openmp").limit(limits=openmp)


def worker_threads(_worker_id: int, threads: int) -> None:
    """DataLoader ``worker_init_fn`` (bind ``threads`` with ``functools.partial``): cap the worker
    at its share, ``ThreadPlan.per_worker``, for BLAS (and, by the caller, its decoder).

    torch and OpenMP stay at 1 thread, as torch sets them in every DataLoader worker: the workers
    are forked, and GNU OpenMP deadlocks when a child forked after its parent ran a parallel
    region starts a team of threads (seen here: a pretraining worker hung in
    ``gomp_team_barrier_wait_end`` with 2 threads)."""
    limit_threads(threads, openmp=1)


def thread_settings() -> dict[str, Any]:
    """The compute thread counts in force in this process (for run logs and tests): torch's
    intra-op threads (when loaded), each loaded OpenMP/BLAS pool's, and the environment caps."""
    from threadpoolctl import threadpool_info

    torch = sys.modules.get("torch")
    pools: dict[str, int] = {}
    for pool in threadpool_info():  # e.g. numpy's and scipy's OpenBLAS share a name: the larger
        name = f"{pool['internal_api']}:{pool['prefix']}"
        pools[name] = max(pools.get(name, 0), pool["num_threads"])
    return {
        "torch": torch.get_num_threads() if torch is not None else None,
        "pools": pools,
        "env": {name: os.environ.get(name) for name in THREAD_ENV_VARS},
    }
