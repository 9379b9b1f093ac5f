"""Stage 5 driver: partitions, training, assignment, logs and resuming.

Data directory layout written here (all under ``<data>/clusters/``):

* ``shard-NNNNNN.pkl``          cluster shards (FORMATS.md section 5), one per feature shard;
* ``log_<time>_<pid>_<n>.json`` one per partition: the shards clustered together (stage 6 selects
  within each partition);
* ``centroids/<first>_<last>.npz`` the partition's centres (see :mod:`acav.clustering.centroids`);
* ``checkpoints/<first>_<last>.npz`` training state after each epoch (removed when training ends);
* ``skipped.jsonl``             one line per clip (or shard) that was not clustered, with the reason.

Resuming: a shard listed in a ``log_*.json`` is finished. A centroid file whose shards have no log
yet is an interrupted partition: its remaining shards are assigned with those centres (no
re-training) and then its log is written. Remaining shards form new partitions. A partition
interrupted during training continues from its last epoch checkpoint.
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acav.clustering.config import ClusteringConfig
from acav.clustering.features import NothingToClusterError, key_name, rows_cache
from acav.core.atomic import atomic_write_json, remove_stale_temps
from acav.core.cluster_columns import columns_path
from acav.core.layout import DataLayout, list_shards
from acav.core.logs import get_logger, progress
from acav.core.records import JsonlWriter
from acav.core.runlock import directory_lock
from acav.engine import Resources, get_engine

log = get_logger(__name__)


@dataclass
class PartitionReport:
    name: str
    shards: list[str]
    centroids: str
    log: str | None
    clips: int = 0
    skipped_clips: int = 0
    failed_shards: list[str] = field(default_factory=list)
    resumed_shards: int = 0
    inertia: dict[str, float] = field(default_factory=dict)
    first_skip: str | None = None


@dataclass
class StageReport:
    partitions: list[PartitionReport] = field(default_factory=list)
    already_done: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def clips(self) -> int:
        return sum(p.clips for p in self.partitions)


def logged_shards(clusters_dir: Path) -> set[str]:
    """Shard names listed in every readable ``log_*.json`` (those partitions are finished)."""
    done: set[str] = set()
    for path in sorted(clusters_dir.glob("log_*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            done.update(str(s) for s in data["shards"])
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
            log.warning("ignoring unreadable partition log %s (%s)", path, exc)
    return done


def chunk(items: list[Path], size: int) -> list[list[Path]]:
    if size <= 0:
        return [items] if items else []
    return [items[i : i + size] for i in range(0, len(items), size)]


class ClusteringStage:
    def __init__(self, data_dir: Path, config: ClusteringConfig) -> None:
        config.validate()
        self.layout = DataLayout(data_dir)
        self.config = config
        self.clusters_dir = self.layout.clusters_dir
        self.centroid_dir = self.clusters_dir / "centroids"
        self.checkpoint_dir = self.clusters_dir / "checkpoints"
        self.started = time.time()
        self.pid = os.getpid()
        self.run_id = f"{int(self.started)}_{self.pid}"
        self._partition_counter = 0
        self._skip_writer: JsonlWriter | None = None

    # -- records ------------------------------------------------------------------------------
    def _record_skip(self, shard: str, filename: str | None, reason: str) -> None:
        if self._skip_writer is None:
            self._skip_writer = JsonlWriter(self.clusters_dir / "skipped.jsonl")
        self._skip_writer.write(
            {"shard": shard, "filename": filename, "reason": reason, "run": self.run_id, "time": _now_iso()}
        )

    def _write_log(self, shards: list[str], centroids: Path, extra: dict[str, Any]) -> Path:
        # same pid within the same second (a library caller running the stage twice) must not overwrite
        while True:
            path = self.clusters_dir / f"log_{self.run_id}_{self._partition_counter:03d}.json"
            self._partition_counter += 1
            if not path.exists():
                break
        atomic_write_json(
            path,
            {
                "hostname": socket.gethostname(),
                "pid": self.pid,
                "timestamp": int(self.started),
                "time": str(datetime.datetime.fromtimestamp(self.started)),
                "shards": shards,
                "centroids": str(centroids.relative_to(self.clusters_dir)),
                **extra,
            },
            indent=None,
        )
        return path

    # -- main ---------------------------------------------------------------------------------
    def run(self) -> StageReport:
        import torch  # heavy import only when the stage really runs

        from acav.clustering.centroids import load_clustering_set
        from acav.core.device import choose_device

        features = list_shards(self.layout.features_dir, ".pkl")
        if not features:
            raise NothingToClusterError(
                f"no feature shards (shard-NNNNNN.pkl) in {self.layout.features_dir}: run stage 4 "
                "(bash feature_extraction/code/run.sh) first, or point --data-dir at the right directory"
            )
        for directory in (self.clusters_dir, self.centroid_dir, self.checkpoint_dir):
            directory.mkdir(parents=True, exist_ok=True)
            removed = remove_stale_temps(directory)
            if removed:
                log.info("removed %d temporary file(s) left by an interrupted run in %s", removed, directory)
        self.device = choose_device(self.config.device)
        if self.device.type == "cpu" and self.config.cpu_threads > 0:
            torch.set_num_threads(self.config.cpu_threads)
        report = StageReport()
        done = logged_shards(self.clusters_dir)
        by_name = {p.stem: p for p in features}
        pending = [p for p in features if p.stem not in done]
        report.already_done = len(features) - len(pending)
        if not pending:
            log.info(
                "all %d feature shards are already clustered (see %s/log_*.json)",
                len(features),
                self.clusters_dir,
            )
            return report
        if report.already_done:
            log.info("%d shard(s) already clustered; %d to do", report.already_done, len(pending))

        # 1. partitions interrupted after training: finish them with their saved centres
        claimed: set[str] = set()
        for centroid_file in sorted(self.centroid_dir.glob("*.npz")):
            try:
                cset = load_clustering_set(centroid_file)
            except ValueError as exc:
                log.warning("ignoring %s: %s", centroid_file, exc)
                continue
            members = [by_name[s] for s in cset.shards if s in by_name and s not in done]
            if not members or any(s in done for s in cset.shards):
                continue
            log.info(
                "resuming partition %s: %d shard(s) with its saved centres", centroid_file.stem, len(members)
            )
            report.partitions.append(self._assign_partition(cset, members, centroid_file, resume=True))
            claimed.update(cset.shards)

        # 2. new partitions
        remaining = [p for p in pending if p.stem not in claimed]
        groups = chunk(remaining, self.config.shards_per_partition)
        external = load_clustering_set(self.config.centroids) if self.config.centroids else None
        for group in groups:
            name = f"{group[0].stem}_{group[-1].stem}"
            # The partition's shards stay in memory between its passes when they fit (rows_cache).
            with rows_cache(self.config.cache_bytes()) as cache:
                try:
                    if external is not None:
                        cset = copy.deepcopy(external)
                        cset.shards = [p.stem for p in group]
                        cset.extra = {**cset.extra, "source": str(self.config.centroids)}
                    else:
                        cset = self._train(group, name, report)
                except NothingToClusterError as exc:
                    if len(groups) == 1 and not report.partitions:
                        raise
                    log.error("partition %s: %s", name, exc)
                    report.errors.append(f"{name}: {exc}")
                    for path in group:
                        self._record_skip(path.stem, None, f"partition not clustered: {exc}")
                    continue
                centroid_file = self.centroid_dir / f"{name}.npz"
                from acav.clustering.centroids import save_clustering_set

                save_clustering_set(centroid_file, cset)
                _remove(self.checkpoint_dir / f"{name}.npz")
                members = [by_name[s] for s in cset.shards]
                part = self._assign_partition(cset, members, centroid_file, resume=False)
                if cache is not None:
                    log.info(
                        "partition %s: %d shard read(s) from memory (%.0f MiB kept of %.0f)",
                        name,
                        cache.hits,
                        cache.used / 2**20,
                        cache.budget / 2**20,
                    )
            report.partitions.append(part)
            if part.clips == 0 and part.first_skip:
                report.errors.append(f"partition {name}: no clip could be assigned, e.g. {part.first_skip}")
        if self._skip_writer is not None:
            self._skip_writer.close()
        return report

    def _train(self, group: list[Path], name: str, report: StageReport):  # noqa: ANN202
        from acav.clustering.features import scan_shards
        from acav.clustering.train import train_partition

        catalog = scan_shards(group, self.config.effective_sample_size(), self.config.seed)
        for path, reason in catalog.failed_shards:
            self._record_skip(path.stem, None, f"unreadable feature shard: {reason}")
        if not catalog.shards:
            raise NothingToClusterError(
                f"none of the {len(group)} feature shard(s) of partition {name} is readable"
            )
        cset, _ = train_partition(
            catalog.shards, self.config, self.device, self.checkpoint_dir / f"{name}.npz", catalog=catalog
        )
        return cset

    def _assign_partition(
        self, cset, members: list[Path], centroid_file: Path, resume: bool
    ) -> PartitionReport:  # noqa: ANN001
        from acav.clustering.assign import AssignWorker
        from acav.clustering.centroids import save_clustering_set

        part = PartitionReport(
            name=centroid_file.stem,
            shards=[],
            centroids=str(centroid_file.relative_to(self.clusters_dir)),
            log=None,
        )
        inertia = {key: 0.0 for key in cset.keys}
        exact = True
        jobs = {
            p: self.layout.cluster_shard(p.stem)
            for p in members
            if not (resume and self.layout.cluster_shard(p.stem).exists())
        }
        # One assigner per engine worker (local: this process), centres shipped to it once.
        outcomes = get_engine().map_actors(
            AssignWorker,
            (cset, str(self.device)),
            list(jobs.items()),
            workers=1,
            resources=Resources(cpus=1, gpus=1 if self.device.type == "cuda" else 0),
        )
        done = {
            o.item[0]: o for o in progress(outcomes, total=len(jobs), desc="assign clusters", unit="shard")
        }
        for path in members:  # member order: the same records and sums whatever finished first
            if path not in jobs:
                part.shards.append(path.stem)
                part.resumed_shards += 1
                exact = False
                continue
            outcome = done[path]
            result, exc = outcome.value if outcome.ok else (None, outcome.error)
            if result is None:
                log.error("skipping feature shard %s: %s", path.name, exc)
                self._record_skip(path.stem, None, f"unreadable feature shard: {exc}")
                part.failed_shards.append(path.stem)
                continue
            for filename, reason in result.skipped:
                self._record_skip(path.stem, filename, reason)
                if part.first_skip is None:
                    part.first_skip = f"{path.name}:{filename}: {reason}"
            part.shards.append(path.stem)
            part.clips += result.clips
            part.skipped_clips += len(result.skipped)
            for key, value in result.inertia.items():
                inertia[key] += value
        if part.skipped_clips:
            log.warning(
                "partition %s: %d clip(s) skipped (missing or malformed features); reasons in %s",
                part.name,
                part.skipped_clips,
                self.clusters_dir / "skipped.jsonl",
            )
        if not part.shards:
            log.error("partition %s: no shard could be assigned; no log written", part.name)
            return part
        if part.clips == 0 and part.resumed_shards == 0:
            # nothing usable: leave no empty cluster shards or log behind, so a fixed re-run starts clean
            for name in part.shards:
                _remove(self.layout.cluster_shard(name))
                _remove(columns_path(self.layout.cluster_shard(name)))
            log.error("partition %s: no clip could be assigned; no log written", part.name)
            part.shards = []
            return part
        if exact and not part.failed_shards:
            # every clip of the partition was assigned in this run: store the exact inertia
            for model in cset.models:
                model.inertia = inertia[model.key]
            save_clustering_set(centroid_file, cset)
        part.inertia = {key_name(k): v for k, v in inertia.items()} if exact else {}
        log_path = self._write_log(
            part.shards,
            centroid_file,
            {"clips": part.clips if exact else None, "skipped_clips": part.skipped_clips if exact else None},
        )
        part.log = log_path.name
        return part


def _remove(path: Path) -> None:
    if path.exists():
        path.unlink()


def _now_iso() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def run_clustering(data_dir: Path, config: ClusteringConfig) -> StageReport:
    """Stage 5 over ``data_dir``; one writer per data directory."""
    with directory_lock(data_dir, "cluster"):
        return ClusteringStage(data_dir, config).run()
