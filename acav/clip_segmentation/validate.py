"""Checks that keep stage 3's outputs true: every cut clip, and sources replaced after bundling.

* :func:`clip_problem`: a clip counts only when it has a video stream (and an audio stream when the
  source has one) whose packets span the requested length, within :data:`LENGTH_TOLERANCE`. A
  source whose sound stops early gives clips without audio packets; a very sparse video (one frame
  every few seconds) gives clips whose last frame lasts far past the end: both are refused.
* :func:`replaced_after_bundling`: a source file that changed (size or mtime) after its clips went
  into a complete shard is not cut again: the shard is immutable (stage 4 may have read it), so a
  re-cut would make clip files, log and shard disagree. The run says so and names what to move
  away to re-cut it.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Any

from acav.core.media import MediaError

LENGTH_TOLERANCE = 0.5  # seconds a stream of a clip may be shorter or longer than requested


def stream_spans(path: str | os.PathLike[str]) -> dict[str, float]:
    """Seconds from the first shown packet's start to the last packet's end, per stream type (demux only).

    Packets the container's edit list hides are left out (FFmpeg flags them ``discard``): a
    ``--cut-mode copy`` clip holds the GOP from the keyframe before its start, shown from the start
    on, so its packets reach up to a GOP before time 0. Times are summed in each stream's integer
    ticks and converted once."""
    import av

    ticks: dict[str, tuple[int, int, Fraction]] = {}
    try:
        with av.open(str(path)) as container:
            streams = [s for s in container.streams if s.type in ("video", "audio")]
            for packet in container.demux(streams):
                pts = packet.pts
                if pts is None or not packet.size or packet.time_base is None or packet.is_discard:
                    continue
                kind = packet.stream.type
                end = pts + (packet.duration or 0)
                if kind in ticks:
                    low, high, base = ticks[kind]
                    ticks[kind] = (min(low, pts), max(high, end), base)
                else:
                    ticks[kind] = (pts, end, packet.time_base)
    except Exception as exc:  # PyAV raises a family of FFmpeg errors plus OSError
        raise MediaError(f"{path}: cannot read the cut clip ({type(exc).__name__}: {exc})") from exc
    return {kind: float((high - low) * base) for kind, (low, high, base) in ticks.items()}


def clip_problem(path: str | os.PathLike[str], length: float, with_audio: bool) -> str | None:
    """Why the clip at ``path`` does not hold ``length`` seconds of picture (and sound), or None."""
    try:
        spans = stream_spans(path)
    except MediaError as exc:
        return str(exc)
    wanted = ("video", "audio") if with_audio else ("video",)
    for kind in wanted:
        if kind not in spans:
            return f"the clip has no {kind} packets (the source's {kind} does not cover this window)"
        if abs(spans[kind] - length) > LENGTH_TOLERANCE:
            return f"the clip's {kind} lasts {spans[kind]:.2f} s, not {length:g} s"
    return None


def source_changed(record: dict[str, Any] | None, path: Path) -> bool:
    """Whether ``path`` differs (size or mtime) from the file ``record`` was made from."""
    if record is None:
        return False
    stat = path.stat()
    return record.get("source_size") != stat.st_size or record.get("source_mtime") != round(stat.st_mtime, 3)


def replaced_after_bundling(
    records: dict[str, dict[str, Any]], videos: list[tuple[str, Path]], shard_of: dict[str, str]
) -> dict[str, list[str]]:
    """``{video id: [shards]}`` of sources that changed after their clips were put into shards."""
    out: dict[str, list[str]] = {}
    for video_id, path in videos:
        record = records.get(video_id)
        if record is None or record.get("status") != "ok" or not source_changed(record, path):
            continue
        names = [clip.get("filename") for clip in record.get("clips", []) if isinstance(clip, dict)]
        shards = sorted({shard_of[n] for n in names if n in shard_of})
        if shards:
            out[video_id] = shards
    return out
