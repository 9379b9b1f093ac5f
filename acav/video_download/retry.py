"""Retry policy for transient failures: exponential backoff with jitter, bounded attempts."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from acav.video_download.errors import THROTTLING, Cancelled, DownloadFailure

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


class RunThrottle:
    """Backs off the whole run when YouTube starts refusing the client, not only the one video.

    Every finished attempt is recorded (:meth:`record`). When at least ``threshold`` of the last
    ``window`` attempts failed with a throttling class (rate limited, bot check), every worker
    waits (:meth:`wait`) for a pause before its next attempt; the pause doubles for each spike in
    a row (up to ``max_pause``) and resets after a success. ``threshold`` 0 disables it.
    """

    def __init__(
        self,
        threshold: int,
        window: int,
        pause: float,
        max_pause: float,
        on_pause: Callable[[float, dict[str, int]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.window = max(window, threshold)
        self.base_pause = pause
        self.max_pause = max(max_pause, pause)
        self.on_pause = on_pause
        self.clock = clock
        self.recent: deque[str | None] = deque(maxlen=self.window)
        self.resume_at = 0.0
        self.spikes_in_a_row = 0
        self.pauses = 0
        self.paused_seconds = 0.0
        self._lock = threading.Lock()

    def record(self, error_class: str | None) -> None:
        """One finished attempt: ``None`` for a success, else its error class."""
        if self.threshold <= 0:
            return
        with self._lock:
            if error_class is None:
                self.spikes_in_a_row = 0
            self.recent.append(error_class if error_class in THROTTLING else None)
            counts = Counter(c for c in self.recent if c is not None)
            if sum(counts.values()) < self.threshold or self.clock() < self.resume_at:
                return
            pause = min(self.max_pause, self.base_pause * (2**self.spikes_in_a_row))
            self.spikes_in_a_row += 1
            self.pauses += 1
            self.paused_seconds += pause
            self.resume_at = self.clock() + pause
            self.recent.clear()  # the next pause needs a new spike
        if self.on_pause is not None:
            self.on_pause(pause, dict(counts))

    def wait(self, stop: threading.Event) -> None:
        """Block until the current pause (if any) is over; raises :class:`Cancelled` on stop."""
        while True:
            with self._lock:
                remaining = self.resume_at - self.clock()
            if remaining <= 0:
                return
            if stop.wait(min(remaining, 1.0)):
                raise Cancelled("stopped during a back-off pause")
