"""Read cluster shards (FORMATS.md section 5) and group them into selection partitions.

A ``log_*.json`` written by one clustering run lists the shards clustered together: they form one
partition, because cluster ids are only comparable within one clustering run. Logs are applied in
the order of the numbers in their names (``log_<timestamp>_<pid>_<n>.json`` from stage 5, or the
original's ``log_<timestamp>.json``), so a shard listed by several logs belongs to the newest one
(as in the original). Shards listed in no log together form one more
partition, ``unlisted`` (the original's partition ``-1``).

Rows that cannot be used (missing fields, wrong types, negative ids, clusterings that differ from
the rest of the partition) and shards that cannot be read (corrupt or hostile pickles) are recorded
with a reason in :attr:`LoadReport.problems` and skipped; the run goes on.
"""

from __future__ import annotations

import json
import numbers
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from acav.core.layout import list_shards, shard_index
from acav.core.logs import get_logger
from acav.core.safe_pickle import safe_load
from acav.subset_selection.pairings import MODALITIES, Clustering, sort_clusterings

log = get_logger(__name__)

UNLISTED = "unlisted"


@dataclass
class Partition:
    name: str  # the log file's stem, or "unlisted"
    number: int  # position in processing order; seeds this partition's random streams
    shard_names: list[str]  # shard of each source file (cluster shard stem)
    clusterings: list[Clustering]
    labels: np.ndarray  # (N, D) cluster ids
    clip_shard: list[str]  # per clip: the shard_name of the clip (for output.csv)
    clip_file: list[str]  # per clip: the clip's filename
    ncentroids: int

    @property
    def size(self) -> int:
        return int(self.labels.shape[0])


@dataclass
class LoadReport:
    problems: list[dict] = field(default_factory=list)

    def add(self, where: str, reason: str) -> None:
        log.warning("%s: %s", where, reason)
        self.problems.append({"where": where, "reason": reason})


def _log_sort_key(path: Path) -> tuple:
    # Numbers in the name compare as numbers, left to right: stage 5 writes
    # ``log_<timestamp>_<pid>_<n>`` (run start, then partition counter), the original ``log_<timestamp>``.
    parts = re.split(r"(\d+)", path.stem)
    return (tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts if p), path.name)


def read_partition_map(clusters_dir: Path, report: LoadReport) -> tuple[dict[str, str], list[str]]:
    """``shard name -> partition name`` from the logs, and the partition names in log order."""
    mapping: dict[str, str] = {}
    order: list[str] = []
    for path in sorted(clusters_dir.glob("log_*.json"), key=_log_sort_key):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            shards = data["shards"]
            if not isinstance(shards, list):
                raise TypeError("'shards' is not a list")
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
            report.add(
                str(path),
                f"unreadable clustering log ({type(exc).__name__}: {exc}); its shards are treated as unlisted",
            )
            continue
        order.append(path.stem)
        for entry in shards:
            if isinstance(entry, str) and entry:
                # Logs may list names, file names or paths: "shard-000001", "shard-000001.pkl", ".../shard-000001.pkl".
                mapping[Path(entry).name.split(".", 1)[0]] = path.stem
    return mapping, order


def group_shards(clusters_dir: Path, report: LoadReport) -> list[tuple[str, list[Path]]]:
    """``[(partition name, [shard paths])]`` in log order, ``unlisted`` last; empty groups dropped."""
    mapping, order = read_partition_map(clusters_dir, report)
    groups: dict[str, list[Path]] = {name: [] for name in order}
    groups[UNLISTED] = []
    for path in list_shards(clusters_dir, ".pkl"):
        groups[mapping.get(path.stem, UNLISTED)].append(path)
    return [(name, paths) for name, paths in groups.items() if paths]


