"""Where per-item work runs: this machine's pools (``local``, the default) or a Ray cluster (``ray``).

Stage runners hand a worker function and their items to :func:`get_engine` ``().map(...)`` (or
:meth:`Engine.map_actors` when each worker must build something expensive once, e.g. a model on a
GPU) and receive one :class:`Outcome` per item, in completion order. The runner alone writes the
per-item records, so a retried item is recorded once.

The choice comes from the environment, so that ``run.sh`` passes it to every stage at once:

- ``ACAV_ENGINE``: ``local`` (default) or ``ray``;
- ``ACAV_RAY_ADDRESS`` or ``RAY_ADDRESS``: the cluster to join (``auto``, ``ray://host:10001``,
  ``host:6379``); unset: a private local Ray instance is started for the stage and stopped after it;
- ``ACAV_RAY_CPUS`` / ``ACAV_RAY_GPUS``: resources of that private instance (default: all visible);
- ``ACAV_RETRIES``: how often a task whose worker died is run again (Ray only; default 3).

Ray is imported only by :mod:`acav.engine.ray_engine`, and only when chosen.
"""

from __future__ import annotations

import os

from acav.core.config import ConfigError
from acav.engine.base import Engine, Outcome, Resources
from acav.engine.local import LocalEngine

ENGINES = ("local", "ray")
DEFAULT_RETRIES = 3

__all__ = ["ENGINES", "Engine", "LocalEngine", "Outcome", "Resources", "engine_name", "get_engine"]


def engine_name(name: str | None = None) -> str:
    """``name``, else ``$ACAV_ENGINE``, else ``local``; refuses unknown names."""
    chosen = (name or os.environ.get("ACAV_ENGINE") or "local").strip().lower()
    if chosen not in ENGINES:
        raise ConfigError(
            f"unknown engine {chosen!r} (ACAV_ENGINE / --engine): choose one of {', '.join(ENGINES)}"
        )
    return chosen


def _int_env(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a whole number") from None
    if number < 0:
        raise ConfigError(f"{name}={value!r} must be >= 0")
    return number


def get_engine(name: str | None = None) -> Engine:
    """The engine chosen by ``name`` or the environment (see the module docstring)."""
    chosen = engine_name(name)
    if chosen == "local":
        return LocalEngine()
    from acav.engine.ray_engine import RayEngine

    retries = _int_env("ACAV_RETRIES")
    return RayEngine(
        address=os.environ.get("ACAV_RAY_ADDRESS") or os.environ.get("RAY_ADDRESS") or None,
        cpus=_int_env("ACAV_RAY_CPUS"),
        gpus=_int_env("ACAV_RAY_GPUS"),
        retries=DEFAULT_RETRIES if retries is None else retries,
    )
