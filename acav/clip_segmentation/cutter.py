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

We pass the start as the frame time rounded DOWN to whole microseconds (ffmpeg's time unit):
rounding up could drop the intended first frame. The clip appears atomically (temporary name,
then rename).
"""

from __future__ import annotations

import math
import os
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


CUT_MODES = ("accurate", "fast", "copy")


def _rescale(value: int, source: Fraction, target: Fraction) -> int:
    """``av_rescale_q``: ``value`` from time base ``source`` to ``target``, halves away from zero."""
    exact = Fraction(value) * source / target
    return math.floor(exact + Fraction(1, 2)) if exact >= 0 else -math.floor(-exact + Fraction(1, 2))


def copy_packets(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    start: float,
    length: float,
    *,
    with_audio: bool = True,
) -> None:
    """Write the packets ``ffmpeg -ss start -i source -t length -map 0:v:0 [-map 0:a:0] -c copy
    -movflags +faststart -f mp4 destination`` writes, without the ffmpeg process.

    ffmpeg's rules, in its own integer arithmetic: seek to the keyframe at or before ``start`` (plus
    the container's start time); shift every timestamp by that offset (so the frames before the
    start get negative times, which the mp4 muxer hides with an edit list); drop each stream's
    packets before its first keyframe; stop a stream at its first packet whose decoding time is
    ``length`` or later. Raises :class:`MediaError` naming the source."""
    import av

    begin = _micros(start)  # what ffmpeg reads from format_seconds_floor(start)
    end = round(float(f"{length:.6f}") * 1_000_000)  # and from -t f"{length:.6f}"
    micro = Fraction(1, 1_000_000)
    try:
        with av.open(str(source)) as container:
            if not container.streams.video:
                raise MediaError(f"{source}: no video stream to cut")
            streams = [container.streams.video[0]]
            if with_audio:
                if not container.streams.audio:
                    raise MediaError(f"{source}: no audio stream to cut")
                streams.append(container.streams.audio[0])
            offset = begin + (container.start_time or 0)
            container.seek(offset, backward=True)
            options = {"movflags": "+faststart"}
            with av.open(str(destination), "w", format="mp4", options=options) as output:
                targets = {s.index: output.add_stream_from_template(s) for s in streams}
                started: set[int] = set()
                finished: set[int] = set()
                for packet in container.demux(streams):
                    index = packet.stream.index
                    if index in finished or (packet.pts is None and packet.dts is None):
                        continue
                    if index not in started:
                        if not packet.is_keyframe:
                            continue
                        started.add(index)
                    base = packet.time_base
                    shift = _rescale(offset, micro, base)
                    decode_time = packet.dts if packet.dts is not None else packet.pts
                    if _rescale(decode_time - shift, base, micro) >= end:
                        finished.add(index)
                        if len(finished) == len(streams):
                            break
                        continue
                    if packet.pts is not None:
                        packet.pts -= shift
                    if packet.dts is not None:
                        packet.dts -= shift
                    packet.stream = targets[index]
                    output.mux(packet)
                if not started:
                    raise MediaError(f"{source}: no keyframe at or after {start:.3f} s to copy from")
    except MediaError:
        raise
    except Exception as exc:  # PyAV raises a family of FFmpeg errors plus OSError
        raise MediaError(f"{source}: copying packets failed ({type(exc).__name__}: {exc})") from exc


FAST_PRESET = "ultrafast"


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
        if with_audio and mode == "fast":
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
