"""Logging set-up and progress bars shared by all stages."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm import tqdm

T = TypeVar("T")

_CONFIGURED = False


def setup_logging(verbosity: int = 0) -> None:
    """Configure the ``acav`` logger once: INFO by default, DEBUG with ``-v``, WARNING with ``-q``."""
    global _CONFIGURED
    level = logging.DEBUG if verbosity > 0 else logging.WARNING if verbosity < 0 else logging.INFO
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


def progress_enabled() -> bool:
    """Progress bars are on unless ``ACAV_PROGRESS=0`` (tests and CI logs turn them off)."""
    return os.environ.get("ACAV_PROGRESS", "1") != "0"


def progress(iterable: Iterable[T] | None = None, **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr with our defaults; pass ``total``, ``desc``, ``unit`` as usual."""
    kwargs.setdefault("disable", not progress_enabled())
    kwargs.setdefault("mininterval", 0.5)
    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("file", sys.stderr)
    return tqdm(iterable, **kwargs)
