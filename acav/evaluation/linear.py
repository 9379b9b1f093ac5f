"""Linear evaluation: frozen encoders, a linear classifier (dropout 0.5) trained on their features.

As the original: Adam, learning rate decayed linearly to 0, cross-entropy; at test several clips
per video (uniformly spread) and several spatial crops per clip, softmax scores summed per video,
top-1 and top-5 accuracy per video. Features of the frozen encoders are computed once per view
(training views are augmented, a fixed number per video), then only the head is trained.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from acav.core.decode import read_audio
from acav.core.logs import get_logger, progress
from acav.core.media import MediaError
from acav.evaluation.audio import log_mel, mask_along
from acav.evaluation.config import ModelConfig
from acav.evaluation.data import audio_window, evaluation_views, training_views
from acav.evaluation.models import AudioVisualModel

log = get_logger(__name__)

MODALITIES = ("visual", "audio", "both")


@dataclass(frozen=True)
class Item:
    source: str | os.PathLike | bytes  # a video (or, for audio-only data sets, an audio file)
    label: int
    name: str  # for error messages


@dataclass
class ProbeConfig:
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-2
    weight_decay: float = 5e-6
    dropout: float = 0.5
    train_views: int = 1  # augmented views per training video
    test_clips: int = 10
    test_crops: int = 3
    seed: int = 0


def _audio_only_views(
    item: Item, config: ModelConfig, train: bool, clips: int, rng: np.random.Generator, views: int = 1
) -> torch.Tensor:
    """Spectrograms of an audio file: ``views`` random masked windows (training) or ``clips``
    windows spread uniformly (test)."""
    audio = read_audio(item.source, sample_rate=config.sample_rate, mono=False)
    audio = audio.mean(axis=0) if audio.ndim == 2 else audio
    from acav.evaluation.data import Clip

    clip = Clip(
        np.zeros((1, 1, 1, 3), np.uint8),
        np.zeros(1),
        audio.astype(np.float32),
        audio.size / config.sample_rate,
    )
    span = max(0.0, clip.duration - config.clip_seconds)
    starts = (
        [float(rng.uniform(0, span)) for _ in range(views)]
        if train
        else list(np.linspace(0.0, span, clips) if clips > 1 else [span / 2])
    )
    specs = []
    for start in starts:
        spec = log_mel(
            torch.from_numpy(audio_window(clip, config, start)),
            config.sample_rate,
            config.mel_bins,
            config.audio_time,
        )
        if train:
            spec = mask_along(
                mask_along(spec, config.frequency_mask_rate, 1, rng), config.time_mask_rate, 2, rng
            )
        specs.append(spec)
    return torch.stack(specs)


def item_views(
    item: Item,
    config: ModelConfig,
    train: bool,
    probe: ProbeConfig,
    rng: np.random.Generator,
    audio_only: bool = False,
) -> tuple[torch.Tensor | None, torch.Tensor, int]:
    """Decoded inputs of one video: ``(frames or None, spectrograms, crops per clip)``; training:
    ``train_views`` augmented views; test: ``test_clips`` clips x ``test_crops`` crops."""
    if audio_only:
        return None, _audio_only_views(item, config, train, probe.test_clips, rng, probe.train_views), 1
    if train:
        decoded: dict = {}  # the views differ in window, crop, flip and masks: decode once
        pairs = [
            training_views(item.source, config, rng, decoded, item.name) for _ in range(probe.train_views)
        ]
        return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs]), 1
    frames, specs = evaluation_views(item.source, config, probe.test_clips, probe.test_crops)
    return frames, specs, probe.test_crops


@torch.no_grad()
def encode_views(
    model: AudioVisualModel, frames: torch.Tensor | None, specs: torch.Tensor, crops: int, modality: str
) -> torch.Tensor:
    """Frozen-encoder features ``[views, D]``; for both modalities, a clip's audio features are
    repeated over its crops and concatenated to the visual features."""
    device = next(model.parameters()).device
    parts = []
    if modality in ("visual", "both"):
        if frames is None:
            raise ValueError("visual features need video frames (this data set is audio only)")
        parts.append(model.visual(frames.to(device)).cpu())
    if modality in ("audio", "both"):
        audio = model.audio(specs.to(device)).cpu()
        parts.append(audio.repeat_interleave(crops, dim=0) if modality == "both" else audio)
    return torch.cat(parts, dim=1)


def encode_items(
    model: AudioVisualModel,
    items: list[Item],
    modality: str,
    train: bool,
    probe: ProbeConfig,
    audio_only: bool = False,
    cache: dict | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[dict]]:
    """``(features [V, D], labels [V], owner video index [V], failures)``; a video that cannot be
    decoded is recorded as failed and left out. ``cache`` keeps the decoded views by (video, train)
    so several models can be probed on the same inputs."""
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
    model.eval()
    feats, labels, owners, failures = [], [], [], []
    for index, item in enumerate(progress(items, desc="features", unit="video")):
        rng = np.random.default_rng([probe.seed, index, int(train)])
        try:
            key = (item.name, train)
            views = cache.get(key) if cache is not None else None
            if views is None:
                views = item_views(item, model.config, train, probe, rng, audio_only)
                if cache is not None:
                    cache[key] = views
            f = encode_views(model, *views, modality)
        except MediaError as exc:
            failures.append({"item": item.name, "error": str(exc)})
            log.warning("%s: %s", item.name, exc)
            continue
        feats.append(f)
        labels.append(torch.full((len(f),), item.label, dtype=torch.long))
        owners.append(torch.full((len(f),), index, dtype=torch.long))
    if not feats:
        raise MediaError("no video could be decoded")
    return torch.cat(feats), torch.cat(labels), torch.cat(owners), failures


def train_head(
    features: torch.Tensor, labels: torch.Tensor, classes: int, probe: ProbeConfig
) -> torch.nn.Module:
    """Dropout + linear layer, Adam, linear learning-rate decay to 0, cross-entropy."""
    generator = torch.Generator().manual_seed(probe.seed)
    torch.manual_seed(probe.seed)
    head = torch.nn.Sequential(torch.nn.Dropout(probe.dropout), torch.nn.Linear(features.shape[1], classes))
    torch.nn.init.normal_(head[1].weight, std=0.01)
    torch.nn.init.zeros_(head[1].bias)
    optimizer = torch.optim.Adam(head.parameters(), lr=probe.lr, weight_decay=probe.weight_decay)
    batches = max(1, int(np.ceil(len(features) / probe.batch_size)))
    total = probe.epochs * batches
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: max(0.0, 1 - s / total))
    head.train()
    for _ in range(probe.epochs):
        order = torch.randperm(len(features), generator=generator)
        for b in range(batches):
            idx = order[b * probe.batch_size : (b + 1) * probe.batch_size]
            loss = F.cross_entropy(head(features[idx]), labels[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
    return head.eval()


@torch.no_grad()
def video_scores(
    head: torch.nn.Module, features: torch.Tensor, owners: torch.Tensor, videos: int
) -> torch.Tensor:
    """Softmax scores of every view, summed per video: ``[videos, classes]``."""
    probs = F.softmax(head(features), dim=1)
    scores = torch.zeros(videos, probs.shape[1])
    return scores.index_add_(0, owners, probs)


def topk_accuracy(
    scores: torch.Tensor, labels: torch.Tensor, ks: tuple[int, ...] = (1, 5)
) -> dict[str, float]:
    out = {}
    for k in ks:
        top = scores.topk(min(k, scores.shape[1]), dim=1).indices
        out[f"top{k}"] = float((top == labels[:, None]).any(dim=1).float().mean())
    return out


def linear_probe(
    model: AudioVisualModel,
    train: list[Item],
    test: list[Item],
    classes: int,
    modality: str,
    probe: ProbeConfig,
    audio_only: bool = False,
    cache: dict | None = None,
) -> dict:
    """Train the head on ``train`` videos, score ``test`` videos; returns top-1/top-5 and counts."""
    x, y, _, failed_train = encode_items(model, train, modality, True, probe, audio_only, cache)
    head = train_head(x, y, classes, probe)
    xt, _, owners, failed_test = encode_items(model, test, modality, False, probe, audio_only, cache)
    scores = video_scores(head, xt, owners, len(test))
    kept = torch.unique(owners)
    labels = torch.tensor([item.label for item in test])
    result = topk_accuracy(scores[kept], labels[kept])
    result.update(
        train_videos=len(train) - len(failed_train),
        test_videos=int(kept.numel()),
        failures=failed_train + failed_test,
    )
    return result
