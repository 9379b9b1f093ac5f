"""Synthetic feature shards in the FORMATS.md section 4 layout, with known cluster labels."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

# model_key -> (side, extractor_name, dataset, layer widths)
DEFAULT_MODELS: dict[str, tuple[str, str, str, tuple[int, ...]]] = {
    "layer_fake_visual": ("video", "FAKE_VISUAL", "synthetic", (12, 20)),
    "layer_fake_audio": ("audio", "FAKE_AUDIO", "synthetic", (6, 10)),
}


def blob_centers(n_clusters: int, dims: int, seed: int, spread: float = 10.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n_clusters, dims)).astype(np.float32) * spread


def make_clip(
    filename: str,
    shard: str,
    shard_size: int,
    label: int,
    rng: np.random.Generator,
    centers: dict[tuple[str, str], np.ndarray],
    models=DEFAULT_MODELS,
    noise: float = 1.0,
    dtype=np.float32,
) -> dict:
    clip = {
        "filename": filename,
        "shard_name": shard,
        "shard_size": shard_size,
        "video_features": [],
        "audio_features": [],
    }
    for model_key, (side, extractor, dataset, widths) in models.items():
        array = {}
        for i, width in enumerate(widths):
            layer = f"layer_{i}"
            mean = centers[(model_key, layer)][label]
            array[layer] = (mean + rng.normal(size=width) * noise).astype(dtype)
        clip[f"{side}_features"].append(
            {"model_key": model_key, "extractor_name": extractor, "dataset": dataset, "array": array}
        )
    return clip


def make_feature_shards(
    features_dir: Path,
    n_shards: int = 3,
    clips_per_shard: int = 100,
    n_clusters: int = 4,
    seed: int = 0,
    models=DEFAULT_MODELS,
    noise: float = 1.0,
    first_index: int = 0,
    dtype=np.float32,
) -> dict[str, int]:
    """Write ``shard-NNNNNN.pkl`` files; return filename -> true cluster label."""
    features_dir.mkdir(parents=True, exist_ok=True)
    centers = {}
    for m, (model_key, (_, _, _, widths)) in enumerate(models.items()):
        for i, width in enumerate(widths):
            centers[(model_key, f"layer_{i}")] = blob_centers(n_clusters, width, seed=1000 + 10 * m + i)
    rng = np.random.default_rng(seed + first_index)
    labels = {}
    for s in range(first_index, first_index + n_shards):
        shard = f"shard-{s:06d}"
        rows = []
        for c in range(clips_per_shard):
            filename = f"vid{s:04d}{c:04d}x_{c}.mp4"
            label = int(rng.integers(n_clusters))
            labels[filename] = label
            rows.append(
                make_clip(filename, shard, clips_per_shard, label, rng, centers, models, noise, dtype)
            )
        with open(features_dir / f"{shard}.pkl", "wb") as handle:
            pickle.dump(rows, handle)
    return labels
