"""How much memory this machine can still give (for caches sized from it)."""

from __future__ import annotations

import os


def available_memory() -> int:
    """Bytes of memory available without swapping: Linux's MemAvailable, else physical memory / 2,
    else 0 (unknown: callers then cache nothing)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (OSError, ValueError, AttributeError):
        return 0
