"""Inputs: decoding a clip (PyAV) into augmented frames and a log-mel spectrogram, and a
deterministic stream of samples from WebDataset shards (``{key}.mp4`` + ``{key}.json``).

Per clip at training (the original's recipe): a random window of ``num_frames`` frames taken every
``sampling_rate`` frames at ``target_fps``; the short side scaled to a random size in ``jitter``;
a random ``crop`` x ``crop`` square; horizontal flip with probability 0.5; ``(x/255 - mean)/std``.
The audio of the same time window, channel mean, resampled to ``sample_rate``, as a log-mel
spectrogram with frequency and time masking.

The sample stream is deterministic: the order depends on the seed, the epoch and the process
rank only, and each sample's augmentation on ``(seed, rank, position in the stream)``. So a run
resumed from a checkpoint sees exactly the batches the uninterrupted run would have seen, and the
number of decoding workers changes nothing (worker ``w`` makes batches ``w, w + W, ...``; the
DataLoader returns them in order).
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from acav.core.decode import output_size, read_audio
from acav.core.logs import get_logger
from acav.core.media import MediaError
from acav.evaluation.audio import log_mel, mask_along
from acav.evaluation.config import ModelConfig

log = get_logger(__name__)


@dataclass
class Clip:
    frames: np.ndarray  # [T, H, W, 3] uint8 at a chosen short side
    times: np.ndarray  # [T] seconds
    audio: np.ndarray  # [samples] float32 mono at config.sample_rate
    duration: float


def decode_clip(source, config: ModelConfig, short_side: int) -> Clip:
    """Decode all frames (converted straight to ``short_side``) and the audio (channel mean)."""
    import av

    try:
        with av.open(io.BytesIO(source) if isinstance(source, bytes) else str(source)) as container:
            if not container.streams.video:
                raise MediaError("no video stream")
            stream = container.streams.video[0]
            width, height = output_size(stream.codec_context.width, stream.codec_context.height, short_side)
            frames, times = [], []
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                frames.append(frame.reformat(width=width, height=height, format="rgb24").to_ndarray())
                times.append(float(frame.pts * stream.time_base))
    except MediaError:
        raise
    except Exception as exc:  # PyAV raises many FFmpeg error types
        raise MediaError(f"video decode failed ({type(exc).__name__}: {exc})") from exc
    if not frames:
        raise MediaError("no video frames")
    try:
        audio = read_audio(source, sample_rate=config.sample_rate, mono=False)
        audio = audio.mean(axis=0) if audio.ndim == 2 else audio
    except MediaError:
        audio = np.zeros(1, dtype=np.float32)  # a clip without sound: silence
    times_arr = np.asarray(times)
    duration = max(float(times_arr[-1]) + 1.0 / max(1.0, _fps(times_arr)), audio.size / config.sample_rate)
    return Clip(np.stack(frames), times_arr, audio.astype(np.float32), duration)


def _fps(times: np.ndarray) -> float:
    return float(1.0 / np.median(np.diff(times))) if times.size > 1 else 1.0


def frame_window(clip: Clip, config: ModelConfig, start: float) -> np.ndarray:
    """``num_frames`` frames sampled every ``sampling_rate / target_fps`` s from ``start`` (nearest frame)."""
    wanted = start + np.arange(config.num_frames) * config.sampling_rate / config.target_fps
    index = np.clip(np.searchsorted(clip.times, wanted + 1e-6, side="right") - 1, 0, len(clip.times) - 1)
    return clip.frames[index]


def audio_window(clip: Clip, config: ModelConfig, start: float) -> np.ndarray:
    first = int(round(start * config.sample_rate))
    count = int(round(config.clip_seconds * config.sample_rate))
    out = np.zeros(count, dtype=np.float32)
    piece = clip.audio[first : first + count]
    out[: piece.size] = piece
    return out


def normalise(frames: np.ndarray, config: ModelConfig) -> torch.Tensor:
    """``[T, H, W, 3]`` uint8 -> ``[3, T, H, W]`` float, ``(x/255 - mean) / std``."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).float().div_(255.0)
    return x.sub_(config.mean).div_(config.std).permute(3, 0, 1, 2).contiguous()


def crop(frames: np.ndarray, size: int, top: int, left: int) -> np.ndarray:
    return frames[:, top : top + size, left : left + size]


