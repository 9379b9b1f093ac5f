"""Parsing one ``metadata.tsv`` line (FORMATS.md section 1) into the fields the rules need.

Nothing here raises on bad input: a line that cannot be used becomes a :class:`Rejection` whose
reason starts with a stable code (``empty line``, ``line too long``, ``parse``, ``id``).
Fields that may legitimately be absent (title, description, category) become empty strings;
the duration follows the original release: ``LatestDAFeature.VideoLength`` - 1, else
``MediaVersionList[0].Duration`` (``MediaVersionList`` is a top-level key of the JSON object, beside
``LatestDAFeature``; a copy nested inside ``LatestDAFeature`` is accepted too), else 0.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from acav.core.ids import is_valid_youtube_id, split_id_or_url

_MAX_SHOWN = 60  # characters of a bad value quoted in a reason


@dataclass(frozen=True)
class TooLongLine:
    """A line over the size cap: only its head was kept in memory (enough to show the id)."""

    head: bytes
    size: int
    limit: int  # the cap it exceeded (max_line_bytes)


@dataclass(frozen=True)
class Rejection:
    reason: str
    youtube_id: str = ""  # filled in when the id field was readable and valid


@dataclass(frozen=True)
class MetadataRecord:
    youtube_id: str
    title: str
    description: str
    category: str
    duration: float
    duration_note: str  # why the duration fell back to 0 ("" when a field gave it)


def shorten(value: object, limit: int = _MAX_SHOWN) -> str:
    """A one-line, bounded ``repr`` for reasons (no tabs or newlines can leak into the TSV)."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _seconds(value: Any) -> float | None:
    """A finite number of seconds from a string or number, else None."""
    if isinstance(value, bool):
        return None
    if not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (ValueError, OverflowError):  # "abc", or an int too large for a float
        return None
    return number if math.isfinite(number) else None


def _length_seconds(value: Any) -> float | None:
    """A usable VideoLength: a finite number >= 0 (the original takes only digit strings, so a
    negative length falls back to MediaVersionList as there)."""
    number = _seconds(value)
    return number if number is not None and number >= 0 else None


def media_versions(obj: dict[str, Any], feature: dict[str, Any]) -> tuple[Any, str]:
    """``(MediaVersionList, where)``: the top-level key (the original's layout) when present, else
    the one nested in ``LatestDAFeature`` (tolerance for re-exported metadata)."""
    if obj.get("MediaVersionList") is not None:
        return obj["MediaVersionList"], "MediaVersionList"
    if feature.get("MediaVersionList") is not None:
        return feature["MediaVersionList"], "LatestDAFeature.MediaVersionList"
    return None, "MediaVersionList"


def video_duration(feature: dict[str, Any], obj: dict[str, Any] | None = None) -> tuple[float, str]:
    """``(duration, note)``: VideoLength - 1, else MediaVersionList[0].Duration, else ``(0, why)``.

    ``feature`` is ``LatestDAFeature``; ``obj`` the whole JSON object, where ``MediaVersionList``
    normally lives (see :func:`media_versions`).
    """
    length = _length_seconds(feature.get("VideoLength"))
    if length is not None:
        return length - 1.0, ""
    problems = [f"VideoLength {shorten(feature.get('VideoLength'), 30)}"]
    versions, where = media_versions(obj if obj is not None else {}, feature)
    if isinstance(versions, list) and versions and isinstance(versions[0], dict):
        duration = _seconds(versions[0].get("Duration"))
        if duration is not None:
            return duration, ""
        problems.append(f"{where}[0].Duration {shorten(versions[0].get('Duration'), 30)}")
    elif isinstance(versions, list):
        problems.append(f"{where} empty or without an object")
    else:
        problems.append(f"{where} is {_type_name(versions)}")
    return 0.0, "no usable duration: " + ", ".join(problems)


def _clean_text(value: str) -> str:
    # JSON "\ud800" escapes decode to lone surrogates, which cannot be encoded again (the
    # language model would fail on them): replace them instead of rejecting the line.
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def _text_field(feature: dict[str, Any], key: str) -> str | Rejection:
    value = feature.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        return Rejection(f"parse: {key} is {_type_name(value)}, expected a string")
    return _clean_text(value)


def parse_id(field: bytes) -> str | Rejection:
    try:
        text = field.decode("utf-8")
    except UnicodeDecodeError:
        return Rejection("id: not UTF-8")
    candidate, url = split_id_or_url(text)
    if not is_valid_youtube_id(candidate):
        shown = shorten(url if url is not None else candidate)
        return Rejection(f"id: {shown} is not an 11-character YouTube id ([A-Za-z0-9_-])")
    return candidate


def id_of_long_line(line: TooLongLine) -> str:
    """The id of an over-long line when its first field is readable (for the rejects file)."""
    field, tab, _ = line.head.partition(b"\t")
    if not tab:
        return ""
    parsed = parse_id(field)
    return parsed if isinstance(parsed, str) else ""


def parse_line(raw: bytes) -> MetadataRecord | Rejection:
    """Parse one line (with or without its line ending); never raises."""
    line = raw.rstrip(b"\r\n")
    if not line.strip():
        return Rejection("empty line")
    field, tab, payload = line.partition(b"\t")
    if not tab:
        return Rejection("parse: no TAB between the id and the JSON")
    youtube_id = parse_id(field)
    if isinstance(youtube_id, Rejection):
        return youtube_id
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = payload[exc.start : exc.start + 1].hex()
        return Rejection(f"parse: not UTF-8 (byte 0x{byte} at JSON offset {exc.start})", youtube_id)
    try:
        # strict=False admits raw control characters inside strings, which real exports contain.
        obj = json.loads(text, strict=False)
    except (ValueError, RecursionError) as exc:
        # JSONDecodeError is a ValueError; a plain ValueError: an integer over Python's digit limit.
        if isinstance(exc, json.JSONDecodeError):
            detail = f"{exc.msg} at char {exc.pos}"
        elif isinstance(exc, RecursionError):
            detail = "nested too deep"
        else:
            detail = str(exc)[:80]
        return Rejection(f"parse: invalid JSON ({detail})", youtube_id)
    if not isinstance(obj, dict):
        return Rejection(f"parse: JSON is {_type_name(obj)}, expected an object", youtube_id)
    feature = obj.get("LatestDAFeature")
    if not isinstance(feature, dict):
        what = "missing" if feature is None else f"{_type_name(feature)}, expected an object"
        return Rejection(f"parse: LatestDAFeature is {what}", youtube_id)
    fields: dict[str, str] = {}
    for key in ("Title", "Description", "YouTubeCategory"):
        value = _text_field(feature, key)
        if isinstance(value, Rejection):
            return Rejection(value.reason, youtube_id)
        fields[key] = value
    duration, note = video_duration(feature, obj)
    return MetadataRecord(
        youtube_id=youtube_id,
        title=fields["Title"],
        description=fields["Description"],
        category=fields["YouTubeCategory"].strip(),
        duration=duration,
        duration_note=note,
    )
