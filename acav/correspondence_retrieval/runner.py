"""Run an experiment grid: pools, clusterings, methods; one CSV row per result; curves for plots.

Rows are keyed by (experiment, data set, method, settings label, seed). A re-run of the same
experiment keeps the rows already in ``results.csv`` and computes only the missing ones, so a long
sweep resumes where it stopped. Results a method does not depend on (e.g. the exact greedy in the
B x k sweep) are computed once per seed and reused.
"""

from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from acav.core.logs import get_logger
from acav.correspondence_retrieval.config import DEFAULT_SETTINGS, Experiment
from acav.correspondence_retrieval.methods import MethodSettings, needs_clusters, run_method
from acav.correspondence_retrieval.pool import Pool, build_pool, cluster, precision_curve
from acav.correspondence_retrieval.sources import Source, build_source

log = get_logger(__name__)

POOL_KEYS = ("negative_ratio", "max_per_class", "train_ratio", "pool_size")
CLUSTER_KEYS = ("ncentroids", "cluster_backend")
FIELDS = ("experiment", "dataset", "method", "settings", "seed", "pool", "positives", "precision",
          "chance", "method_cpu_s", "method_wall_s", "cluster_cpu_s", "ncentroids", "objective")  # fmt: skip
CURVE_POINTS = 50


def relevant_keys(method: str) -> tuple[str, ...]:
    """The settings a method's result depends on (beyond the data set and seed)."""
    keys = list(POOL_KEYS)
    if needs_clusters(method):
        keys += [*CLUSTER_KEYS, "pairing"]
    if method.startswith("pca_"):
        keys.append("pairing")
    if method in ("ours", "ami", "nmi", "fm", "rand", "ari"):
        keys += ["batch_size", "topk"]
    if method in ("ours", "greedy"):
        keys += ["starts"]
    if method == "ours":
        keys += ["shards", "shard_clustering"]
    if method == "contrastive":
        keys.append("contrastive_epochs")
    if method == "cca":
        keys += ["cca_dims", "cca_components"]
    return tuple(keys)


def settings_label(entry: dict[str, Any], base: dict[str, Any]) -> str:
    """``key=value`` of the grid entry's settings that differ from the experiment's base; ``default``."""
    parts = [f"{k}={entry[k]}" for k in DEFAULT_SETTINGS if entry.get(k) != base.get(k)]
    return ",".join(parts) or "default"


@dataclass
class Outputs:
    root: Path  # data/correspondence_retrieval

    def experiment_dir(self, name: str) -> Path:
        return self.root / name

    def csv_path(self, name: str) -> Path:
        return self.experiment_dir(name) / "results.csv"

    def curves_path(self, name: str) -> Path:
        return self.experiment_dir(name) / "curves.json"

    @property
    def cache(self) -> Path:
        return self.root / "cache"


def read_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in FIELDS})
    os.replace(tmp, path)


def _thin(curve: np.ndarray) -> list[float]:
    """The curve at ``CURVE_POINTS`` evenly spaced fractions of the subset (for plots)."""
    if curve.size == 0:
        return []
    at = np.unique(np.linspace(0, curve.size - 1, min(CURVE_POINTS, curve.size)).round().astype(int))
    return [round(float(v), 5) for v in curve[at]]


def sharded_selection(
    pool: Pool, seed: int, settings: MethodSettings, shards: int, shared: bool
) -> np.ndarray:
    """exp4: split the pool into ``shards`` random partitions, select ``positives / shards`` in each.

    ``shared``: every shard uses the clustering of the whole pool; else each shard is clustered alone.
    """
    rng = np.random.default_rng([seed, 4])
    parts = np.array_split(rng.permutation(pool.size), shards)
    chosen = []
    for part in parts:
        sub = Pool(pool.source, pool.views, {v: [x[part] for x in pool.layers[v]] for v in pool.views},
                   pool.positive[part], pool.train, pool.clusterings, pool.ncentroids)  # fmt: skip
        if shared:
            sub.assignments = pool.assignments[part]
        else:
            cluster(sub, pool.ncentroids, "sgd", seed)
        want = int(round(pool.npositive * part.size / pool.size))
        sub.positive = sub.positive.copy()
        from acav.subset_selection.greedy import SelectionParams, select_partition

        params = SelectionParams(batch_size=settings.batch_size, topk=settings.topk, seed=seed, log_points=1)
        result = select_partition(sub.assignments, sub.ncentroids, sub.pairs(settings.pairing), want, params)
        chosen.append(part[np.asarray(result.order)])
    # interleave the shards' selections so every prefix draws from all shards (as parallel workers would)
    longest = max(len(c) for c in chosen)
    order = [c[i] for i in range(longest) for c in chosen if i < len(c)]
    return np.asarray(order[: pool.npositive], dtype=np.int64)


