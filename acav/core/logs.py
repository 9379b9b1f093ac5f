"""Logging set-up, progress reporting and once-per-run notices shared by all stages.

Streams: log lines (and progress) go to stderr; each command's end-of-run summary is its output
and goes to stdout, so ``acav select > summary.txt`` keeps the summary and the terminal keeps
the logs.

Progress has three modes (:func:`progress_mode`):

- ``bar``: a tqdm bar, when stderr is a terminal;
- ``lines``: when stderr is a file or a pipe (``run.sh 2> run.log``, CI): no carriage-return
  updates, but one plain log line every ``$ACAV_PROGRESS_INTERVAL`` seconds (default 30);
- ``off``: with ``-q`` or ``ACAV_PROGRESS=0``.

``ACAV_PROGRESS=bar`` or ``ACAV_PROGRESS=lines`` forces a mode.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from tqdm import tqdm

T = TypeVar("T")

_CONFIGURED = False
_QUIET = False
_log = logging.getLogger("acav.progress")


def setup_logging(verbosity: int = 0) -> None:
    """Configure the ``acav`` logger: INFO by default, DEBUG with ``-v``, WARNING with ``-q``.

    ``-q`` also turns progress reporting off.
    """
    global _CONFIGURED, _QUIET
    level = logging.DEBUG if verbosity > 0 else logging.WARNING if verbosity < 0 else logging.INFO
    _QUIET = verbosity < 0
    logger = logging.getLogger("acav")
    logger.setLevel(level)
    if not _CONFIGURED:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
        logger.propagate = False
        _CONFIGURED = True


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name if name.startswith("acav") else f"acav.{name}")


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def progress_mode() -> str:
    """``bar``, ``lines`` or ``off`` (see the module docstring)."""
    setting = os.environ.get("ACAV_PROGRESS", "").strip().lower()
    if setting in ("0", "off", "false", "no") or _QUIET:
        return "off"
    if setting in ("bar", "lines"):
        return setting
    return "bar" if _stderr_is_terminal() else "lines"


def progress_enabled() -> bool:
    """True unless progress is off (``-q`` or ``ACAV_PROGRESS=0``)."""
    return progress_mode() != "off"


def progress_interval() -> float:
    try:
        return max(0.0, float(os.environ.get("ACAV_PROGRESS_INTERVAL", "30")))
    except ValueError:
        return 30.0


class LineProgress:
    """A tqdm look-alike for logs: one plain INFO line every ``interval`` seconds, no bar.

    Supports what the stages use of tqdm: iteration, ``with``, ``update``, ``set_postfix``,
    ``set_postfix_str``, ``set_description``, ``close``, ``n`` and ``total``.
    """

    def __init__(
        self,
        iterable: Iterable[Any] | None = None,
        *,
        total: float | None = None,
        desc: str | None = None,
        unit: str = "it",
        interval: float | None = None,
        logger: logging.Logger | None = None,
        **_: Any,
    ) -> None:
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.total = total
        self.desc = desc or "progress"
        self.unit = unit.strip() or "it"
        self.interval = progress_interval() if interval is None else interval
        self.logger = logger or _log
        self.n = 0
        self.postfix = ""
        self.lines_logged = 0
        self._start = self._last = time.monotonic()
        self._closed = False

    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            return
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __len__(self) -> int:
        return int(self.total or 0)

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or self.desc

    def set_postfix(
        self, ordered_dict: dict[str, Any] | None = None, refresh: bool = True, **kwargs: Any
    ) -> None:
        values = dict(ordered_dict or {}, **kwargs)
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = s

    def refresh(self) -> None:
        pass

    def line(self) -> str:
        elapsed = max(time.monotonic() - self._start, 1e-9)
        done = f"{self.n:g}/{self.total:g}" if self.total else f"{self.n:g}"
        percent = f" ({100.0 * self.n / self.total:.0f}%)" if self.total else ""
        text = (
            f"{self.desc}: {done} {self.unit}{percent}, {self.n / elapsed:.3g} {self.unit}/s, {elapsed:.0f} s"
        )
        return f"{text}; {self.postfix}" if self.postfix else text

    def update(self, n: float = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self.lines_logged += 1
            self.logger.info("%s", self.line())

    def close(self) -> None:
        # A closing line only when periodic lines were logged: short steps stay silent.
        if not self._closed and self.lines_logged:
            self.logger.info("%s (done)", self.line())
        self._closed = True


def progress(iterable: Iterable[T] | None = None, **kwargs: Any) -> Any:
    """A progress reporter for the current mode; pass ``total``, ``desc``, ``unit`` as to tqdm.

    A tqdm bar on a terminal, a :class:`LineProgress` when stderr is a file or pipe, a disabled
    tqdm with ``-q`` / ``ACAV_PROGRESS=0`` or when the caller passes ``disable=True``.
    """
    mode = progress_mode()
    if mode == "lines" and not kwargs.get("disable"):
        return LineProgress(iterable, **kwargs)
    kwargs["disable"] = bool(kwargs.get("disable")) or mode == "off"
    kwargs.setdefault("mininterval", 0.5)
    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("file", sys.stderr)
    return tqdm(iterable, **kwargs)


def once_per_run(key: str) -> bool:
    """True the first time ``key`` is asked for in this run, False afterwards.

    A run is one ``run.sh`` (it exports ``ACAV_RUN_DIR``, a private temp directory shared by its
    stages: the first stage to ask creates a marker file there). Without ``ACAV_RUN_DIR`` it is
    always True: the caller remembers what it said in its own process (e.g. ``functools.cache``).
    """
    run_dir = os.environ.get("ACAV_RUN_DIR")
    if run_dir and os.path.isdir(run_dir):
        marker = os.path.join(run_dir, "notice-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", key)[:120])
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            return False
        except OSError:
            return True  # unwritable run dir: say it (again) rather than never
        return True
    return True
