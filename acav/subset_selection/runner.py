"""Stage 6 driver: partitions -> selection (numpy or torch backend) -> output.csv + selection log."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acav.core.atomic import atomic_write_json, remove_stale_temps
from acav.core.config import ConfigError, config_to_dict
from acav.core.errors import check_output_file
from acav.core.gc_pause import gc_paused
from acav.core.layout import DataLayout
from acav.core.logs import get_logger, progress
from acav.core.runlock import directory_lock
from acav.engine import get_engine
from acav.subset_selection.config import SelectConfig
from acav.subset_selection.greedy import SelectionParams, SelectionResult, select_partition, target_size
from acav.subset_selection.output import MetadataIndex, write_output_csv, write_selection_order
from acav.subset_selection.pairings import make_pairs
from acav.subset_selection.partitions import LoadReport, Partition, group_shards, load_partition

log = get_logger(__name__)


class NoInputError(RuntimeError):
    """There are no cluster shards to select from."""


class EmptySelectionError(RuntimeError):
    """Cluster shards exist but no clip in them is usable: the previous output is kept."""


@dataclass
class Paths:
    clusters_dir: Path
    videos_dir: Path
    output: Path
    selection_log: Path


def resolve_paths(layout: DataLayout, config: SelectConfig) -> Paths:
    return Paths(
        clusters_dir=config.clusters_dir or layout.clusters_dir,
        videos_dir=config.videos_dir or layout.videos_dir,
        output=config.output or layout.output_csv,
        selection_log=config.selection_log or layout.selection_log,
    )


def choose_backend(config: SelectConfig) -> tuple[str, str]:
    """``(backend, device)``: auto means torch on a visible GPU, else the numpy CPU loop."""
    if config.backend == "numpy":
        return "numpy", "cpu"
    if config.starts > 1:  # the batched torch path runs one selection per partition
        if config.backend == "torch":
            raise ConfigError("--starts > 1 needs the numpy backend (--backend numpy or auto)")
        return "numpy", "cpu"
    from acav.core.device import choose_device, gpu_may_be_visible

    if config.backend == "auto" and not gpu_may_be_visible():
        return "numpy", "cpu"  # without importing torch: a second of CPU on a job that may take less

    device = choose_device(config.device)
    if config.backend == "auto":
        return ("torch", str(device)) if device.type == "cuda" else ("numpy", "cpu")
    return "torch", str(device)


class ChosenClips:
    """The selected clips of every partition, in output.csv order: by shard name, then partition, then
    position in the partition (the shard name can come from the clip's row, so one shard's clips may
    sit in several partitions). Held as arrays and one list of names, not a tuple per clip."""

    def __init__(self) -> None:
        self._rows: list[tuple[str, str]] = []  # (shard, filename) per clip, in arrival order
        self._numbers: list[np.ndarray] = []
        self._positions: list[np.ndarray] = []
        self._steps: list[tuple[np.ndarray, int]] = []  # (rows of each added clip in step order, partition)

    @property
    def size(self) -> int:
        return len(self._rows)

    def add(self, partition: Partition, selected: np.ndarray, order: np.ndarray | None = None) -> None:
        """Keep ``selected`` of ``partition``; ``order``: the same clips in the order they were added."""
        positions = np.sort(np.asarray(selected, dtype=np.int64))
        if order is not None:
            at = np.searchsorted(positions, order)
            if at.size != positions.size or not np.array_equal(
                positions[np.minimum(at, positions.size - 1)], order
            ):
                raise ValueError(f"partition {partition.name}: the step order is not the selected clips")
            self._steps.append((len(self._rows) + at, partition.number))
        self._rows.extend(partition.clip_names(positions))
        self._positions.append(positions)
        self._numbers.append(np.full(positions.size, partition.number, dtype=np.int64))

    def steps(self) -> Iterator[list]:
        """``[shard, filename, partition number, 1-based step]`` per clip whose step is known."""
        for rows, number in self._steps:
            for step, i in enumerate(rows.tolist(), start=1):
                yield [*self._rows[i], number, step]

    def in_output_order(self) -> Iterator[tuple[str, str]]:
        if not self._rows:
            return
        codes: dict[str, int] = {}
        shard_code = np.fromiter(
            (codes.setdefault(shard, len(codes)) for shard, _ in self._rows), np.int64, len(self._rows)
        )
        rank = np.empty(len(codes), dtype=np.int64)
        rank[[codes[name] for name in sorted(codes)]] = np.arange(len(codes))
        order = np.lexsort((np.concatenate(self._positions), np.concatenate(self._numbers), rank[shard_code]))
        rows = self._rows
        for i in order.tolist():
            yield rows[i]


def run_selection(layout: DataLayout, config: SelectConfig) -> dict:
    """Select clips from every partition; write output.csv and the selection log; return the log.
    One writer per data directory."""
    with directory_lock(layout.root, "select"):
        return _run_selection(layout, config)


def _run_selection(layout: DataLayout, config: SelectConfig) -> dict:
    config.validate()
    started = time.time()
    paths = resolve_paths(layout, config)
    check_output_file(paths.output, "--output")
    report = LoadReport()
    groups = group_shards(paths.clusters_dir, report)
    if not groups:
        raise NoInputError(
            f"no cluster shards (shard-NNNNNN.pkl) in {paths.clusters_dir}; run stage 5 (clustering) first"
        )
    backend, device = choose_backend(config)
    if backend == "torch" and config.algorithm != "batch_greedy":
        log.warning("--algorithm %s runs on the numpy backend; ignoring --backend torch", config.algorithm)
        backend, device = "numpy", "cpu"
    params = SelectionParams(
        config.batch_size, config.topk, config.algorithm, config.seed, config.log_points, starts=config.starts
    )
    params.validate()
    # The numpy backend steps in compiled code when numba is installed (ACAV_NUMBA=0: numpy loop).
    compiled = params.algorithm == "batch_greedy" and params.use_numba()
    cpu_loop = ("numba" if compiled else "numpy") if backend == "numpy" else None
    log.info(
        "selecting from %d partition(s) with the %s backend (%s%s)",
        len(groups),
        backend,
        device,
        f", {cpu_loop} loop" if cpu_loop else "",
    )

    chosen = ChosenClips()
    entries: list[dict] = []

    def finish(partition: Partition, pairs: list[tuple[int, int]], result: SelectionResult) -> None:
        chosen.add(partition, result.selected, result.order)
        entries.append(_partition_entry(partition, pairs, result, config))
        log.info(
            "partition %s: %d of %d clips, objective %.4f (random subset %.4f), %.2f s",
            partition.name,
            result.selected.size,
            partition.size,
            result.objective,
            result.random_objective,
            result.seconds,
        )

    if backend == "numpy":  # one engine call per partition (local: in this process, in order)
        jobs = [
            PartitionJob(name, number, paths, config, params) for number, (name, paths) in enumerate(groups)
        ]
        done = {}
        for outcome in progress(
            get_engine().map(select_job, jobs, workers=1), total=len(jobs), desc="partitions"
        ):
            if not outcome.ok:
                raise RuntimeError(f"partition {outcome.item.name}: {outcome.error}; re-run the stage")
            done[outcome.item.number] = outcome.value
        for number in sorted(done):  # partition order: the same log and order file whatever finished first
            partition, pairs, result, problems = done[number]
            report.problems.extend(problems)
            if partition is not None:
                finish(partition, pairs, result)
        groups = []
    pending: list[tuple[Partition, list[tuple[int, int]]]] = []
    for number, (name, shard_paths) in enumerate(progress(groups, desc="partitions", unit="partition")):
        partition = load_partition(name, number, shard_paths, report, config.ncentroids)
        if partition is None:
            continue
        pairs = make_pairs(partition.clusterings, config.pairing)
        if pending and (
            pending[0][0].clusterings != partition.clusterings
            or sum(p.size for p, _ in pending) + partition.size > config.max_batch_clips
        ):
            _run_torch_batch(pending, config, params, device, finish)
            pending = []
        pending.append((partition, pairs))
    if pending:
        _run_torch_batch(pending, config, params, device, finish)

    if not entries:
        shown = "; ".join(f"{p['where']}: {p['reason']}" for p in report.problems[:3])
        raise EmptySelectionError(
            f"no clip in {paths.clusters_dir} is usable ({len(report.problems)} problem(s), e.g. {shown}); "
            f"{paths.output} was not written (the previous one, if any, is kept). Fix the cluster shards "
            "(re-run stage 5) or --ncentroids, then re-run"
        )
    metadata = MetadataIndex(paths.videos_dir)
    with gc_paused():  # millions of short-lived json rows, no cycles (acav/core/gc_pause.py)
        missing = write_output_csv(paths.output, chosen.in_output_order(), metadata)
        write_selection_order(paths.output.with_suffix(".order.csv"), chosen.steps())
    remove_stale_temps(paths.output.parent)
    summary = {
        "hostname": socket.gethostname(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "seconds": round(time.time() - started, 3),
        "backend": backend,
        "device": device,
        "cpu_loop": cpu_loop,
        "config": config_to_dict(config),
        "output": str(paths.output),
        "selected": chosen.size,
        "clips": sum(e["clips"] for e in entries),
        "without_metadata": missing,
        "partitions": entries,
        "problems": report.problems + metadata.problems,
    }
    atomic_write_json(paths.selection_log, summary)
    return summary


@dataclass(frozen=True)
class PartitionJob:
    name: str
    number: int
    paths: list[Path]
    config: SelectConfig
    params: SelectionParams


def select_job(
    job: PartitionJob,
) -> tuple[Partition | None, list[tuple[int, int]], SelectionResult | None, list]:
    """Load one partition and select from it (numpy backend): ``(partition, pairs, result, problems)``;
    partition None when no usable clip is left. Runs wherever the engine puts it."""
    report = LoadReport()
    partition = load_partition(job.name, job.number, job.paths, report, job.config.ncentroids)
    if partition is None:
        return None, [], None, report.problems
    pairs = make_pairs(partition.clusterings, job.config.pairing)
    size = target_size(partition.size, job.config.ratio, job.config.size)
    result = select_partition(partition.labels, partition.ncentroids, pairs, size, job.params, job.number)
    return partition, pairs, result, report.problems


def _run_torch_batch(pending, config: SelectConfig, params: SelectionParams, device: str, finish) -> None:
    from acav.subset_selection.gpu import select_partitions_torch

    ncentroids = max(p.ncentroids for p, _ in pending)
    pairs = pending[0][1]
    sizes = [target_size(p.size, config.ratio, config.size) for p, _ in pending]
    results = select_partitions_torch(
        [p.labels for p, _ in pending],
        ncentroids,
        pairs,
        sizes,
        params,
        [p.number for p, _ in pending],
        device,
    )
    for (partition, pairs_q), result in zip(pending, results, strict=True):
        finish(partition, pairs_q, result)


def _partition_entry(
    partition: Partition, pairs: list[tuple[int, int]], result: SelectionResult, config: SelectConfig
) -> dict:
    gain = result.objective - result.random_objective
    return {
        "partition": partition.name,
        "number": partition.number,
        "shards": partition.shard_names,
        "shards_from_companions": partition.from_companions,  # the rest were unpickled
        "clips": partition.size,
        "selected": int(result.selected.size),
        "clusterings": [c.name for c in partition.clusterings],
        "ncentroids": partition.ncentroids,
        "pairing": config.pairing,
        "pairs": [[partition.clusterings[i].name, partition.clusterings[j].name] for i, j in pairs],
        "objective": round(result.objective, 8),
        "random_objective": round(result.random_objective, 8),
        "objective_over_random": round(float(gain), 8),
        "seconds": round(result.seconds, 4),
        "steps": result.steps,
    }
