"""Experiment grids: one readable YAML file per experiment (``configs/exp1.yaml`` ...).

A file names the data sets, the methods, the seeds, fixed ``settings`` and a ``grid`` (a list of
setting overrides; every entry is one column of results, labelled by its keys). ``quick`` holds
overrides for ``--quick``. Settings (defaults in :data:`DEFAULT_SETTINGS`):

* pool: ``negative_ratio`` (fraction of classes/samples deranged, 0.5), ``max_per_class`` (1000),
  ``train_ratio`` (0.5), ``pool_size`` (cap on the test pool, none);
* clustering: ``ncentroids`` (none = the data set's: 10 for images, 32 for clips),
  ``cluster_backend`` (``sgd`` = stage 5's k-means, ``faiss``, ``scipy``);
* selection: ``pairing``, ``batch_size`` (B), ``topk`` (k), ``starts``;
* sharding (exp4): ``shards`` (1 = one partition), ``shard_clustering`` (``shared``/``separate``);
* baselines: ``contrastive_epochs``, ``cca_dims``, ``cca_components``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from acav.core.config import ConfigError

DEFAULT_SETTINGS: dict[str, Any] = {
    "negative_ratio": 0.5,
    "max_per_class": 1000,
    "train_ratio": 0.5,
    "pool_size": None,
    "ncentroids": None,
    "cluster_backend": "sgd",
    "pairing": "combination",
    "batch_size": 100,
    "topk": 25,
    "starts": 1,
    "shards": 1,
    "shard_clustering": "shared",
    "contrastive_epochs": 20,
    "cca_dims": 32,
    "cca_components": 10,
}
EXPERIMENTS = ("exp1", "exp2", "exp3", "exp4", "exp5", "exp6", "sweep")


@dataclass
class Experiment:
    name: str
    description: str
    datasets: list[str]
    methods: list[str]
    seeds: int = 5
    first_seed: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    grid: list[dict[str, Any]] = field(default_factory=lambda: [{}])
    plot: dict[str, Any] = field(default_factory=dict)  # sweep plot: {"x": key, "series": key}
    synthetic: dict[str, Any] = field(default_factory=dict)  # exp4 on synthetic assignments

    def entries(self) -> list[dict[str, Any]]:
        """Every grid entry merged over the defaults and the fixed settings."""
        out = []
        for entry in self.grid or [{}]:
            unknown = set(entry) - set(DEFAULT_SETTINGS)
            if unknown:
                raise ConfigError(
                    f"experiment {self.name}: unknown settings {sorted(unknown)} in grid entry {entry}"
                )
            out.append({**DEFAULT_SETTINGS, **self.settings, **entry})
        return out


def config_path(name: str) -> Path:
    return Path(str(resources.files("acav.correspondence_retrieval") / "configs" / f"{name}.yaml"))


def load_experiment(name_or_path: str, quick: bool = False) -> Experiment:
    """The experiment ``exp1``.. (bundled config) or a YAML file path, with ``quick`` overrides applied."""
    path = Path(name_or_path) if name_or_path.endswith((".yaml", ".yml")) else config_path(name_or_path)
    if not path.exists():
        raise ConfigError(f"no experiment config {path}; bundled ones: {', '.join(EXPERIMENTS)}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    data = copy.deepcopy(data)
    overrides = data.pop("quick", None) or {}
    if quick:
        for key, value in overrides.items():
            if key == "settings":
                data.setdefault("settings", {}).update(value)
            else:
                data[key] = value
    known = set(Experiment.__dataclass_fields__)
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{path}: unknown keys {sorted(unknown)} (known: {', '.join(sorted(known))})")
    unknown_settings = set(data.get("settings", {})) - set(DEFAULT_SETTINGS)
    if unknown_settings:
        raise ConfigError(f"{path}: unknown settings {sorted(unknown_settings)}")
    data.setdefault("name", path.stem)
    data.setdefault("description", "")
    return Experiment(**data)
