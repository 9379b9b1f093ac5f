"""The original release's diversity measure (``--diversity signature``): ffmpeg's ``signature``
filter run on two cut candidate clips, its matched-frame count as their similarity.

The original shuffles the candidates, takes the first, then repeatedly scans the others in that
order, sums each one's matched frames against every clip chosen so far, takes the first whose sum
is 0 at once, else the one with the lowest sum (the first of equals). Its parser reads the count of
the first "frames matching" line only, and a failed ffmpeg run (no such line) counts as 0.

Measured with the bundled ffmpeg: the filter's default thresholds almost never match 10 s clips
(a 10 s test clip does not match itself, a 60 s one does; 2 of 99 candidate pairs matched in
benchmarks/clip_diversity.py), so this measure mostly keeps the candidates in shuffled order.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Callable, Sequence

from acav.core.logs import get_logger
from acav.core.media import MediaError, run_ffmpeg

log = get_logger(__name__)

_MATCH_LINE = re.compile(r"Parsed_signature_0.*?(\d+) frames matching")

Matcher = Callable[[str, str], int]


def signature_matches(
    clip_a: str | os.PathLike[str], clip_b: str | os.PathLike[str], timeout: float = 600
) -> int:
    """Matched frames ffmpeg's ``signature`` filter reports between two clips (first match line,
    as the original read it); 0 when it reports none or fails (the ffmpeg 9.0 build crashes on
    flat single-colour frames), as in the original."""
    args = ["-hide_banner", "-loglevel", "info", "-i", str(clip_a), "-i", str(clip_b), "-an"]
    args += ["-filter_complex", "signature=detectmode=full:nb_inputs=2", "-f", "null", "-"]
    try:
        proc = run_ffmpeg(args, timeout=timeout)
    except MediaError as exc:
        log.warning("signature of %s vs %s failed, counted as no match: %s", clip_a, clip_b, exc)
        return 0
    found = _MATCH_LINE.search(proc.stderr.decode("utf-8", "replace"))
    return int(found.group(1)) if found else 0


def choose_by_signature(
    paths: Sequence[str], count: int, rng: random.Random, matches: Matcher = signature_matches
) -> list[int]:
    """Indices of ``count`` of ``paths`` chosen as the original did (module docstring), in the
    order chosen; all of them (shuffled) when there are no more than ``count``."""
    order = list(range(len(paths)))
    rng.shuffle(order)
    if len(order) <= count:
        return order
    chosen, rest = [order[0]], order[1:]
    while len(chosen) < count:
        pick, lowest = 0, None
        for position, candidate in enumerate(rest):
            total = sum(matches(paths[c], paths[candidate]) for c in chosen)
            if total == 0:
                pick = position
                break
            if lowest is None or total < lowest:
                pick, lowest = position, total
        chosen.append(rest.pop(pick))
    return chosen
