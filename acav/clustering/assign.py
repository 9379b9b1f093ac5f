"""Assign every clip of a feature shard to its nearest centre per clustering; write the cluster shard.

Output (FORMATS.md section 5): the feature shard's structure with ``video_assignments`` /
``audio_assignments`` in place of ``*_features``, each ``array`` mapping ``layer_i`` to an int
cluster id. Clips that cannot be assigned (missing or malformed features) are left out of the
cluster shard and reported to the caller with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from acav.clustering.centroids import ClusteringSet, transform
from acav.clustering.features import SIDES, ClusterKey, ShardBlock, load_block
from acav.core.cluster_columns import write_cluster_shard


@dataclass
class ShardResult:
    shard_name: str
    clips: int  # clips written to the cluster shard
    skipped: list[tuple[str | None, str]] = field(default_factory=list)
    inertia: dict[ClusterKey, float] = field(default_factory=dict)  # sum of squared distances


class Assigner:
    """Holds one partition's centres on the device and labels shard blocks with them."""

    def __init__(self, cset: ClusteringSet, device: torch.device) -> None:
        self.cset = cset
        self.device = device
        self.keys = cset.keys
        self.dims = cset.dims
        self._centers = {m.key: torch.from_numpy(m.centers).to(device) for m in cset.models}
        # The release's discount rule, when the clustering was trained with it (--underused discount).
        discount = cset.extra.get("discount")
        self._discount = (float(discount[0]), float(discount[1])) if discount else None
        self._usage = {
            m.key: torch.from_numpy(np.asarray(m.usage, dtype=np.float64)).to(device)
            for m in cset.models
            if m.usage is not None
        }
        self._mean = {
            m.key: (torch.from_numpy(m.mean).to(device) if m.mean is not None else None) for m in cset.models
        }
        self._std = {
            m.key: (torch.from_numpy(m.std).to(device) if m.std is not None else None) for m in cset.models
        }
        # layers of each model, in clustering order, for the output dicts
        self._layers: dict[str, list[str]] = {}
        for key in self.keys:
            self._layers.setdefault(key[0], []).append(key[1])

    def labels(self, block: ShardBlock) -> tuple[dict[ClusterKey, np.ndarray], dict[ClusterKey, float]]:
        from acav.clustering.kmeans import discounted_nearest, nearest

        labels: dict[ClusterKey, np.ndarray] = {}
        inertia: dict[ClusterKey, float] = {}
        for key in self.keys:
            matrix = block.matrices[key]
            if matrix.shape[0] == 0:
                labels[key] = np.zeros(0, dtype=np.int64)
                inertia[key] = 0.0
                continue
            x = torch.from_numpy(np.ascontiguousarray(matrix)).to(self.device, torch.float32)
            x = transform(x, self.cset.normalize, self._mean[key], self._std[key])
            if self._discount is not None and key in self._usage:
                usage = self._usage[key]
                seen = float(usage.sum().item())
                lab, dist = discounted_nearest(x, self._centers[key], usage, seen, *self._discount)
            else:
                lab, dist = nearest(x, self._centers[key])
            labels[key] = lab.cpu().numpy()
            inertia[key] = float(dist.double().sum().item())
        return labels, inertia

    def cluster_rows(self, block: ShardBlock, labels: dict[ClusterKey, np.ndarray]) -> list[dict[str, Any]]:
        """The cluster shard's list of clip dicts, in the feature shard's clip order."""
        out = []
        for position, row_index in enumerate(block.kept):
            row = block.rows[row_index]
            shard_name = row.get("shard_name")
            shard_size = row.get("shard_size")
            entry: dict[str, Any] = {
                "filename": row["filename"],
                "shard_name": shard_name if isinstance(shard_name, str) else block.shard_name,
                "shard_size": int(shard_size)
                if isinstance(shard_size, (int, np.integer))
                else len(block.rows),
            }
            for side in SIDES:
                assigned = []
                for feature in row.get(f"{side}_features") or []:
                    model_key = feature["model_key"]
                    layers = self._layers.get(model_key)
                    if not layers:
                        continue  # a model this clustering does not know (assigning with --centroids)
                    assigned.append(
                        {
                            "model_key": model_key,
                            "extractor_name": feature.get("extractor_name", ""),
                            "dataset": feature.get("dataset", ""),
                            "array": {layer: int(labels[(model_key, layer)][position]) for layer in layers},
                        }
                    )
                entry[f"{side}_assignments"] = assigned
            out.append(entry)
        return out

    def assign_shard(self, feature_path: Path, output_path: Path) -> ShardResult:
        """Label one feature shard and write its cluster shard atomically."""
        block = load_block(feature_path, self.keys, self.dims)
        labels, inertia = self.labels(block)
        rows = self.cluster_rows(block, labels)
        write_cluster_shard(output_path, rows)  # + its columnar companion for stage 6
        return ShardResult(
            shard_name=block.shard_name, clips=len(rows), skipped=block.skipped, inertia=inertia
        )


class AssignWorker:
    """One engine worker's assigner: the centres are put on its device once, then each call labels
    one ``(feature shard, cluster shard)`` pair. Returns ``(result, None)`` or ``(None, why)`` for
    an unreadable feature shard, so that the stage records it as before."""

    def __init__(self, cset: ClusteringSet, device: str) -> None:
        self.assigner = Assigner(cset, torch.device(device))

    def __call__(self, job: tuple[Path, Path]) -> tuple[ShardResult | None, str | None]:
        from acav.clustering.features import ShardReadError

        try:
            return self.assigner.assign_shard(*job), None
        except ShardReadError as exc:
            return None, str(exc)
