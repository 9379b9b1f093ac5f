"""CPU thread budget: a stage's ``--threads`` (the cores it may use) split over its workers.

Without a budget every layer sizes itself to the whole machine: torch's intra-op pool, OpenMP,
FFmpeg's frame threads in each decoder and x264's threads in each ffmpeg process all start one
thread per core, in every worker process. With W workers on C cores that is W x C busy threads,
and on a small or shared machine the contention made SlowFast and the audio front end many times
slower. Stages therefore give each worker ``threads_per_worker(budget, workers)`` threads, so the
total stays within the budget.
"""

from __future__ import annotations

import os
import sys

# Read by OpenMP, MKL and OpenBLAS when they start (in this process and its children).
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


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


def threads_per_worker(budget: int, workers: int) -> int:
    """Threads each of ``workers`` parallel workers may use so that all together stay within ``budget``."""
    return max(1, budget // max(1, workers))


def limit_threads(threads: int) -> None:
    """Cap this process's compute threads (torch if loaded, and the OpenMP/BLAS/numba pools it starts)."""
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
