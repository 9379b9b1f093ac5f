"""Compiled (numba) inner loop of batch greedy: draw -> score -> top k -> update, one partition.

The numpy loop in :mod:`.greedy` spends ~30 us per step on the fixed cost of ~20 numpy calls; the
work itself (B candidates x P pairs of table look-ups) is a few thousand integer operations. The
kernel runs whole stretches of steps in one compiled call and returns to Python only when it needs
something from a numpy random generator, so that it makes exactly the same choices as the numpy loop:

- uniforms come from the same stream as ``PoolSampler``'s (the draw generator's doubles, in order),
  handed in by the caller; the kernel stops (``NEED_UNIFORMS``) before a step that could run out;
- the rare fallback draw (``rng_misc.choice`` when a nearly exhausted pool cannot give B distinct
  clips) is done by the caller (``NEED_FALLBACK``), which fills the batch and resumes the step;
- step-log rows (step, size, fixed-point MI bracket, scores of the clips added) are written to
  arrays; ``FLUSH_LOG`` asks the caller to empty them when full.

Scores are the same fixed-point integers as the numpy path (so ties break identically), with one
exact saving: the row sums of pair ``(i, j)`` are the cluster sizes of clustering ``i`` over the
subset, the same for every pair that contains ``i``, so the ``2P`` margin look-ups collapse to one
look-up per clustering times the number of pairs it is in (an integer multiple; the sum is equal).

numba is optional: :func:`available` says whether the kernels can be used (``ACAV_NUMBA=0`` turns
them off); the numpy loop is the fallback. Compiled code is cached on disk (``cache=True``, numba's
default location: ``__pycache__`` beside the module, or ``NUMBA_CACHE_DIR``), so only the first run
after an install compiles (a few seconds per label dtype).
"""

from __future__ import annotations

import os

from acav.core.logs import get_logger

log = get_logger(__name__)

# Status codes returned by run_steps.
DONE, NEED_UNIFORMS, NEED_FALLBACK, FLUSH_LOG = 0, 1, 2, 3
# Phases kept in the state vector between calls: draw a batch, or score the batch in `cand`.
PHASE_DRAW, PHASE_SCORE = 0, 1
# Slots of the int64 state vector.
S_N, S_STEP, S_POOL_LEN, S_REMAINING, S_UPOS, S_PHASE, S_NB, S_KEEP, S_BRACKET, S_LOGS = range(10)
STATE_SIZE = 10

# Above this keep x candidates, the top-k is a stable sort instead of repeated maximum scans.
SCAN_LIMIT = 256

_kernels: dict | None = None
_failed = False


def available() -> bool:
    """True when numba imports and is not disabled with ``ACAV_NUMBA=0``."""
    if os.environ.get("ACAV_NUMBA", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    return _load() is not None


def kernels() -> dict:
    """The compiled functions (compiled lazily, cached on disk by numba)."""
    loaded = _load()
    if loaded is None:
        raise RuntimeError("numba is not installed; the numpy selection loop is used instead")
    return loaded


def _load() -> dict | None:
    global _kernels, _failed
    if _kernels is not None or _failed:
        return _kernels
    try:
        from acav.subset_selection import _compiled
    except ImportError as exc:  # numba missing, or one that does not fit the installed numpy
        _failed = True
        log.info("numba unavailable (%s): subset selection uses the numpy loop (slower, same result)", exc)
        return None
    _kernels = {
        "run_steps": _compiled.run_steps,
        "joint_counts": _compiled.joint_counts,
    }
    return _kernels
