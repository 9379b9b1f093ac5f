"""``--cut-mode smart``: re-encode only the frames before the clip's first keyframe, copy the rest.

A clip of ``[start, start + length)`` whose source has a keyframe K inside it is written as
(a) the frames from ``start`` up to K, re-encoded with x264 (``--preset``, ``--crf``, no B-frames),
then (b) the source's own packets from K on, copied as ``--cut-mode copy`` copies them, and the
audio copied from ``start`` (the edit list hides the samples before it, as in ``fast``). So the
clip starts at the exact frame, every frame from K on is the source's own, and only the part before
K is encoded (on a 2 s-GOP source a tenth of the frames ``accurate`` encodes, on average). The
copied part stops where ``copy`` stops, less the trailing packets shown at or after the end (which
no frame of the clip needs): the clip ends at the exact frame, unless the source orders a frame of
the clip after a reference frame shown past the end (then that frame is kept and shown too: up to
the source's reorder delay, 1-2 frames).

The two parts use different H.264 parameter sets: the mp4 sample entry holds the re-encoded
part's, and the source's SPS/PPS are put in-band at K (as their NAL units, before the keyframe's),
where decoders switch to them (FFmpeg does; tested by decoding every frame). The timestamps of
part (a) are the source frames' own, and its decoding times are moved back by the source's reorder
delay so that they stay below those of the copied part.

Not every source can be cut this way; :func:`smart_cut` returns False (the caller then re-encodes
the whole clip) when the video is not 8-bit 4:2:0 limited-range H.264 with an ``avcC`` sample
entry, when no keyframe lies inside the clip (or it is the first frame: then it is a plain packet
copy), when K is not an IDR picture (an open GOP's recovery point: its frames continue the
previous GOP's picture order) or frames after K in decoding order are shown before it, or when the
re-encoded part does not come out frame for frame.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from fractions import Fraction
from pathlib import Path

from acav.clip_segmentation.cutter import (
    MP4_OPTIONS,
    X264_REPRODUCIBLE,
    _micros,
    _rescale,
    clip_micros,
    clip_streams,
    format_seconds_floor,
    stream_copy,
)
from acav.core.media import MediaError, run_ffmpeg

MICRO = Fraction(1, 1_000_000)
SMART_FORMATS = ("yuv420p",)  # not yuvj420p: the re-encoded head would be limited range


def avcc_parameter_sets(extradata: bytes) -> tuple[int, list[bytes]]:
    """(NAL length size, [SPS..., PPS...]) of an ``avcC`` record; MediaError for anything else."""
    if len(extradata) < 7 or extradata[0] != 1:
        raise MediaError("the H.264 stream has no avcC record")
    size = (extradata[4] & 3) + 1
    position, units = 5, []
    for count_mask in (0x1F, 0xFF):  # SPS count in the low 5 bits, then a full byte of PPS count
        count = extradata[position] & count_mask
        position += 1
        for _ in range(count):
            length = int.from_bytes(extradata[position : position + 2], "big")
            units.append(extradata[position + 2 : position + 2 + length])
            position += 2 + length
    return size, units


def is_idr(data: bytes, size: int) -> bool:
    """Whether the length-prefixed (``size`` bytes) H.264 access unit ``data`` holds an IDR slice
    (NAL type 5): a picture that no later one decodes from anything before."""
    position = 0
    while position + size < len(data):
        length = int.from_bytes(data[position : position + size], "big")
        if data[position + size] & 0x1F == 5:
            return True
        position += size + length
    return False


def _plan(container, offset: int, end: int, size: int) -> tuple[list[int], int, int] | None:
    """(pts of the frames shown before K, K's pts, K's reorder delay in ticks) or None, where K is
    the first keyframe shown at or after the start; None unless K is an IDR picture inside the
    clip that no frame decoded after it precedes on screen."""
    video = container.streams.video[0]
    base = video.time_base
    shift = _rescale(offset, MICRO, base)
    container.seek(offset, backward=True)
    shown: list[int] = []
    key = delay = None
    for packet in container.demux(video):
        if packet.pts is None:
            continue
        if key is not None:
            if packet.pts < key:
                return None  # open GOP: a frame after K in decoding order is shown before it
            if packet.dts is None or packet.dts >= key:
                break
            continue
        if packet.is_keyframe and packet.pts >= shift:
            if _rescale(packet.pts - shift, base, MICRO) >= end or not is_idr(bytes(packet), size):
                return None  # no keyframe inside the clip, or a recovery point of an open GOP
            key, delay = packet.pts, packet.pts - (packet.dts if packet.dts is not None else packet.pts)
        elif packet.pts >= shift:
            shown.append(packet.pts)
        if _rescale(packet.pts - shift, base, MICRO) >= end + 10_000_000:
            return None  # no keyframe anywhere near the clip
    if key is None:
        return None
    return sorted(t for t in shown if t < key), key, delay


def smart_cut(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    start: float,
    length: float,
    *,
    with_audio: bool = True,
    crf: int = 23,
    preset: str = "veryfast",
    threads: int = 0,
    timeout: float | None = 600,
    stall_timeout: float | None = 60,
) -> bool:
    """Write the clip to ``destination`` (module docstring) and return True, or return False
    (nothing written) when this source or window cannot be cut this way. Raises MediaError."""
    import av

    end = clip_micros(length)
    try:
        with av.open(str(source)) as container:
            streams = clip_streams(container, source, with_audio)
            video = streams[0]
            context = video.codec_context
            if context.name != "h264" or context.format is None or context.format.name not in SMART_FORMATS:
                return False
            try:
                size, units = avcc_parameter_sets(bytes(context.extradata or b""))
            except MediaError:
                return False
            offset = _micros(start) + (container.start_time or 0)
            plan = _plan(container, offset, end, size)
    except MediaError:
        raise
    except Exception as exc:  # PyAV raises a family of FFmpeg errors plus OSError
        raise MediaError(f"{source}: reading packets failed ({type(exc).__name__}: {exc})") from exc
    if plan is None:
        return False
    shown, key, delay = plan
    if not shown:  # the clip starts on a keyframe: nothing to re-encode
        return _join(source, destination, None, with_audio, plan, (size, units), (offset, end))
    with tempfile.TemporaryDirectory(prefix="acav-smart-") as tmp:
        head = Path(tmp) / "head.mp4"
        args = ["-threads", str(threads)] if threads > 0 else []
        args += ["-loglevel", "error", "-y", "-ss", format_seconds_floor(start), "-i", str(source)]
        args += ["-frames:v", str(len(shown)), "-map", "0:v:0", "-an", "-c:v", "libx264", "-preset", preset]
        args += ["-crf", str(crf), "-pix_fmt", "yuv420p", "-bf", "0", *X264_REPRODUCIBLE]
        args += (["-threads", str(threads)] if threads > 0 else []) + ["-f", "mp4", str(head)]
        run_ffmpeg(args, timeout=timeout, stall_timeout=stall_timeout)
        return _join(source, destination, head, with_audio, (shown, key, delay), (size, units), (offset, end))


def _join(source, destination, head: Path | None, with_audio: bool, plan, parameter_sets, window) -> bool:
    """Mux the re-encoded head and the copied rest into ``destination``; False if the head is off.

    The copied video stops where ``copy`` stops (ffmpeg's rule: the first packet decoded at or
    after the end), less its trailing packets that are shown at or after the end: no frame decoded
    after them is shown before the end, so none needs them (a packet shown after the end that a
    later one shown before it needs is kept: the clip then runs on by that frame)."""
    import av

    shown, key, delay = plan
    size, units = parameter_sets
    offset, end = window
    try:
        with av.open(str(source)) as container, contextlib.ExitStack() as stack:
            streams = clip_streams(container, source, with_audio)
            template, packets, in_band = streams[0], [], b""
            if head is not None:
                template = stack.enter_context(av.open(str(head))).streams.video[0]
                head_size, _ = avcc_parameter_sets(bytes(template.codec_context.extradata or b""))
                packets = [p for p in template.container.demux(template) if p.size]
                if head_size != size or len(packets) != len(shown):
                    return False
                in_band = b"".join(len(unit).to_bytes(size, "big") + unit for unit in units)
            base = streams[0].time_base
            shift = _rescale(offset, MICRO, base)
            with av.open(str(destination), "w", format="mp4", options=MP4_OPTIONS) as output:
                video_out = output.add_stream_from_template(template)
                video_out.time_base = base
                audio_out = output.add_stream_from_template(streams[1]) if len(streams) > 1 else None
                for packet, pts in zip(packets, shown, strict=True):
                    made = av.Packet(bytes(packet))
                    made.time_base = base
                    made.pts, made.dts = pts - shift, pts - shift - delay
                    made.is_keyframe = packet.is_keyframe
                    made.stream = video_out
                    output.mux(made)
                held: list = []  # trailing video packets shown at or after the end (see _join's doc)
                for packet in stream_copy(container, streams, offset, end, video_from=key):
                    if packet.stream.index != streams[0].index:
                        packet.stream = audio_out
                        output.mux(packet)
                        continue
                    if in_band and packet.pts == key - shift:  # the source's parameter sets, in-band at K
                        made = av.Packet(in_band + bytes(packet))
                        made.time_base, made.pts, made.dts = packet.time_base, packet.pts, packet.dts
                        made.is_keyframe = True
                        packet = made
                    packet.stream = video_out
                    if _rescale(packet.pts, base, MICRO) >= end:
                        held.append(packet)
                        continue
                    for waiting in held:  # a frame shown before the end may need them
                        output.mux(waiting)
                    held = []
                    output.mux(packet)
    except MediaError:
        raise
    except Exception as exc:  # PyAV raises a family of FFmpeg errors plus OSError
        raise MediaError(f"{source}: joining the smart cut failed ({type(exc).__name__}: {exc})") from exc
    return True
