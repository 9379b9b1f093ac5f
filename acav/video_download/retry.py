"""Retry policy for transient failures: exponential backoff with jitter, bounded attempts."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from acav.video_download.errors import Cancelled, DownloadFailure

T = TypeVar("T")


@dataclass
class RetryPolicy:
    """``retries`` extra attempts after the first; delay ``base * 2**(n-1)`` capped, times U(0.5, 1).

    The jitter spreads the workers' retries out so that many threads hit by the same outage (or
    the same HTTP 429) do not come back at the same instant.
    """

    retries: int = 3
    base_delay: float = 5.0
    max_delay: float = 300.0
    rng: random.Random = field(default_factory=random.Random)

    @property
    def max_attempts(self) -> int:
        return self.retries + 1

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(0, attempt - 1)))
        return ceiling * self.rng.uniform(0.5, 1.0)


def run_with_retries(
    policy: RetryPolicy,
    attempt_fn: Callable[[int], T],
    on_failure: Callable[[int, DownloadFailure, bool], None],
    stop: threading.Event | None = None,
) -> T | None:
    """Call ``attempt_fn(attempt)`` until it succeeds, fails permanently, or attempts run out.

    ``on_failure(attempt, failure, will_retry)`` is called for every failed attempt (the caller
    logs it). Returns the result, or ``None`` after the last failure. Waiting between attempts is
    interruptible through ``stop``.
    """
    stop = stop or threading.Event()
    for attempt in range(1, policy.max_attempts + 1):
        try:
            return attempt_fn(attempt)
        except DownloadFailure as failure:
            will_retry = failure.transient and attempt < policy.max_attempts and not stop.is_set()
            on_failure(attempt, failure, will_retry)
            if not will_retry:
                return None
            if stop.wait(policy.delay(attempt)):
                raise Cancelled("stopped while waiting to retry") from None
    return None
