"""Streaming brace expansion: ``shard-{000000..000099}``, ``shard-{000001,000007}``, nested braces.

Same results and order as the ``braceexpand`` package for the patterns shard lists use, but names
are produced one at a time: ``shard-{000000..99999999}`` costs no memory until it is consumed
(``braceexpand`` builds each range as a list first: 100M names, gigabytes).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_RANGE = re.compile(r"^(-?\d+)\.\.(-?\d+)(?:\.\.(-?\d+))?$")
_ALPHA_RANGE = re.compile(r"^([A-Za-z])\.\.([A-Za-z])(?:\.\.(-?\d+))?$")


def _matching_brace(pattern: str, start: int) -> int:
    depth = 0
    for i in range(start, len(pattern)):
        if pattern[i] == "\\":
            continue
        if pattern[i] == "{":
            depth += 1
        elif pattern[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _split_alternatives(body: str) -> list[str]:
    parts, depth, current = [], 0, []
    for ch in body:
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        depth += ch == "{"
        depth -= ch == "}"
        current.append(ch)
    parts.append("".join(current))
    return parts


def _range_items(body: str) -> Iterator[str] | None:
    match = _RANGE.match(body)
    if match:
        first, last = match.group(1), match.group(2)
        step = abs(int(match.group(3) or 1)) or 1
        padded = any(len(b.lstrip("-")) > 1 and b.lstrip("-").startswith("0") for b in (first, last))
        width = max(len(first), len(last)) if padded else 0
        lo, hi = int(first), int(last)
        numbers = range(lo, hi + 1, step) if lo <= hi else range(lo, hi - 1, -step)
        return (f"{n:0{width}d}" for n in numbers)
    match = _ALPHA_RANGE.match(body)
    if match:
        lo, hi = ord(match.group(1)), ord(match.group(2))
        step = abs(int(match.group(3) or 1)) or 1
        codes = range(lo, hi + 1, step) if lo <= hi else range(lo, hi - 1, -step)
        return (chr(c) for c in codes)
    return None


def iter_braces(pattern: str) -> Iterator[str]:
    """Expand ``pattern`` lazily, left to right; braces without ``,`` or ``..`` stay literal."""
    start = pattern.find("{")
    while start != -1:
        end = _matching_brace(pattern, start)
        if end == -1:
            break
        body = pattern[start + 1 : end]
        prefix, suffix = pattern[:start], pattern[end + 1 :]
        alternatives = _split_alternatives(body)
        if len(alternatives) > 1:
            for alternative in alternatives:
                yield from iter_braces(prefix + alternative + suffix)
            return
        items = _range_items(body)
        if items is not None:
            for item in items:
                yield from iter_braces(prefix + item + suffix)
            return
        start = pattern.find("{", start + 1)  # a literal brace: look further
    yield pattern
