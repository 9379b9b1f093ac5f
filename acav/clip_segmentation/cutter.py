"""Clip cutting with the ffmpeg binary, in one of three modes (``--cut-mode``).

- ``accurate`` (default): frame-accurate re-encode (H.264 + AAC, ``--preset``/``--crf``).
  ``-ss`` before ``-i`` with re-encoding seeks to the keyframe before the start, decodes from there
  and drops every frame earlier than the start, so the clip begins exactly at the requested frame;
  ``-t`` then keeps frames whose shifted timestamp is below the length.
- ``fast``: the same frame-accurate video re-encode with x264's ``ultrafast`` preset (larger files,
  slightly lower quality at the same CRF) and the audio stream-copied, not re-encoded: AAC encoding
  cost more than the ultrafast video (0.14 of 0.26 CPU-s per 10 s clip at 320x240). The copied
  audio starts at the packet holding the start; the edit list hides the samples before it, so an
  edit-list-aware decoder (FFmpeg, PyAV: every reader of this project) starts at the exact sample
  (measured: lag 0, the source's own samples); see benchmarks/README.md.
- ``copy``: the original release's ``-c copy``: no re-encoding at all (the cheapest by far), but
  the video can only start at a keyframe: packets from the keyframe at or before the start are
  copied and the container's edit list hides the frames before the start from players that honour
  it; the clip's content is therefore not cut at the exact frame for every reader. The packets are
  copied in this process (PyAV, :func:`copy_packets`) by ffmpeg's own rules for
  ``-ss S -i SRC -t L -c copy``, which gives the same packets (times, flags, bytes) as the ffmpeg
  command without starting a process (0.007 instead of 0.021 CPU-s per clip); ffmpeg is run only
  if that fails.

- ``smart``: the frames before the clip's first keyframe re-encoded (``--preset``/``--crf``), the
  rest of the video and the audio copied (smartcut.py): the exact first frame, the source's own
  frames from the keyframe on, a fraction of ``accurate``'s encoding; like ``copy`` it may end a
  frame or two late. Sources it cannot cut this way (not 8-bit 4:2:0 H.264, no keyframe inside the
  clip, open GOP, ``--scale-short-side``) get the whole clip re-encoded, audio still copied.

We pass the start as the frame time rounded DOWN to whole microseconds (ffmpeg's time unit):
rounding up could drop the intended first frame. The clip appears atomically (temporary name,
then rename).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

from acav.core.atomic import atomic_path
from acav.core.logs import get_logger
from acav.core.media import X264_REPRODUCIBLE, FfmpegStalled, MediaError, run_ffmpeg


def _micros(seconds: float) -> int:
    """``seconds`` rounded down to whole microseconds (ffmpeg's time unit), never below 0."""
    return max(0, math.floor(seconds * 1_000_000 + 1e-3))


def format_seconds_floor(seconds: float) -> str:
    """``seconds`` rounded down to whole microseconds, as an exact decimal string for ffmpeg."""
    micros = _micros(seconds)
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def scale_filter(width: int, height: int, short_side: int) -> str | None:
    """A ``scale`` filter bringing the short side down to ``short_side`` (never up, even sizes), or None."""
    if short_side <= 0 or min(width, height) <= short_side:
        # libx264 with yuv420p needs even sizes: drop the odd last column/row by scaling.
        return "scale=w=trunc(iw/2)*2:h=trunc(ih/2)*2" if width % 2 or height % 2 else None
    if width <= height:
        return f"scale=w={short_side}:h=-2"
    return f"scale=w=-2:h={short_side}"


CUT_MODES = ("accurate", "fast", "copy", "smart")


def _rescale(value: int, source: Fraction, target: Fraction) -> int:
    """``av_rescale_q``: ``value`` from time base ``source`` to ``target``, halves away from zero."""
    exact = Fraction(value) * source / target
    return math.floor(exact + Fraction(1, 2)) if exact >= 0 else -math.floor(-exact + Fraction(1, 2))


def stream_copy(container, streams: list, offset: int, end: int, video_from: int | None = None) -> Iterator:
    """The packets of ``streams`` that ffmpeg's ``-ss``/``-t`` stream copy keeps, shifted to the clip's time.

    ``offset``: the clip start in microseconds on the container's clock (start time included),
    ``end``: the clip length in microseconds. ffmpeg's rules, in its own integer arithmetic: seek
    to the keyframe at or before ``offset``; shift every timestamp by it (the frames before the
    start get negative times, which the mp4 muxer hides with an edit list); drop each stream's
    packets before its first keyframe (the video's before the packet whose pts is ``video_from``,
    when given); stop a stream at its first packet whose decoding time is ``end`` or later."""
    micro = Fraction(1, 1_000_000)
    container.seek(offset, backward=True)
    video = streams[0].index
    started: set[int] = set()
    finished: set[int] = set()
    for packet in container.demux(streams):
        index = packet.stream.index
        if index in finished or (packet.pts is None and packet.dts is None):
            continue
        if index not in started:
            first = (
                packet.pts == video_from if index == video and video_from is not None else packet.is_keyframe
            )
            if not first:
                continue
            started.add(index)
        base = packet.time_base
        shift = _rescale(offset, micro, base)
        decode_time = packet.dts if packet.dts is not None else packet.pts
        if _rescale(decode_time - shift, base, micro) >= end:
            finished.add(index)
            if len(finished) == len(streams):
                return
            continue
        if packet.pts is not None:
            packet.pts -= shift
        if packet.dts is not None:
            packet.dts -= shift
        yield packet


def clip_streams(container, source: str | os.PathLike[str], with_audio: bool) -> list:
    """``[video]`` or ``[video, audio]``: the first stream of each kind, as ``-map 0:v:0 -map 0:a:0``."""
    if not container.streams.video:
        raise MediaError(f"{source}: no video stream to cut")
    if with_audio and not container.streams.audio:
        raise MediaError(f"{source}: no audio stream to cut")
    return [container.streams.video[0]] + ([container.streams.audio[0]] if with_audio else [])


MP4_OPTIONS = {"movflags": "+faststart"}


def copy_packets(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    start: float,
    length: float,
    *,
    with_audio: bool = True,
) -> None:
    """Write the packets ``ffmpeg -ss start -i source -t length -map 0:v:0 [-map 0:a:0] -c copy
    -movflags +faststart -f mp4 destination`` writes (:func:`stream_copy`), without the ffmpeg
    process. Raises :class:`MediaError` naming the source."""
    import av

    try:
        with av.open(str(source)) as container:
            streams = clip_streams(container, source, with_audio)
            offset = _micros(start) + (container.start_time or 0)  # ffmpeg reads format_seconds_floor(start)
            with av.open(str(destination), "w", format="mp4", options=MP4_OPTIONS) as output:
                targets = {s.index: output.add_stream_from_template(s) for s in streams}
                copied = 0
                for packet in stream_copy(container, streams, offset, clip_micros(length)):
                    packet.stream = targets[packet.stream.index]
                    output.mux(packet)
                    copied += 1
                if not copied:
                    raise MediaError(f"{source}: no keyframe at or after {start:.3f} s to copy from")
    except MediaError:
        raise
    except Exception as exc:  # PyAV raises a family of FFmpeg errors plus OSError
        raise MediaError(f"{source}: copying packets failed ({type(exc).__name__}: {exc})") from exc


def clip_micros(length: float) -> int:
    """The clip length in microseconds as ffmpeg reads our ``-t f"{length:.6f}"``."""
    return round(float(f"{length:.6f}") * 1_000_000)


FAST_PRESET = "ultrafast"


class _WholeClip(Exception):
    """``smart`` cannot cut this window (smartcut.py): re-encode the whole clip."""


def cut_clip(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    start: float,
    length: float,
    *,
    with_audio: bool = True,
    video_filter: str | None = None,
    crf: int = 23,
    preset: str = "veryfast",
    audio_bitrate: str = "128k",
    threads: int = 0,
    timeout: float | None = 600,
    mode: str = "accurate",
    stall_timeout: float | None = 60,
    stall_retries: int = 1,
) -> Path:
    """Write ``[start, start + length)`` of ``source`` to ``destination`` (mp4); raises MediaError.

    ``mode``: one of :data:`CUT_MODES` (``copy`` ignores the filter and the encoder settings, ``fast``
    the audio bitrate).
    A cut whose ffmpeg stops making progress for ``stall_timeout`` seconds is killed and run again,
    up to ``stall_retries`` times (ffmpeg's rare thread deadlock; see :func:`run_ffmpeg`).
    """
    if mode not in CUT_MODES:
        raise ValueError(f"unknown cut mode {mode!r}; choose one of {', '.join(CUT_MODES)}")
    destination = Path(destination)
    if mode == "copy":
        try:
            with atomic_path(destination) as tmp:
                copy_packets(source, tmp, start, length, with_audio=with_audio)
            return destination
        except MediaError as exc:
            get_logger("clip_segmentation").warning("%s: %s; cutting it with ffmpeg", destination.name, exc)
    if mode == "smart" and video_filter is None:
        from acav.clip_segmentation.smartcut import smart_cut

        try:
            with atomic_path(destination) as tmp:
                options = {
                    "crf": crf,
                    "preset": preset,
                    "threads": threads,
                    "timeout": timeout,
                    "stall_timeout": stall_timeout,
                }
                if not smart_cut(source, tmp, start, length, with_audio=with_audio, **options):
                    raise _WholeClip
            return destination
        except _WholeClip:
            pass  # re-encoded whole below
    args = ["-threads", str(threads)] if threads > 0 else []  # the decoder's
    args += [
        "-loglevel",
        "error",
        "-y",
        "-ss",
        format_seconds_floor(start),
        "-i",
        str(source),
        "-t",
        f"{length:.6f}",
        "-map",
        "0:v:0",
    ]
    if mode == "copy":
        args += ["-map", "0:a:0", "-c", "copy"] if with_audio else ["-c", "copy"]
    else:
        if with_audio and mode in ("fast", "smart"):
            args += ["-map", "0:a:0", "-c:a", "copy"]
        elif with_audio:
            args += ["-map", "0:a:0", "-c:a", "aac", "-b:a", audio_bitrate]
        if video_filter:
            args += ["-vf", video_filter]
        preset = FAST_PRESET if mode == "fast" else preset
        args += ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p"]
        args += X264_REPRODUCIBLE
    if threads > 0:
        args += ["-threads", str(threads)]  # the encoder's (x264's)
    stalls = 0
    while True:
        try:
            with atomic_path(destination) as tmp:
                # The temporary name has no .mp4 suffix, so the container is named explicitly.
                output = [*args, "-movflags", "+faststart", "-f", "mp4", str(tmp)]
                run_ffmpeg(output, timeout=timeout, stall_timeout=stall_timeout)
            return destination
        except FfmpegStalled as exc:
            stalls += 1
            if stalls > stall_retries:
                raise
            get_logger("clip_segmentation").warning("%s: %s; cutting it again", destination.name, exc)
