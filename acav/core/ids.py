"""YouTube ids and the first field of metadata/filtered lines (an id or a URL ending in one)."""

from __future__ import annotations

import re

YOUTUBE_ID_LENGTH = 11
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{11}$")
# Ids that may become part of clip names and WebDataset keys (stage 3) and output.csv (stage 6).
_SAFE_ID_RE = re.compile(r"^[A-Za-z0-9_-]+$")
# A cell starting with one of these is a formula to spreadsheet programs (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@")


def is_valid_youtube_id(value: str) -> bool:
    """True for exactly 11 characters of ``[A-Za-z0-9_-]`` (safe as a file name)."""
    return bool(_ID_RE.match(value))


def is_safe_id(value: str) -> bool:
    """True for one or more of ``[A-Za-z0-9_-]`` (no dot, slash or space: safe in names and keys)."""
    return bool(_SAFE_ID_RE.match(value))


def output_id_problem(value: object) -> str | None:
    """Why ``value`` cannot be written as an output.csv id, or None when it can.

    Accepted: :func:`is_safe_id` ids that do not start like a spreadsheet formula; a real
    11-character YouTube id may start with ``-`` (about 1 in 64 do; a spreadsheet shows at worst
    ``#NAME?`` for it, it cannot call a function or open a link).
    """
    if not isinstance(value, str) or isinstance(value, bool):
        return f"id {value!r} is not a string"
    if not value:
        return "empty id"
    if any(not ch.isprintable() or ch in "\t\r\n" for ch in value):
        return f"id {value!r} holds a control character"
    if "," in value:
        return f"id {value!r} holds a comma"
    if '"' in value or "'" in value:
        return f"id {value!r} holds a quote"
    if value.startswith(FORMULA_PREFIXES) and not is_valid_youtube_id(value):
        return f"id {value!r} starts like a spreadsheet formula ({value[0]!r})"
    if not is_safe_id(value):
        return f"id {value!r} has characters outside [A-Za-z0-9_-]"
    return None


def is_url(value: str) -> bool:
    return "://" in value


def split_id_or_url(field: str) -> tuple[str, str | None]:
    """Return ``(candidate_id, url_or_None)`` for the first field of a metadata line.

    A URL's id is its last 11 characters (FORMATS.md). The candidate id is not validated here:
    call :func:`is_valid_youtube_id` before using it in a path.
    """
    field = field.strip()
    if is_url(field):
        return field[-YOUTUBE_ID_LENGTH:], field
    return field, None


def watch_url(youtube_id: str) -> str:
    return f"https://www.youtube.com/watch?v={youtube_id}"