def _row_labels(row: object, where: str) -> tuple[str, str | None, dict[Clustering, int]]:
    """``(filename, shard_name or None, {clustering: id})`` of one row; raises ValueError with a reason."""
    if not isinstance(row, dict):
        raise ValueError(f"row is a {type(row).__name__}, not a dict")
    filename = row.get("filename")
    if not isinstance(filename, str) or not filename or not filename.isprintable():
        raise ValueError(f"bad or missing 'filename' ({filename!r})")
    shard = row.get("shard_name")
    shard = shard if isinstance(shard, str) and _is_shard_name(shard) else None
    labels: dict[Clustering, int] = {}
    for modality in MODALITIES:
        entries = row.get(f"{modality}_assignments") or []
        if not isinstance(entries, list):
            raise ValueError(f"'{modality}_assignments' is not a list")
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("model_key"), str):
                raise ValueError(f"a {modality} assignment lacks a string 'model_key'")
            array = entry.get("array")
            if not isinstance(array, dict):
                raise ValueError(f"{modality} assignment '{entry['model_key']}' has no layer dict 'array'")
            for layer, value in array.items():
                value = value.item() if isinstance(value, np.ndarray) and value.size == 1 else value
                if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 0:
                    raise ValueError(
                        f"{modality}/{entry['model_key']}/{layer}: cluster id {value!r} is not an int >= 0"
                    )
                labels[Clustering(modality, entry["model_key"], str(layer))] = int(value)
    if not labels:
        raise ValueError("no video or audio assignments")
    return filename, shard, labels


def _is_shard_name(name: str) -> bool:
    try:
        shard_index(name)
    except ValueError:
        return False
    return Path(name).name == name and "." not in name


def load_partition(
    name: str, number: int, paths: list[Path], report: LoadReport, ncentroids: int | None = None
) -> Partition | None:
    """Read the shards of one partition into a label matrix; None if no usable clip is left."""
    clusterings: list[Clustering] | None = None
    rows_out: list[list[int]] = []
    clip_shard: list[str] = []
    clip_file: list[str] = []
    shard_names: list[str] = []
    for path in paths:
        try:
            records = safe_load(path)
        except Exception as exc:  # corrupt, truncated or hostile: skip the shard, keep going
            report.add(str(path), f"shard skipped: {exc}")
            continue
        if not isinstance(records, list):
            report.add(
                str(path), f"shard skipped: expected a list of clip dicts, found {type(records).__name__}"
            )
            continue
        shard_names.append(path.stem)
        for i, row in enumerate(records):
            where = f"{path}:{i}"
            try:
                filename, shard, labels = _row_labels(row, where)
                if clusterings is None:
                    clusterings = sort_clusterings(list(labels))
                if set(labels) != set(clusterings):
                    missing = sorted(c.name for c in set(clusterings) - set(labels))
                    extra = sorted(c.name for c in set(labels) - set(clusterings))
                    raise ValueError(
                        f"clusterings differ from the partition's (missing {missing}, extra {extra})"
                    )
                values = [labels[c] for c in clusterings]
                if ncentroids is not None and max(values) >= ncentroids:
                    raise ValueError(f"cluster id {max(values)} >= --ncentroids {ncentroids}")
            except ValueError as exc:
                report.add(where, f"clip skipped: {exc}")
                continue
            rows_out.append(values)
            clip_shard.append(shard or path.stem)
            clip_file.append(filename)
    if not rows_out or clusterings is None:
        if paths:
            report.add(name, "partition has no usable clips")
        return None
    labels_arr = np.asarray(rows_out, dtype=np.int64)
    count = int(ncentroids) if ncentroids is not None else int(labels_arr.max()) + 1
    dtype = np.uint8 if count <= 256 else np.uint16 if count <= 65536 else np.int32
    return Partition(
        name, number, shard_names, clusterings, labels_arr.astype(dtype), clip_shard, clip_file, count
    )


def iter_partitions(
    clusters_dir: Path, report: LoadReport, ncentroids: int | None = None
) -> Iterator[Partition]:
    """Load partitions one at a time (memory bounded by the largest partition)."""
    for number, (name, paths) in enumerate(group_shards(clusters_dir, report)):
        partition = load_partition(name, number, paths, report, ncentroids)
        if partition is not None:
            yield partition
