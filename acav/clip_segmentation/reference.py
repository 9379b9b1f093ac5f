"""The original pipeline's way, kept as a reference for the equivalence tests and the benchmark:
ffmpeg's ``scdet`` filter run on the full-resolution video (one process per threshold try). Not used
by the stage. (The original's ``signature`` comparison is an option of the stage: signature.py.)
"""

from __future__ import annotations

import os
import re

from acav.core.media import run_ffmpeg

_SCDET_LINE = re.compile(r"lavfi\.scd\.score:\s*([0-9.]+),\s*lavfi\.scd\.time:\s*(-?[0-9.]+)")


def ffmpeg_scdet(
    path: str | os.PathLike[str], threshold: float, timeout: float | None = 600
) -> list[tuple[float, float]]:
    """``[(time_s, score)]`` of the frames ffmpeg's scdet reports as scene changes at ``threshold``."""
    proc = run_ffmpeg(
        [
            "-loglevel",
            "info",
            "-i",
            str(path),
            "-an",
            "-vf",
            f"scdet=threshold={threshold}",
            "-f",
            "null",
            "-",
        ],
        timeout=timeout,
    )
    text = proc.stderr.decode("utf-8", "replace")
    return [(float(t), float(s)) for s, t in _SCDET_LINE.findall(text)]
