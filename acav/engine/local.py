"""The local engine: today's behaviour. One worker runs inline; more run in spawned processes (or
threads), each item submitted once; a crashed worker process makes its items' outcomes errors."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from typing import Any, TypeVar

from acav.engine.base import ONE_CPU, Engine, Outcome, Resources

T = TypeVar("T")
R = TypeVar("R")

_ACTOR: Any = None  # the object a local actor process built once (see map_actors)


def _build_actor(factory: Callable[..., Any], args: tuple[Any, ...]) -> None:
    global _ACTOR
    _ACTOR = factory(*args)


def _call_actor(item: Any) -> Any:
    return _ACTOR(item)


def _error(exc: BaseException) -> str:
    return f"worker died: {type(exc).__name__}: {exc}"


class LocalEngine(Engine):
    name = "local"

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        *,
        workers: int,
        resources: Resources = ONE_CPU,
        threads: bool = False,
    ) -> Iterator[Outcome[T, R]]:
        items = list(items)
        if workers <= 1 or len(items) <= 1:
            for item in items:  # inline: exceptions propagate, as a plain loop would
                yield Outcome(item, fn(item))
            return
        if threads:
            pool: Executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="acav-engine")
        else:
            # spawn: workers start clean (no inherited threads or open decoders from this process).
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        yield from _drain(pool, fn, items)

    def map_actors(
        self,
        factory: Callable[..., Callable[[T], R]],
        args: tuple[Any, ...],
        items: Iterable[T],
        *,
        workers: int,
        resources: Resources = ONE_CPU,
    ) -> Iterator[Outcome[T, R]]:
        items = list(items)
        if workers <= 1 or len(items) <= 1:
            actor = factory(*args)
            for item in items:
                yield Outcome(item, actor(item))
            return
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_build_actor,
            initargs=(factory, args),
        )
        yield from _drain(pool, _call_actor, items)


def _drain(pool: Executor, fn: Callable[[Any], Any], items: list[Any]) -> Iterator[Outcome[Any, Any]]:
    with pool:
        futures: dict[Future[Any], Any] = {pool.submit(fn, item): item for item in items}
        try:
            for future in as_completed(futures):
                item = futures[future]
                try:
                    yield Outcome(item, future.result())
                except Exception as exc:  # e.g. a worker killed by the OOM killer
                    yield Outcome(item, None, _error(exc))
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
