"""Clip thumbnails for the report: a frame from the middle of a clip and a spectrogram of its sound,
both small PNGs embedded as ``data:`` URIs (the report is one offline file).

Clips are read from the video shards (``videos/shard-NNNNNN.tar``, one open per shard) or, when a
shard is missing, from ``videos/clips/{filename}``. A clip that cannot be read or decoded gets no
thumbnail (the gallery says so); it never stops the report.
"""

from __future__ import annotations

import base64
import io
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from acav.core.decode import iter_video_frames, read_audio
from acav.core.layout import DataLayout
from acav.core.logs import get_logger

log = get_logger(__name__)

ClipKey = tuple[str, str]  # (shard name, clip file name)

THUMB_SHORT_SIDE = 72
SPECTROGRAM_RATE = 16000
SPECTROGRAM_SIZE = (96, 48)  # width (time) x height (frequency), pixels


def png_data_uri(image: np.ndarray) -> str:
    """``data:image/png;base64,...`` of an H x W x 3 (or H x W) uint8 array."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def read_clip_bytes(layout: DataLayout, keys: Iterable[ClipKey]) -> dict[ClipKey, bytes]:
    """The bytes of each wanted clip; clips that cannot be found are left out."""
    by_shard: dict[str, set[str]] = {}
    for shard, filename in keys:
        by_shard.setdefault(shard, set()).add(filename)
    found: dict[ClipKey, bytes] = {}
    for shard, names in by_shard.items():
        tar_path = layout.videos_dir / f"{shard}.tar"
        if tar_path.is_file():
            try:
                with tarfile.open(tar_path) as tar:
                    for member in tar:
                        if member.isfile() and member.name in names:
                            handle = tar.extractfile(member)
                            if handle is not None:
                                found[(shard, member.name)] = handle.read()
            except (OSError, tarfile.TarError) as exc:
                log.warning("%s: cannot read clips for thumbnails (%s)", tar_path, exc)
        for name in names:
            if (shard, name) not in found:
                try:
                    found[(shard, name)] = layout.inside(layout.clips_dir, name).read_bytes()
                except (OSError, ValueError):
                    pass
    return found


def middle_frame(data: bytes) -> np.ndarray | None:
    """A small RGB frame from the middle of the clip, or None when it cannot be decoded."""
    try:
        frames = [image for _, image in iter_video_frames(data, short_side=THUMB_SHORT_SIDE)]
    except Exception as exc:  # MediaError and anything PyAV raises: no thumbnail
        log.debug("no frame thumbnail: %s", exc)
        return None
    return frames[len(frames) // 2] if frames else None


def spectrogram_image(data: bytes) -> np.ndarray | None:
    """A log-magnitude spectrogram (low frequencies at the bottom) as an RGB image, or None."""
    from matplotlib import colormaps

    try:
        audio = read_audio(data, sample_rate=SPECTROGRAM_RATE)
    except Exception as exc:
        log.debug("no spectrogram: %s", exc)
        return None
    n_fft, hop = 512, 256
    if audio.size < n_fft:
        return None
    count = 1 + (audio.size - n_fft) // hop
    frames = np.lib.stride_tricks.sliding_window_view(audio, n_fft)[::hop][:count]
    power = np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2
    db = 10.0 * np.log10(power + 1e-10)
    db = np.clip(db - db.max(), -80.0, 0.0) / 80.0 + 1.0  # 0 (quiet) .. 1 (loudest)
    width, height = SPECTROGRAM_SIZE
    # average into height frequency bands and width time columns
    bands = np.array_split(db, height, axis=1)
    image = np.stack([band.mean(axis=1) for band in bands], axis=0)[::-1]  # [freq, time]
    columns = np.array_split(image, min(width, image.shape[1]), axis=1)
    image = np.stack([c.mean(axis=1) for c in columns], axis=1)
    rgb = colormaps["magma"](image)[:, :, :3]
    return (rgb * 255).astype(np.uint8)


@dataclass
class Thumbnails:
    frame: str | None  # data URI
    spectrogram: str | None


class ThumbnailCache:
    """Decode each clip once for all the galleries that show it."""

    def __init__(self, layout: DataLayout) -> None:
        self.layout = layout
        self.cache: dict[ClipKey, Thumbnails] = {}

    def load(self, keys: Iterable[ClipKey]) -> None:
        wanted = [k for k in dict.fromkeys(keys) if k not in self.cache]
        data = read_clip_bytes(self.layout, wanted)
        for key in wanted:
            blob = data.get(key)
            if blob is None:
                self.cache[key] = Thumbnails(None, None)
                continue
            frame = middle_frame(blob)
            spectrogram = spectrogram_image(blob)
            self.cache[key] = Thumbnails(
                png_data_uri(frame) if frame is not None else None,
                png_data_uri(spectrogram) if spectrogram is not None else None,
            )

    def get(self, key: ClipKey) -> Thumbnails:
        if key not in self.cache:
            self.load([key])
        return self.cache[key]
