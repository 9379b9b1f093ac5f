"""YouTube ids and the first field of metadata/filtered lines (an id or a URL ending in one)."""

from __future__ import annotations

import re

YOUTUBE_ID_LENGTH = 11
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{11}$")


def is_valid_youtube_id(value: str) -> bool:
    """True for exactly 11 characters of ``[A-Za-z0-9_-]`` (safe as a file name)."""
    return bool(_ID_RE.match(value))


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