def spatial_crops(frames: np.ndarray, size: int, count: int) -> list[np.ndarray]:
    """``count`` (1 or 3) crops along the long side: centre, or start/centre/end (the test views)."""
    h, w = frames.shape[1:3]
    size = min(size, h, w)
    positions = [0.5] if count == 1 else list(np.linspace(0.0, 1.0, count))
    out = []
    for p in positions:
        if w >= h:
            out.append(crop(frames, size, (h - size) // 2, int(round((w - size) * p))))
        else:
            out.append(crop(frames, size, int(round((h - size) * p)), (w - size) // 2))
    return out


def training_views(
    clip_bytes: bytes, config: ModelConfig, rng: np.random.Generator, cache: dict | None = None, key: str = ""
) -> tuple[torch.Tensor, torch.Tensor]:
    """One augmented (frames, spectrogram) pair from an mp4 (random window, scale, crop, flip, masks).

    ``cache`` (used only without scale jitter, where decoding is the same every time) keeps the
    decoded clips by ``key``: for small data sets that fit in memory.
    """
    short_side = int(rng.integers(config.jitter[0], config.jitter[1] + 1))
    if cache is not None and config.jitter[0] == config.jitter[1]:
        if key not in cache:
            cache[key] = decode_clip(clip_bytes, config, short_side)
        clip = cache[key]
    else:
        clip = decode_clip(clip_bytes, config, short_side)
    start = float(rng.uniform(0.0, max(0.0, clip.duration - config.clip_seconds)))
    frames = frame_window(clip, config, start)
    h, w = frames.shape[1:3]
    size = min(config.crop, h, w)
    frames = crop(frames, size, int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1)))
    if rng.random() < 0.5:
        frames = frames[:, :, ::-1]
    spec = log_mel(
        torch.from_numpy(audio_window(clip, config, start)),
        config.sample_rate,
        config.mel_bins,
        config.audio_time,
    )
    spec = mask_along(spec, config.frequency_mask_rate, 1, rng)
    spec = mask_along(spec, config.time_mask_rate, 2, rng)
    return normalise(frames, config), spec


def evaluation_views(
    source, config: ModelConfig, clips: int, crops: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``clips`` windows spread uniformly over the video, ``crops`` spatial crops each (no masking):
    frames ``[clips * crops, 3, T, S, S]`` and spectrograms ``[clips, 1, mel, time]``."""
    clip = decode_clip(source, config, config.test_short_side)
    span = max(0.0, clip.duration - config.clip_seconds)
    starts = np.linspace(0.0, span, clips) if clips > 1 else np.array([span / 2])
    frames, specs = [], []
    for start in starts:
        window = frame_window(clip, config, float(start))
        frames.extend(normalise(c, config) for c in spatial_crops(window, config.crop, crops))
        audio = torch.from_numpy(audio_window(clip, config, float(start)))
        specs.append(log_mel(audio, config.sample_rate, config.mel_bins, config.audio_time))
    return torch.stack(frames), torch.stack(specs)


def shard_sizes(shards: list[Path]) -> list[int]:
    """Clips per exported shard, from the ``.json`` index beside each tar (no tar is read)."""
    return [len(json.loads(p.with_suffix(".json").read_text(encoding="utf-8"))) for p in shards]


def iter_tar_samples(path: Path) -> Iterator[tuple[str, bytes]]:
    """``(key, mp4 bytes)`` per sample of a WebDataset tar, streamed member by member."""
    with tarfile.open(path, "r|") as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".mp4"):
                handle = tar.extractfile(member)
                if handle is not None:
                    yield member.name[: -len(".mp4")], handle.read()


class ClipStream(torch.utils.data.IterableDataset):
    """Endless, deterministic stream of augmented training pairs from exported shards.

    Process ``rank`` of ``world`` reads shards ``rank, rank + world, ...`` (every process needs at
    least one shard); per epoch the shard order is shuffled and samples pass a shuffle buffer, both
    seeded by ``(seed, rank, epoch)``. ``start`` skips that many samples of the stream (resume)
    without decoding them. A clip that cannot be decoded is skipped with a warning naming it.
    With DataLoader workers, worker ``w`` makes batches ``w, w + W, ...``
    (``batch`` samples each), which the DataLoader returns in order.
    """

    def __init__(
        self,
        shards: list[Path],
        config: ModelConfig,
        seed: int,
        rank: int = 0,
        world: int = 1,
        start: int = 0,
        buffer: int = 256,
        cache: bool | dict = False,
        batch: int = 1,
    ) -> None:
        super().__init__()
        self.shards = shards[rank::world]
        if not self.shards:
            raise ValueError(f"process {rank} of {world} has no shard: export more shards than processes")
        self.config, self.seed, self.rank, self.start, self.buffer = config, seed, rank, start, buffer
        # decoded clips by key (used only without scale jitter); a dict may be shared between runs
        self.cache: dict | None = cache if isinstance(cache, dict) else ({} if cache else None)
        self.batch = batch

    def raw(self) -> Iterator[tuple[int, str, bytes]]:
        position, epoch = 0, 0
        while True:
            rng = np.random.default_rng([self.seed, self.rank, epoch])
            pool: list[tuple[str, bytes]] = []
            for shard in (self.shards[i] for i in rng.permutation(len(self.shards))):
                for sample in iter_tar_samples(shard):
                    pool.append(sample)
                    if len(pool) >= self.buffer:
                        yield position, *pool.pop(int(rng.integers(len(pool))))
                        position += 1
            while pool:
                yield position, *pool.pop(int(rng.integers(len(pool))))
                position += 1
            epoch += 1

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        for position, key, data in self.raw():
            if position < self.start or ((position - self.start) // self.batch) % workers != worker:
                continue
            rng = np.random.default_rng([self.seed, self.rank, position, 7])
            try:
                yield training_views(data, self.config, rng, self.cache, key)
            except MediaError as exc:  # a bad clip is skipped (and named), training goes on
                log.warning("skipping %s in the training stream: %s", key, exc)
