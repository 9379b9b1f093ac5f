"""The local engine (today's pools) and the engine choice; no Ray needed."""

from __future__ import annotations

import functools
import math
import os

import pytest

from acav.core.config import ConfigError
from acav.engine import LocalEngine, engine_name, get_engine


def _values(outcomes) -> dict:
    return {o.item: o.value for o in outcomes}


def test_choice_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACAV_ENGINE", raising=False)
    assert engine_name() == "local"
    assert isinstance(get_engine(), LocalEngine)
    monkeypatch.setenv("ACAV_ENGINE", " Ray ")
    assert engine_name() == "ray"
    assert engine_name("local") == "local"  # an explicit name wins
    monkeypatch.setenv("ACAV_ENGINE", "spark")
    with pytest.raises(ConfigError, match="spark.*local, ray"):
        get_engine()
    monkeypatch.setenv("ACAV_ENGINE", "ray")
    monkeypatch.setenv("ACAV_RAY_CPUS", "two")
    with pytest.raises(ConfigError, match="ACAV_RAY_CPUS"):
        get_engine()


@pytest.mark.parametrize(("workers", "threads"), [(1, False), (2, True), (2, False)])
def test_map_returns_every_item_once(workers: int, threads: bool) -> None:
    items = [5, 0, 7, 3]
    outcomes = list(LocalEngine().map(math.factorial, items, workers=workers, threads=threads))
    assert sorted(o.item for o in outcomes) == sorted(items)
    assert _values(outcomes) == {5: 120, 0: 1, 7: 5040, 3: 6}
    assert all(o.ok for o in outcomes)


def test_inline_worker_exceptions_propagate() -> None:
    with pytest.raises(ValueError):
        list(LocalEngine().map(math.factorial, [-1], workers=1))


def test_a_dead_worker_process_ends_its_items_as_errors_not_the_run() -> None:
    # os._exit kills the pool's worker process outright, as the OOM killer would.
    outcomes = list(LocalEngine().map(os._exit, [3, 4], workers=2))
    assert sorted(o.item for o in outcomes) == [3, 4]
    assert all(not o.ok and "worker died" in o.error for o in outcomes)


@pytest.mark.parametrize("workers", [1, 2])
def test_actors_build_once_and_serve_items(workers: int) -> None:
    # the factory's product (here a partial of pow) serves every item of its worker
    outcomes = list(LocalEngine().map_actors(functools.partial, (pow, 2), [1, 5, 10], workers=workers))
    assert _values(outcomes) == {1: 2, 5: 32, 10: 1024}
