"""Train every (model, layer) clustering of one partition, streaming over its feature shards.

One pass scans the shards (keys, widths, statistics, reservoir sample); the k-means models are
seeded from the sample; then ``epochs`` passes stream the shards in mini-batches and update all
clusterings from the same batch of clips (each shard is read once per epoch, not once per key).
After each epoch a checkpoint is written so an interrupted run continues at the next epoch with
the same result it would have had without the interruption.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from acav.clustering.centroids import ClusteringModel, ClusteringSet, transform
from acav.clustering.config import ClusteringConfig
from acav.clustering.features import (
    Catalog,
    NothingToClusterError,
    ShardBlock,
    batches_of,
    count_batches,
    iter_blocks,
    key_name,
    scan_shards,
)
from acav.clustering.kmeans import MiniBatchKMeans, kmeans_plus_plus
from acav.core.atomic import atomic_write_bytes
from acav.core.logs import get_logger, progress

log = get_logger(__name__)

_CHECKPOINT_FIELDS = (
    "ncentroids",
    "batch_size",
    "backend",
    "seed",
    "normalize",
    "lr_schedule",
    "learning_rate",
    "count_decay",
    "reseed_fraction",
    "reseed_every",
    "underused",
    "discount_power",
    "discount_factor",
    "sample_size",
    "init_iters",
    "train_on_sample",
)


def _fingerprint(config: ClusteringConfig, shards: Sequence[str]) -> str:
    fields = {name: getattr(config, name) for name in _CHECKPOINT_FIELDS}
    return json.dumps({"config": fields, "shards": list(shards)}, sort_keys=True)


def _key_seed(seed: int, index: int) -> int:
    # distinct, reproducible streams per clustering
    return (seed * 1_000_003 + index * 7919) % (2**63 - 1)


@dataclass
class _Norm:
    mean: torch.Tensor | None
    std: torch.Tensor | None


def _save_checkpoint(path: Path, fingerprint: str, epoch_done: int, models: list[MiniBatchKMeans]) -> None:
    arrays: dict[str, np.ndarray] = {}
    for index, model in enumerate(models):
        for name, value in model.state().items():
            arrays[f"{name}_{index:03d}"] = np.asarray(value)
    arrays["meta_json"] = np.array(json.dumps({"fingerprint": fingerprint, "epoch_done": epoch_done}))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def _load_checkpoint(path: Path, fingerprint: str, models: list[MiniBatchKMeans]) -> int:
    """Restore the models from ``path``; return the next epoch to run (0 when there is no usable checkpoint)."""
    if not path.is_file():
        return 0
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        meta = json.loads(str(arrays["meta_json"]))
        if meta.get("fingerprint") != fingerprint:
            log.warning("ignoring checkpoint %s: it was written with other options or shards", path.name)
            return 0
        states = []
        for index, model in enumerate(models):
            suffix = f"_{index:03d}"
            state = {name[: -len(suffix)]: value for name, value in arrays.items() if name.endswith(suffix)}
            if state["centers"].shape != (model.k, model.dims) or state["counts"].shape != (model.k,):
                raise ValueError(f"clustering {index} has centres of shape {state['centers'].shape}")
            states.append(state)
        # Check everything before touching a model: a half-restored model (centres re-initialised but
        # counts kept from the checkpoint) would train differently from both a fresh and a resumed run.
        for model, state in zip(models, states, strict=True):
            model.load_state(state)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        log.warning("ignoring unreadable checkpoint %s (%s)", path, exc)
        return 0
    epoch = int(meta["epoch_done"]) + 1
    log.info("resuming training from checkpoint %s at epoch %d", path.name, epoch + 1)
    return epoch


def train_partition(
    paths: Sequence[Path],
    config: ClusteringConfig,
    device: torch.device,
    checkpoint_path: Path | None = None,
    catalog: Catalog | None = None,
) -> tuple[ClusteringSet, Catalog]:
    """Train one clustering per key on ``paths``; returns the centres and the scan's catalog."""
    if catalog is None:
        catalog = scan_shards(paths, config.effective_sample_size(), config.seed)
    if not catalog.keys or catalog.complete_clips == 0:
        raise NothingToClusterError(
            f"no clip with features in {len(paths)} shard(s) ({paths[0].parent if paths else '?'}): "
            "nothing to cluster. Did stage 4 (feature extraction) fail for every clip?"
        )
    n_sample = next(iter(catalog.sample.values())).shape[0]
    k = config.ncentroids
    if n_sample < k:
        log.warning(
            "only %d complete clips in the sample (%d in the partition) but --ncentroids %d: using %d clusters",
            n_sample,
            catalog.complete_clips,
            k,
            n_sample,
        )
        k = n_sample
    shard_names = [p.stem for p in catalog.shards]
    log.info(
        "clustering %d clips from %d shard(s): %d clusterings (%s), k=%d, backend=%s, device=%s",
        catalog.complete_clips,
        len(catalog.shards),
        len(catalog.keys),
        ", ".join(f"{key_name(key)}:{catalog.dims[key]}d" for key in catalog.keys),
        k,
        config.backend,
        device,
    )
    norms: dict[tuple[str, str], _Norm] = {}
    for key in catalog.keys:
        if config.normalize == "standardize":
            norms[key] = _Norm(
                torch.from_numpy(catalog.mean[key]).to(device), torch.from_numpy(catalog.std[key]).to(device)
            )
        else:
            norms[key] = _Norm(None, None)

    def prepared(key: tuple[str, str], array: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(array)).to(device, torch.float32)
        return transform(x, config.normalize, norms[key].mean, norms[key].std)

    results: list[ClusteringModel] = []
    if config.backend == "faiss":
        from acav.clustering.faiss_backend import train_faiss

        for index, key in enumerate(catalog.keys):
            sample_t = prepared(key, catalog.sample[key])
            generator = torch.Generator(device=sample_t.device).manual_seed(_key_seed(config.seed, index))
            seeds = kmeans_plus_plus(sample_t, k, generator).cpu().numpy()
            sample = sample_t.cpu().numpy()
            centers, objective = train_faiss(
                sample,
                k,
                config.faiss_iters,
                seed=config.seed + index,
                threads=config.faiss_threads,
                init=seeds,
            )
            results.append(_result(catalog, key, centers, config, objective / max(len(sample), 1)))
        return _set(results, config, shard_names), catalog

    discount = (config.discount_power, config.discount_factor) if config.underused == "discount" else None
    models = [
        MiniBatchKMeans(
            k,
            catalog.dims[key],
            device=device,
            schedule=config.lr_schedule,
            learning_rate=config.learning_rate,
            count_decay=config.count_decay,
            reseed_fraction=config.reseed_fraction,
            reseed_every=config.reseed_every,
            seed=_key_seed(config.seed, index),
            discount=discount,
        )
        for index, key in enumerate(catalog.keys)
    ]
    fingerprint = _fingerprint(config, shard_names)
    start_epoch = _load_checkpoint(checkpoint_path, fingerprint, models) if checkpoint_path else 0
    if start_epoch == 0:
        for key, model in zip(catalog.keys, models, strict=True):
            model.initialize(prepared(key, catalog.sample[key]), config.init_iters)
    clips = n_sample if config.train_on_sample else catalog.complete_clips
    total_batches = count_batches(clips, config.batch_size)
    for epoch in range(start_epoch, config.epochs):
        for model in models:
            model.start_epoch(epoch)
        rng = np.random.default_rng([config.seed, epoch])
        if config.train_on_sample:
            kept = list(range(n_sample))  # the in-memory sample, shuffled into batches as a shard is
            blocks = iter([ShardBlock("sample", Path("sample"), [], kept, catalog.sample)])
        else:
            order = [catalog.shards[i] for i in rng.permutation(len(catalog.shards))]
            blocks = (b for b in iter_blocks(order, catalog.keys, catalog.dims) if isinstance(b, ShardBlock))
        bar = progress(total=total_batches, desc=f"k-means epoch {epoch + 1}/{config.epochs}", unit="batch")
        seen = 0
        for batch in batches_of(blocks, config.batch_size, rng):
            # Re-seeding stops before the end so a re-seeded centre is still refined afterwards.
            if config.epochs > 1:
                allow = epoch < config.epochs - 1
            else:
                allow = seen < clips // 2
            for key, model in zip(catalog.keys, models, strict=True):
                model.partial_fit(
                    prepared(key, batch[key]), allow_reseed=allow and config.reseed_fraction > 0
                )
            seen += next(iter(batch.values())).shape[0]
            bar.update(1)
        bar.close()
        mean_sq = [m.stats.epoch_inertia / max(m.stats.epoch_points, 1) for m in models]
        log.info(
            "epoch %d/%d: mean squared distance per clip %s; re-seeded centres so far: %d",
            epoch + 1,
            config.epochs,
            ", ".join(f"{v:.4g}" for v in mean_sq),
            sum(m.stats.reseeded for m in models),
        )
        if checkpoint_path is not None and config.checkpoint and epoch < config.epochs - 1:
            _save_checkpoint(checkpoint_path, fingerprint, epoch, models)
    for key, model in zip(catalog.keys, models, strict=True):
        train_mean = (
            model.stats.epoch_inertia / model.stats.epoch_points if model.stats.epoch_points else None
        )
        result = _result(catalog, key, model.centers.cpu().numpy(), config, train_mean)
        if discount is not None:  # the final assignment applies the same rule with these counts
            result.usage = model.usage.cpu().numpy()
        results.append(result)
    return _set(results, config, shard_names), catalog


def _result(
    catalog: Catalog, key: tuple[str, str], centers: np.ndarray, config: ClusteringConfig, train: float | None
) -> ClusteringModel:
    standardize = config.normalize == "standardize"
    return ClusteringModel(
        key=key,
        info=catalog.models[key[0]],
        centers=np.asarray(centers, dtype=np.float32),
        mean=catalog.mean.get(key) if standardize else None,
        std=catalog.std.get(key) if standardize else None,
        points=catalog.complete_clips,
        train_inertia=None if train is None else float(train),
    )


def _set(results: list[ClusteringModel], config: ClusteringConfig, shards: list[str]) -> ClusteringSet:
    extra: dict[str, Any] = {
        "config": {name: getattr(config, name) for name in _CHECKPOINT_FIELDS + ("epochs",)}
    }
    if config.underused == "discount" and config.backend == "torch":
        extra["discount"] = [config.discount_power, config.discount_factor]
    return ClusteringSet(
        models=results, normalize=config.normalize, backend=config.backend, shards=shards, extra=extra
    )


def remove_checkpoint(path: Path | None) -> None:
    if path is not None and path.exists():
        os.unlink(path)
