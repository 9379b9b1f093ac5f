"""The engine interface: map items to a worker function (or to stateful workers), with resources."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Resources:
    """What one call needs: CPU cores and GPUs (fractions allowed on Ray)."""

    cpus: float = 1.0
    gpus: float = 0.0


@dataclass
class Outcome(Generic[T, R]):
    """One item's end: its ``value``, or ``error`` (a message) when the worker raised or died for good."""

    item: T
    value: R | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


ONE_CPU = Resources()


class Engine(ABC):
    """Runs per-item work. Worker functions and factories must be importable module-level callables
    (they travel by name to other processes or machines) and their items and results picklable."""

    name: str = "?"

    @abstractmethod
    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        *,
        workers: int,
        resources: Resources = ONE_CPU,
        threads: bool = False,
    ) -> Iterator[Outcome[T, R]]:
        """``fn(item)`` for every item, ``workers`` at a time on the local engine (the cluster's free
        resources decide on Ray); outcomes in completion order. ``threads``: local threads instead of
        processes (I/O-bound work); Ray ignores it."""

    @abstractmethod
    def map_actors(
        self,
        factory: Callable[..., Callable[[T], R]],
        args: tuple[Any, ...],
        items: Iterable[T],
        *,
        workers: int,
        resources: Resources = ONE_CPU,
    ) -> Iterator[Outcome[T, R]]:
        """``workers`` long-lived workers each build ``factory(*args)`` once (e.g. load a model), then
        call it on one item at a time; outcomes in completion order."""

    def describe(self) -> str:
        return self.name

    def gpus(self) -> int:
        """GPUs the engine can give to workers (the local engine's stages find their own devices)."""
        return 0
