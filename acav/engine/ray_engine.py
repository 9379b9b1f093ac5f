"""The Ray engine: items become Ray tasks (or calls on long-lived Ray actors) on a cluster.

A task whose worker process dies (killed, out of memory, node lost) is run again by Ray up to
``retries`` times; an actor that dies is restarted (rebuilding its model) and its call retried. The
driver collects results and writes every record itself, so a retried item is recorded once, and
workers write each output file under its final name only when complete (temp name, then rename):
a killed attempt leaves nothing that a retry or a resume would take for finished work.

This module is the only place that imports :mod:`ray`.
"""

from __future__ import annotations

import atexit
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from acav.core.config import ConfigError
from acav.engine.base import ONE_CPU, Engine, Outcome, Resources

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)

# A private instance keeps its object store small: items and results here are paths and records.
LOCAL_OBJECT_STORE_BYTES = 256 * 1024 * 1024


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "the ray engine needs Ray: pip install 'ray[data]>=2.9' (or pip install 'acav[ray]'), "
            "or choose the local engine (ACAV_ENGINE=local)"
        ) from None
    return ray


def _call(fn: Callable[[Any], Any], item: Any) -> Any:
    return fn(item)


class _Actor:
    """Builds ``factory(*args)`` once (its model stays loaded), then serves one item per call."""

    def __init__(self, factory: Callable[..., Callable[[Any], Any]], args: tuple[Any, ...]) -> None:
        self.worker = factory(*args)

    def run(self, item: Any) -> Any:
        return self.worker(item)


def _error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}"


class RayEngine(Engine):
    name = "ray"

    def __init__(
        self, address: str | None = None, cpus: int | None = None, gpus: int | None = None, retries: int = 3
    ) -> None:
        self.address = address
        self.num_cpus = cpus
        self.num_gpus = gpus
        self.retries = retries

    def describe(self) -> str:
        where = self.address or f"a local instance ({self.num_cpus or 'all'} CPU(s))"
        return f"ray on {where}"

    # -- cluster -----------------------------------------------------------------------------
    def start(self) -> Any:
        """Join ``address`` or start a private local instance (once); returns the ray module."""
        ray = _import_ray()
        if ray.is_initialized():
            return ray
        if self.address:
            log.info("joining the Ray cluster at %s", self.address)
            ray.init(address=self.address, log_to_driver=True)
        else:
            # address="local": never join some other user's cluster found on this machine.
            ray.init(
                address="local",
                num_cpus=self.num_cpus,
                num_gpus=self.num_gpus,
                include_dashboard=False,
                object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                log_to_driver=True,
            )
            atexit.register(ray.shutdown)  # one private instance per process, shared by its stages
            log.info("started a local Ray instance: %s", ray.cluster_resources())
        return ray

    def gpus(self) -> int:
        return int(self.start().cluster_resources().get("GPU", 0))

    def _slots(self, ray: Any, resources: Resources, workers: int) -> int:
        total = ray.cluster_resources()
        fits = [int(total.get("CPU", 1) // resources.cpus)] if resources.cpus else []
        if resources.gpus:
            fits.append(int(total.get("GPU", 0) // resources.gpus))
        return max(1, workers, min(fits) if fits else workers)

    # -- work --------------------------------------------------------------------------------
    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        *,
        workers: int,
        resources: Resources = ONE_CPU,
        threads: bool = False,
    ) -> Iterator[Outcome[T, R]]:
        ray = self.start()
        task = ray.remote(_call).options(
            num_cpus=resources.cpus, num_gpus=resources.gpus, max_retries=self.retries, retry_exceptions=False
        )
        window = 2 * self._slots(ray, resources, workers)  # bounded look-ahead, whatever the item count
        queue = iter(items)
        pending: dict[Any, Any] = {}
        fn_ref = ray.put(fn)
        while True:
            for item in queue:
                pending[task.remote(fn_ref, item)] = item
                if len(pending) >= window:
                    break
            if not pending:
                return
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            item = pending.pop(ref)
            try:
                yield Outcome(item, ray.get(ref))
            except ray.exceptions.RayError as exc:  # raised in the task, or its worker died for good
                yield Outcome(item, None, _error(exc))

    def map_actors(
        self,
        factory: Callable[..., Callable[[T], R]],
        args: tuple[Any, ...],
        items: Iterable[T],
        *,
        workers: int,
        resources: Resources = ONE_CPU,
    ) -> Iterator[Outcome[T, R]]:
        ray = self.start()
        actor_class = ray.remote(_Actor).options(
            num_cpus=resources.cpus,
            num_gpus=resources.gpus,
            max_restarts=self.retries,
            max_task_retries=self.retries,
        )
        items = list(items)
        count = min(self._slots(ray, resources, workers), max(1, len(items)))
        actors = [actor_class.remote(factory, args) for _ in range(count)]
        idle = list(actors)
        pending: dict[Any, tuple[Any, Any]] = {}
        queue = iter(items)
        try:
            while True:
                while idle:
                    item = next(queue, _END)
                    if item is _END:
                        break
                    actor = idle.pop()
                    pending[actor.run.remote(item)] = (actor, item)
                if not pending:
                    return
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                actor, item = pending.pop(ref)
                try:
                    yield Outcome(item, ray.get(ref))
                    idle.append(actor)
                except ray.exceptions.RayActorError as exc:  # restarts used up: lose the actor, not the run
                    yield Outcome(item, None, _error(exc))
                    if not idle and not pending:
                        _refuse_rest(queue, "every Ray actor died")
                        return
                except ray.exceptions.RayError as exc:
                    yield Outcome(item, None, _error(exc))
                    idle.append(actor)
        finally:
            for actor in actors:
                ray.kill(actor)


_END = object()


def _refuse_rest(queue: Iterator[Any], why: str) -> None:
    remaining = sum(1 for _ in queue)
    if remaining:
        raise RuntimeError(f"{why}; {remaining} item(s) not run (re-run the stage to resume them)")
