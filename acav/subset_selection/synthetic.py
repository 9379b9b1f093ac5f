"""Synthetic cluster assignments with known audio-visual correspondence (tests and benchmarks).

Each clip has a video class and an audio class in ``[0, C)``. For a *positive* (corresponding)
clip both are the same latent class; for a negative they are independent. Every clustering of a
modality labels the clip with a fixed random relabelling of that modality's class, replaced by a
uniformly random label with probability ``noise``. So clusterings of one modality agree with each
other for every clip, while video and audio clusterings agree only on the positives: selecting for
mutual information should pick positives.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acav.core.atomic import atomic_write_json
from acav.core.cluster_columns import write_cluster_shard
from acav.core.layout import DataLayout, shard_name
from acav.subset_selection.pairings import Clustering

VIDEO_MODEL = ("layer_slow_fast", "SLOWFAST_8x8_R50", "kinetics-400")
AUDIO_MODEL = ("layer_vggish", "VGGish", "YouTube-8M")


@dataclass
class SyntheticAssignments:
    labels: np.ndarray  # (N, D) uint8/uint16 cluster ids, columns in `clusterings` order
    clusterings: list[Clustering]
    positive: np.ndarray  # (N,) bool: audio and video correspond


def make_clusterings(layers: int = 5) -> list[Clustering]:
    """Video then audio clusterings, ``layers`` each (the paper's 2 x 5 = 10)."""
    return [Clustering("video", VIDEO_MODEL[0], f"layer_{i}") for i in range(layers)] + [
        Clustering("audio", AUDIO_MODEL[0], f"layer_{i}") for i in range(layers)
    ]


def make_assignments(
    n: int,
    ncentroids: int = 32,
    layers: int = 5,
    positive_rate: float = 0.5,
    noise: float = 0.3,
    seed: int = 0,
) -> SyntheticAssignments:
    rng = np.random.default_rng(seed)
    clusterings = make_clusterings(layers)
    positive = rng.random(n) < positive_rate
    video_class = rng.integers(0, ncentroids, n)
    audio_class = np.where(positive, video_class, rng.integers(0, ncentroids, n))
    dtype = np.uint8 if ncentroids <= 256 else np.uint16
    labels = np.empty((n, len(clusterings)), dtype=dtype)
    for column, clustering in enumerate(clusterings):
        cls = video_class if clustering.modality == "video" else audio_class
        relabel = rng.permutation(ncentroids)
        noisy = rng.random(n) < noise
        labels[:, column] = np.where(noisy, rng.integers(0, ncentroids, n), relabel[cls])
    return SyntheticAssignments(labels, clusterings, positive)


def clip_filename(shard: int, row: int) -> str:
    return f"vid{shard:04d}x{row:04d}_{10 * row}.mp4"


def write_cluster_shards(
    layout: DataLayout,
    data: SyntheticAssignments,
    shard_size: int,
    first_shard: int = 0,
    log_name: str | None = "log_0001.json",
    write_metadata: bool = True,
) -> list[str]:
    """Write ``data`` as FORMATS.md cluster shards (+ a ``log_*.json`` and video shard json files)."""
    names = []
    for s, lo in enumerate(range(0, data.labels.shape[0], shard_size)):
        name = shard_name(first_shard + s)
        rows = data.labels[lo : lo + shard_size]
        records, metadata = [], []
        for r, labels in enumerate(rows):
            filename = clip_filename(first_shard + s, r)
            record = {"filename": filename, "shard_name": name, "shard_size": len(rows)}
            for modality, (key, extractor, dataset) in (("video", VIDEO_MODEL), ("audio", AUDIO_MODEL)):
                arrays = {
                    c.layer: int(labels[i]) for i, c in enumerate(data.clusterings) if c.modality == modality
                }
                record[f"{modality}_assignments"] = [
                    {"model_key": key, "extractor_name": extractor, "dataset": dataset, "array": arrays}
                ]
            records.append(record)
            start = 10.0 * r + 0.333
            metadata.append(
                {"filename": filename, "id": filename.split("_")[0], "segment": [start, start + 10.0]}
            )
        write_cluster_shard(layout.cluster_shard(name), records)
        if write_metadata:
            atomic_write_json(layout.video_shard_json(first_shard + s), metadata)
        names.append(name)
    if log_name is not None:
        log = {
            "hostname": "synthetic",
            "pid": 0,
            "timestamp": Path(log_name).stem.split("_")[-1],
            "time": 0.0,
        }
        atomic_write_json(layout.clusters_dir / log_name, {**log, "shards": names})
    return names
