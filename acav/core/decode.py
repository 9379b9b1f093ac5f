"""Decoding with PyAV: video frames converted straight to the size a consumer needs, and audio
resampled on decode. Sources may be a path, bytes (e.g. a tar member) or a binary file object.

Frames are converted with ``frame.reformat(width, height, format)`` so no full-size RGB copy is made.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from acav.core.media import MediaError

Source = str | os.PathLike | bytes | IO[bytes]


def _open(source: Source):
    import av

    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(bytes(source))
    elif isinstance(source, Path):
        source = str(source)
    return av.open(source)


def _name(source: Source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return getattr(source, "name", "<in-memory media>")


def output_size(
    width: int, height: int, short_side: int | None = None, size: tuple[int, int] | None = None
) -> tuple[int, int]:
    """Target ``(width, height)``: an explicit size, or the source scaled so its short side is ``short_side``.

    Dimensions are rounded to even numbers (what most encoders and models expect).
    """
    if size is not None:
        return size
    if short_side is None:
        return width, height
    scale = short_side / min(width, height)
    new_w = max(2, int(round(width * scale / 2)) * 2)
    new_h = max(2, int(round(height * scale / 2)) * 2)
    if width <= height:
        new_w = short_side
    else:
        new_h = short_side
    return new_w, new_h


@dataclass
class VideoFrames:
    frames: np.ndarray  # [T, H, W, C] uint8 (C = 3 for rgb24, 1 for gray)
    times: np.ndarray  # [T] float64 presentation times in seconds
    fps: float


def iter_video_frames(
    source: Source,
    *,
    short_side: int | None = None,
    size: tuple[int, int] | None = None,
    pix_fmt: str = "rgb24",
    start: float | None = None,
    end: float | None = None,
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(time_s, frame)`` for each decoded frame in ``[start, end)``, converted to the target size.

    ``pix_fmt`` is ``rgb24`` (H x W x 3) or ``gray`` (H x W x 1). Raises :class:`MediaError` naming
    the source on any decode failure or when there is no video stream.
    """
    try:
        with _open(source) as container:
            if not container.streams.video:
                raise MediaError(f"{_name(source)}: no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            width, height = output_size(
                stream.codec_context.width, stream.codec_context.height, short_side, size
            )
            if start:
                # Seek to the keyframe before start; frames before start are skipped below.
                container.seek(int(start / stream.time_base), stream=stream, backward=True, any_frame=False)
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                t = float(frame.pts * stream.time_base)
                if start is not None and t < start - 1e-6:
                    continue
                if end is not None and t >= end - 1e-6:
                    break
                image = frame.reformat(width=width, height=height, format=pix_fmt).to_ndarray()
                if image.ndim == 2:
                    image = image[:, :, None]
                yield t, image
    except MediaError:
        raise
    except Exception as exc:  # PyAV raises many FFmpeg error types
        raise MediaError(f"{_name(source)}: video decode failed ({type(exc).__name__}: {exc})") from exc


def read_video_frames(source: Source, **kwargs) -> VideoFrames:
    """All frames of :func:`iter_video_frames` stacked into one array (use for clips, not long videos)."""
    times: list[float] = []
    frames: list[np.ndarray] = []
    for t, image in iter_video_frames(source, **kwargs):
        times.append(t)
        frames.append(image)
    if not frames:
        raise MediaError(f"{_name(source)}: no video frames decoded")
    times_arr = np.asarray(times, dtype=np.float64)
    fps = float(1.0 / np.median(np.diff(times_arr))) if len(times_arr) > 1 else 0.0
    return VideoFrames(frames=np.stack(frames), times=times_arr, fps=fps)


def uniform_indices(available: int, wanted: int) -> np.ndarray:
    """``wanted`` indices spread evenly over ``available`` frames (repeats when too few frames)."""
    if available <= 0:
        raise ValueError("no frames to sample from")
    positions = (np.arange(wanted) + 0.5) * available / wanted
    return np.clip(positions.astype(np.int64), 0, available - 1)


def endpoint_indices(available: int, wanted: int) -> np.ndarray:
    """``wanted`` indices from the first to the last of ``available`` frames, both included.

    The original release's temporal sampling (and pytorchvideo's ``UniformTemporalSubsample``):
    ``linspace(0, available - 1, wanted)`` computed in float32 by torch, truncated to integers.
    """
    if available <= 0:
        raise ValueError("no frames to sample from")
    import torch

    return torch.linspace(0, available - 1, wanted).long().numpy()


def _channel_mean(planes: np.ndarray) -> np.ndarray:
    """[channels, samples] planar audio -> [1, samples], the mean of the channels."""
    return planes if planes.shape[0] == 1 else planes.mean(axis=0, keepdims=True, dtype=np.float32)


def read_audio(
    source: Source,
    *,
    sample_rate: int,
    mono: bool = True,
    start: float | None = None,
    end: float | None = None,
) -> np.ndarray:
    """Decode the first audio stream resampled to ``sample_rate`` float32; shape [samples] (mono) or [ch, samples].

    Mono is the plain mean of the source channels, (L+R)/2 for stereo, as the original release's
    VGGish input (``np.mean`` over channels, then resampling); FFmpeg's own downmix would give
    (L+R)/sqrt(2), 3 dB louder. Resampling is linear, so averaging after it is the same.
    Raises :class:`MediaError` naming the source when there is no audio stream or decoding fails.
    """
    import av

    layout = None if mono else "stereo"  # mono: keep the source channels, averaged below
    chunks: list[np.ndarray] = []
    try:
        with _open(source) as container:
            if not container.streams.audio:
                raise MediaError(f"{_name(source)}: no audio stream")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(_channel_mean(out.to_ndarray()) if mono else out.to_ndarray())
            for out in resampler.resample(None):
                chunks.append(_channel_mean(out.to_ndarray()) if mono else out.to_ndarray())
    except MediaError:
        raise
    except Exception as exc:
        raise MediaError(f"{_name(source)}: audio decode failed ({type(exc).__name__}: {exc})") from exc
    channels = 1 if mono else 2
    audio = np.concatenate(chunks, axis=1) if chunks else np.zeros((channels, 0), dtype=np.float32)
    audio = audio.astype(np.float32, copy=False)
    first = int(round((start or 0.0) * sample_rate))
    last = int(round(end * sample_rate)) if end is not None else audio.shape[1]
    audio = audio[:, first:last]
    return audio[0] if mono else audio