class Runner:
    def __init__(self, experiment: Experiment, outputs: Outputs, source_options: dict[str, Any]) -> None:
        self.experiment = experiment
        self.outputs = outputs
        self.source_options = source_options
        self._pools: dict[tuple, Pool] = {}
        self._done: dict[tuple, dict[str, Any]] = {}

    def record_failure(self, entry: dict[str, Any]) -> None:
        """Append one failure to ``EXP/failures.jsonl`` (a result that is missing says why there)."""
        path = self.outputs.experiment_dir(self.experiment.name) / "failures.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), **entry}) + "\n")

    def source(self, name: str) -> Source:
        return build_source(name, self.outputs.cache, {"seed": 0, **self.source_options})

    def _pool(self, source: Source, seed: int, entry: dict[str, Any]) -> Pool:
        key = (source.name, seed, *(entry[k] for k in POOL_KEYS))
        if key not in self._pools:
            self._pools = {k: v for k, v in self._pools.items() if k[:2] == key[:2]}  # bounded memory
            self._pools[key] = build_pool(source, seed, entry["negative_ratio"], entry["max_per_class"],
                                          entry["train_ratio"], entry["pool_size"])  # fmt: skip
        return self._pools[key]

    def _assignments(self, pool: Pool, source: Source, seed: int, entry: dict[str, Any]) -> float:
        k = entry["ncentroids"] or source.ncentroids
        key = ("assign", id(pool), k, entry["cluster_backend"])
        if key not in self._done:
            cluster(pool, k, entry["cluster_backend"], seed)
            self._done[key] = {"labels": pool.assignments, "cpu": pool.timings["cluster_cpu_s"], "k": k}
        cached = self._done[key]
        pool.assignments, pool.ncentroids = cached["labels"], cached["k"]
        return cached["cpu"]

    def run_one(
        self, source: Source, method: str, seed: int, entry: dict[str, Any], label: str
    ) -> tuple[dict, list]:
        relevant = tuple((k, entry[k]) for k in relevant_keys(method))
        key = (source.name, method, seed, relevant)
        if key in self._done:
            return dict(self._done[key]["row"], settings=label), self._done[key]["curve"]
        pool = self._pool(source, seed, entry)
        cluster_cpu = self._assignments(pool, source, seed, entry) if needs_clusters(method) else 0.0
        settings = MethodSettings(**{k: entry[k] for k in MethodSettings.__dataclass_fields__ if k in entry})
        started_cpu, started = time.process_time(), time.perf_counter()
        if method == "ours" and entry["shards"] > 1:
            order = sharded_selection(
                pool, seed, settings, entry["shards"], entry["shard_clustering"] == "shared"
            )
        else:
            order = run_method(method, pool, seed, settings)
        cpu, wall = time.process_time() - started_cpu, time.perf_counter() - started
        curve = precision_curve(order, pool.positive)
        objective = ""
        if needs_clusters(method) and pool.assignments is not None:
            from acav.subset_selection.mi import objective_of_subset

            objective = round(objective_of_subset(pool.assignments, order, pool.pairs(entry["pairing"])), 6)
        row = {
            "experiment": self.experiment.name, "dataset": source.name, "method": method, "settings": label,
            "seed": seed, "pool": pool.size, "positives": pool.npositive,
            "precision": round(float(curve[-1]) if curve.size else float("nan"), 6),
            "chance": round(pool.npositive / pool.size, 6), "method_cpu_s": round(cpu, 4),
            "method_wall_s": round(wall, 4), "cluster_cpu_s": round(cluster_cpu, 4),
            "ncentroids": pool.ncentroids if needs_clusters(method) else "", "objective": objective,
        }  # fmt: skip
        self._done[key] = {"row": row, "curve": _thin(curve)}
        return row, self._done[key]["curve"]

    def run(self, datasets: list[str] | None = None) -> list[dict[str, Any]]:
        exp = self.experiment
        csv_path = self.outputs.csv_path(exp.name)
        rows = read_rows(csv_path)
        curves = (
            json.loads(self.outputs.curves_path(exp.name).read_text())
            if self.outputs.curves_path(exp.name).exists()
            else {}
        )
        done = {(r["dataset"], r["method"], r["settings"], str(r["seed"])) for r in rows}
        base = {**DEFAULT_SETTINGS, **exp.settings}
        entries = exp.entries()
        seeds = list(range(exp.first_seed, exp.first_seed + exp.seeds))
        for name in datasets or exp.datasets:
            try:
                source = self.source(name)
            except (FileNotFoundError, OSError, ValueError, RuntimeError) as exc:
                log.error("data set %s skipped: %s", name, exc)
                self.record_failure({"dataset": name, "error": str(exc)})
                continue
            log.info(
                "%s: data set %s (%s)",
                exp.name,
                name,
                ", ".join(f"{v}: {len(x)}" for v, x in source.labels.items()),
            )
            for seed in seeds:
                self._pools.clear()
                self._done = {k: v for k, v in self._done.items() if k[0] != "assign"}
                for entry in entries:
                    label = settings_label(entry, base)
                    for method in exp.methods:
                        if (name, method, label, str(seed)) in done:
                            continue
                        try:
                            row, curve = self.run_one(source, method, seed, entry, label)
                        except Exception as exc:  # one failed method must not stop the grid
                            log.error("%s %s %s seed %d failed: %s", name, method, label, seed, exc)
                            self.record_failure({"dataset": name, "method": method, "settings": label,
                                                 "seed": seed, "error": f"{type(exc).__name__}: {exc}"})  # fmt: skip
                            continue
                        rows.append(row)
                        curves.setdefault(f"{name}|{method}|{label}", {})[str(seed)] = curve
                        log.info("%s %-11s %-30s seed %d precision %.3f (chance %.3f) %.2fs cpu",
                                 name, method, label, seed, row["precision"], row["chance"], row["method_cpu_s"])  # fmt: skip
                write_rows(csv_path, rows)
                self.outputs.curves_path(exp.name).write_text(json.dumps(curves))
        return rows
