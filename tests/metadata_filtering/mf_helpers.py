"""Helpers for the stage 1 tests: metadata lines in the real format (FORMATS.md section 1)."""

from __future__ import annotations

import json
from typing import Any

_UNSET = object()


def make_line(
    video_id: str = "abcDEF12345",
    title: Any = "Waves crashing on the rocks at sunset",
    description: Any = "Recorded on the coast with a handheld camera, just the sound of the sea.",
    category: Any = "Travel & Events",
    length: Any = "120",
    duration: Any = _UNSET,
    extra: dict[str, Any] | None = None,
    versions_nested: bool = False,
) -> bytes:
    """One ``ID<TAB>JSON`` line; pass ``None`` to write a null, ``...`` to leave a field out.

    ``duration`` goes to ``MediaVersionList[0].Duration``, a top-level key beside
    ``LatestDAFeature`` as in the original's example lines (inside it with ``versions_nested``).
    """
    feature: dict[str, Any] = {}
    for key, value in (("Title", title), ("Description", description), ("YouTubeCategory", category)):
        if value is not ...:
            feature[key] = value
    if length is not ...:
        feature["VideoLength"] = length
    obj: dict[str, Any] = {}
    if duration is not _UNSET:
        versions = duration if isinstance(duration, list) else [{"Duration": duration}]
        (feature if versions_nested else obj)["MediaVersionList"] = versions
    if extra:
        feature.update(extra)
    obj["LatestDAFeature"] = feature
    return (video_id + "\t" + json.dumps(obj, ensure_ascii=False) + "\n").encode()
