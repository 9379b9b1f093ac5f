"""Trained clusterings: the centres of every (model, layer), their metadata, and how to save/load them.

The file is a NumPy ``.npz`` archive that loads with ``numpy.load(path, allow_pickle=False)``
(no pickle anywhere, so a centroid file from elsewhere cannot run code):

* ``meta_json``: a 0-d string array holding JSON: ``format``, ``backend``, ``normalize``, ``shards``
  (the partition this clustering was trained on), ``created`` and ``clusterings``, a list of
  ``{"index", "model_key", "layer", "side", "extractor_name", "dataset", "dims", "ncentroids",
  "points", "inertia", "train_inertia"}``;
* ``centers_NNN``: ``ncentroids x dims`` float32 centres of clustering NNN;
* ``mean_NNN`` / ``std_NNN``: the per-dimension statistics when ``normalize == "standardize"``.
"""

from __future__ import annotations

import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from acav.clustering.features import ClusterKey, ModelInfo, key_name
from acav.core.atomic import atomic_write_bytes

FORMAT = "acav-centroids-v1"
NORMALIZATIONS = ("none", "l2", "standardize")
_EPS = 1e-8


class CentroidFileError(ValueError):
    """A centroid file is missing, unreadable or inconsistent; the message names the file."""


@dataclass
class ClusteringModel:
    """Centres for one clustering key plus what is needed to apply them to new features."""

    key: ClusterKey
    info: ModelInfo
    centers: np.ndarray  # (ncentroids, dims) float32
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    points: int = 0
    inertia: float | None = None  # exact, over every clip of the partition, with the final centres
    train_inertia: float | None = None  # mean squared distance during the last training epoch
    usage: np.ndarray | None = None  # points per centre in training (--underused discount only)

    @property
    def dims(self) -> int:
        return int(self.centers.shape[1])

    @property
    def ncentroids(self) -> int:
        return int(self.centers.shape[0])


@dataclass
class ClusteringSet:
    """Every clustering of one partition, in a fixed order (video models first, then audio)."""

    models: list[ClusteringModel]
    normalize: str = "none"
    backend: str = "torch"
    shards: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def keys(self) -> list[ClusterKey]:
        return [m.key for m in self.models]

    @property
    def dims(self) -> dict[ClusterKey, int]:
        return {m.key: m.dims for m in self.models}

    def by_key(self) -> dict[ClusterKey, ClusteringModel]:
        return {m.key: m for m in self.models}


def transform(x: np.ndarray | Any, normalize: str, mean: Any = None, std: Any = None) -> Any:
    """Apply the feature normalisation to a numpy array or torch tensor (rows are clips)."""
    if normalize == "none":
        return x
    if normalize == "l2":
        if isinstance(x, np.ndarray):
            return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), _EPS)
        return x / x.norm(dim=1, keepdim=True).clamp_min(_EPS)
    if normalize == "standardize":
        if mean is None or std is None:
            raise ValueError("standardize needs the per-dimension mean and std")
        if isinstance(x, np.ndarray):
            return (x - mean) / np.maximum(std, _EPS)
        return (x - mean) / std.clamp_min(_EPS)
    raise ValueError(f"unknown normalisation {normalize!r}; use one of {NORMALIZATIONS}")


def save_clustering_set(path: str | os.PathLike[str], cset: ClusteringSet) -> None:
    """Write the ``.npz`` atomically (temp name + rename)."""
    arrays: dict[str, np.ndarray] = {}
    entries = []
    for index, model in enumerate(cset.models):
        arrays[f"centers_{index:03d}"] = np.ascontiguousarray(model.centers, dtype=np.float32)
        if model.mean is not None and model.std is not None:
            arrays[f"mean_{index:03d}"] = np.asarray(model.mean, dtype=np.float32)
            arrays[f"std_{index:03d}"] = np.asarray(model.std, dtype=np.float32)
        if model.usage is not None:
            arrays[f"usage_{index:03d}"] = np.asarray(model.usage, dtype=np.float64)
        entries.append(
            {
                "index": index,
                "model_key": model.key[0],
                "layer": model.key[1],
                "side": model.info.side,
                "extractor_name": model.info.extractor_name,
                "dataset": model.info.dataset,
                "dims": model.dims,
                "ncentroids": model.ncentroids,
                "points": int(model.points),
                "inertia": model.inertia,
                "train_inertia": model.train_inertia,
            }
        )
    meta = {
        "format": FORMAT,
        "backend": cset.backend,
        "normalize": cset.normalize,
        "shards": list(cset.shards),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "clusterings": entries,
        **cset.extra,
    }
    arrays["meta_json"] = np.array(json.dumps(meta))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def load_clustering_set(path: str | os.PathLike[str]) -> ClusteringSet:
    """Read a centroid file written by :func:`save_clustering_set` (never unpickles anything)."""
    path = Path(path)
    if not path.is_file():
        raise CentroidFileError(f"centroid file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        meta = json.loads(str(arrays["meta_json"]))
    except (OSError, ValueError, KeyError) as exc:
        raise CentroidFileError(
            f"{path}: not a readable acav centroid file ({type(exc).__name__}: {exc})"
        ) from exc
    if meta.get("format") != FORMAT:
        raise CentroidFileError(f"{path}: unknown format {meta.get('format')!r} (expected {FORMAT})")
    normalize = meta.get("normalize", "none")
    if normalize not in NORMALIZATIONS:
        raise CentroidFileError(f"{path}: unknown normalize {normalize!r}")
    models = []
    for entry in meta.get("clusterings", []):
        index = int(entry["index"])
        centers = arrays.get(f"centers_{index:03d}")
        if centers is None or centers.ndim != 2 or centers.shape[1] != entry["dims"]:
            raise CentroidFileError(
                f"{path}: centres of clustering {index} are missing or of the wrong shape"
            )
        key = (str(entry["model_key"]), str(entry["layer"]))
        mean = arrays.get(f"mean_{index:03d}")
        std = arrays.get(f"std_{index:03d}")
        if normalize == "standardize" and (mean is None or std is None):
            raise CentroidFileError(f"{path}: {key_name(key)} lacks the mean/std that standardize needs")
        models.append(
            ClusteringModel(
                key=key,
                info=ModelInfo(
                    model_key=key[0],
                    extractor_name=str(entry.get("extractor_name", "")),
                    dataset=str(entry.get("dataset", "")),
                    side=str(entry.get("side", "video")),
                ),
                centers=centers.astype(np.float32),
                mean=mean,
                std=std,
                points=int(entry.get("points", 0)),
                inertia=entry.get("inertia"),
                train_inertia=entry.get("train_inertia"),
                usage=arrays.get(f"usage_{index:03d}"),
            )
        )
    if not models:
        raise CentroidFileError(f"{path}: holds no clusterings")
    known = {"format", "backend", "normalize", "shards", "created", "clusterings"}
    return ClusteringSet(
        models=models,
        normalize=normalize,
        backend=str(meta.get("backend", "torch")),
        shards=[str(s) for s in meta.get("shards", [])],
        extra={k: v for k, v in meta.items() if k not in known},
    )
