"""The original pipeline's way, kept as a reference for the equivalence tests and the benchmark:
ffmpeg's ``scdet`` filter run on the full-resolution video (one process per threshold try), and
ffmpeg's ``signature`` filter comparing two clips (one process per pair). Not used by the stage.
"""

from __future__ import annotations

import os
import re

from acav.core.media import run_ffmpeg

_SCDET_LINE = re.compile(r"lavfi\.scd\.score:\s*([0-9.]+),\s*lavfi\.scd\.time:\s*(-?[0-9.]+)")
_SIGNATURE_MATCH = re.compile(r"matching of video 0 at [0-9.]+ and 1 at [0-9.]+, (\d+) frames matching")


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


def ffmpeg_signature_match(
    clip_a: str | os.PathLike[str], clip_b: str | os.PathLike[str], timeout: float | None = 600
) -> int:
    """Frames ffmpeg's ``signature`` filter finds matching between two clips (0 = no match).

    Note: the ffmpeg 9.0 build in imageio-ffmpeg crashes (SIGSEGV) in this filter on flat,
    single-colour frames; callers get a MediaError then.
    """
    proc = run_ffmpeg(
        [
            "-loglevel",
            "info",
            "-i",
            str(clip_a),
            "-i",
            str(clip_b),
            "-an",
            "-filter_complex",
            "[0:v][1:v]signature=nb_inputs=2:detectmode=full",
            "-f",
            "null",
            "-",
        ],
        timeout=timeout,
    )
    text = proc.stderr.decode("utf-8", "replace")
    return sum(int(n) for n in _SIGNATURE_MATCH.findall(text))
