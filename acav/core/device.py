"""Device choice: all visible GPUs when present (``CUDA_VISIBLE_DEVICES`` selects them), else the CPU.

torch is imported lazily so stages without models (filtering, download) never pay for it.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

from acav.core.config import ConfigError
from acav.core.logs import get_logger, once_per_run

if TYPE_CHECKING:
    import torch

log = get_logger(__name__)

DEVICE_CHOICES = ("auto", "cpu", "cuda")


@functools.cache
def _warn_cpu_fallback(reason: str) -> None:
    # the cache makes this say it once per process, however many times a stage asks; once_per_run
    # makes the stages of one run.sh say it once between them (later stages log it at debug level).
    if once_per_run(f"cpu-fallback {reason}"):
        log.warning("%s; running on the CPU (slower).", reason)
    else:
        log.debug("%s; running on the CPU.", reason)


def gpu_may_be_visible() -> bool:
    """False when no GPU can be visible, decided without importing torch (1-1.5 s of CPU).

    ``CUDA_VISIBLE_DEVICES`` set to nothing (or -1), or no NVIDIA/AMD driver device at all, means
    no GPU; otherwise only torch can tell (call :func:`cuda_device_count`).
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return False
    return any(Path(p).exists() for p in ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd")) or any(
        Path("/proc/driver/nvidia/gpus").glob("*")
    )


def cuda_device_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def choose_device(requested: str = "auto") -> torch.device:
    """Resolve ``--device``: ``auto`` (GPU if any is visible), ``cpu``, ``cuda`` or ``cuda:N``."""
    import torch

    requested = (requested or "auto").lower()
    if requested == "cpu":
        return torch.device("cpu")
    if requested == "auto":
        if cuda_device_count() > 0:
            return torch.device("cuda:0")
        _warn_cpu_fallback("No GPU is visible (CUDA unavailable or CUDA_VISIBLE_DEVICES empty)")
        return torch.device("cpu")
    if requested == "cuda" or (requested.startswith("cuda:") and requested[5:].isdigit()):
        count = cuda_device_count()
        if count == 0:
            _warn_cpu_fallback(f"--device {requested} asked for a GPU but none is visible")
            return torch.device("cpu")
        if requested != "cuda" and int(requested[5:]) >= count:
            raise ConfigError(
                f"--device {requested}: only {count} GPU(s) are visible (cuda:0..cuda:{count - 1})"
            )
        return torch.device(requested)
    raise ConfigError(
        f"unknown device {requested!r} (--device); use one of {', '.join(DEVICE_CHOICES)} or cuda:N"
    )


def visible_devices(requested: str = "auto") -> list[torch.device]:
    """Every device a stage should use: all visible GPUs for ``auto``/``cuda``, else ``[cpu]``."""
    import torch

    first = choose_device(requested)
    if first.type != "cuda":
        return [first]
    if requested.lower() in ("auto", "cuda"):
        return [torch.device(f"cuda:{i}") for i in range(cuda_device_count())]
    return [first]
