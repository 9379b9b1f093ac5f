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
) -> bytes:
    """One ``ID<TAB>JSON`` line; pass ``None`` to write a null, ``...`` to leave a field out."""
    feature: dict[str, Any] = {}
    for key, value in (("Title", title), ("Description", description), ("YouTubeCategory", category)):
        if value is not ...:
            feature[key] = value
    if length is not ...:
        feature["VideoLength"] = length
    if duration is not _UNSET:
        feature["MediaVersionList"] = duration if isinstance(duration, list) else [{"Duration": duration}]
    if extra:
        feature.update(extra)
    return (video_id + "\t" + json.dumps({"LatestDAFeature": feature}, ensure_ascii=False) + "\n").encode()
