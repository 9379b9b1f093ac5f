"""Is a downloaded or copied file a complete, playable video with sound? Probe it before it counts.

Opening the container is not enough: a truncated mp4 written with ``+faststart`` still has its full
index at the front and opens fine. So we also demux every packet (cheap: no decoding) and check
that the packets really reach the duration the index promises.
"""

from __future__ import annotations

import os
from pathlib import Path

from acav.core.media import MediaError, MediaInfo, probe_media
from acav.video_download.errors import INVALID_FILE, NO_AUDIO, DownloadFailure

MP4_FORMAT_NAMES = {"mov,mp4,m4a,3gp,3g2,mj2", "mp4", "mov"}
# The packets must cover the declared duration up to this slack: a last packet's missing duration,
# AAC priming samples and edit lists cost a few tens of milliseconds, never half a second.
_COVERAGE_SLACK_S = 0.5
_COVERAGE_SLACK_FRACTION = 0.005


def container_format(path: str | os.PathLike[str]) -> str:
    """PyAV's demuxer name (e.g. ``mov,mp4,m4a,3gp,3g2,mj2`` or ``matroska,webm``)."""
    import av

    try:
        with av.open(str(path)) as container:
            return container.format.name
    except Exception as exc:
        raise DownloadFailure(
            INVALID_FILE, f"{Path(path).name}: cannot open ({type(exc).__name__}: {exc})"
        ) from exc


def is_mp4_container(path: str | os.PathLike[str]) -> bool:
    """True when the file is ISO-BMFF (mp4) *and* named ``.mp4``; mov/3gp get remuxed for uniformity."""
    path = Path(path)
    return path.suffix.lower() == ".mp4" and container_format(path) in MP4_FORMAT_NAMES


def _seconds(value: int | None, time_base: object) -> float | None:
    return float(value * time_base) if value is not None and time_base is not None else None  # type: ignore[operator]


def _check_complete(path: Path, info: MediaInfo) -> None:
    """Demux every packet and compare where the packets end with the durations the file declares.

    A stream with its own declared duration (mp4) is checked on its own. Streams without one
    (Matroska/WebM) are checked together against the container duration, because there the audio
    may legitimately end a little before the video.
    """
    import av

    ends: dict[int, float] = {}
    packets = 0
    try:
        with av.open(str(path)) as container:
            streams = list(container.streams.video[:1]) + list(container.streams.audio[:1])
            container_start = (container.start_time or 0) / 1_000_000
            own: dict[int, tuple[str, float, float]] = {}  # index -> (type, start, declared duration)
            for s in streams:
                declared = _seconds(s.duration, s.time_base)
                if declared and declared > 0:
                    own[s.index] = (s.type, _seconds(s.start_time, s.time_base) or 0.0, declared)
            for packet in container.demux(streams):
                if packet.size == 0 or packet.pts is None or packet.time_base is None:
                    continue
                packets += 1
                end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                index = packet.stream.index
                if end > ends.get(index, float("-inf")):
                    ends[index] = end
    except Exception as exc:  # a broken file can fail anywhere while demuxing
        raise DownloadFailure(
            INVALID_FILE, f"{path.name}: unreadable while demuxing ({type(exc).__name__}: {exc})"
        ) from exc
    if packets == 0:
        raise DownloadFailure(INVALID_FILE, f"{path.name}: no media packets (empty or truncated file)")
    checks = [
        (kind, ends.get(index, start) - start, declared) for index, (kind, start, declared) in own.items()
    ]
    others = [end for index, end in ends.items() if index not in own]
    if len(own) < len(streams) and info.duration > 0:
        got = (max(others) if others else container_start) - container_start
        checks.append(("media", got, info.duration))
    for kind, got, expected in checks:
        slack = _COVERAGE_SLACK_S + _COVERAGE_SLACK_FRACTION * expected
        if got + slack < expected:
            raise DownloadFailure(
                INVALID_FILE,
                f"{path.name}: truncated: {kind} packets end at {got:.2f}s but the file declares {expected:.2f}s",
            )


def validate_video(path: str | os.PathLike[str], require_audio: bool = True) -> MediaInfo:
    """Return the probe of a complete file with a video (and audio) stream; else raise ``DownloadFailure``.

    Error classes: ``invalid file`` (unreadable, no video, truncated), ``no audio``.
    """
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise DownloadFailure(INVALID_FILE, f"{path.name}: empty file")
        info = probe_media(path)
    except MediaError as exc:
        raise DownloadFailure(INVALID_FILE, str(exc).replace(str(path.parent) + os.sep, "")) from exc
    except OSError as exc:
        raise DownloadFailure(INVALID_FILE, f"{path.name}: cannot read ({exc})") from exc
    if not info.has_video:
        raise DownloadFailure(INVALID_FILE, f"{path.name}: no video stream")
    if require_audio and not info.has_audio:
        raise DownloadFailure(NO_AUDIO, f"{path.name}: no audio stream (later stages need sound)")
    _check_complete(path, info)
    return info
