"""The Ray engine on a real local Ray instance (one per module: Ray takes seconds to start).

Worker deaths are real: the test finds the worker process running a task by its Ray process title
(``ray::_call`` / ``ray::_Actor``) and SIGKILLs it; the run must still end with every item once."""

from __future__ import annotations

import functools
import threading
import time

import pytest

ray = pytest.importorskip("ray")

from ray_helpers import kill_one_busy_worker, ray_workers  # noqa: E402

from acav.engine import get_engine  # noqa: E402
from acav.engine.ray_engine import RayEngine  # noqa: E402


@pytest.fixture(scope="module")
def engine(ray_instance: None) -> RayEngine:
    return RayEngine(retries=3)


def test_get_engine_joins_the_running_instance(engine: RayEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACAV_ENGINE", "ray")
    chosen = get_engine()
    assert chosen.name == "ray"
    values = {o.item: o.value for o in chosen.map(sum, [(2, 3), (3, 2, 1), (10, 0)], workers=1)}
    assert values == {(2, 3): 5, (3, 2, 1): 6, (10, 0): 10}
    assert chosen.gpus() == 0


def test_task_errors_become_outcomes(engine: RayEngine) -> None:
    outcomes = {o.item: o for o in engine.map(int, ["7", "x"], workers=1)}
    assert outcomes["7"].value == 7 and outcomes["7"].ok
    assert not outcomes["x"].ok and "ValueError" in outcomes["x"].error


def _collect(outcomes, into: list) -> None:
    into.extend(outcomes)


def test_killed_task_worker_is_retried_and_nothing_is_lost_or_doubled(engine: RayEngine) -> None:
    items = [1.0, 1.1, 1.2, 1.3]
    got: list = []
    runner = threading.Thread(target=_collect, args=(engine.map(time.sleep, items, workers=2), got))
    runner.start()
    killed = kill_one_busy_worker("ray::_call")
    runner.join(timeout=300)
    assert not runner.is_alive()
    assert killed not in ray_workers("ray::")
    assert sorted(o.item for o in got) == items  # every item exactly once
    assert all(o.ok for o in got), [o.error for o in got]


def test_killed_actor_restarts_and_its_item_is_retried(engine: RayEngine) -> None:
    items = [1.0, 1.1, 1.2]
    got: list = []
    # each actor builds partial(time.sleep) once, then sleeps each item's seconds
    outcomes = engine.map_actors(functools.partial, (time.sleep,), items, workers=2)
    runner = threading.Thread(target=_collect, args=(outcomes, got))
    runner.start()
    kill_one_busy_worker("ray::_Actor")
    runner.join(timeout=300)
    assert not runner.is_alive()
    assert sorted(o.item for o in got) == items
    assert all(o.ok for o in got), [o.error for o in got]
