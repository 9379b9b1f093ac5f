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

from acav.core.cluster_columns import MODALITIES, ShardColumns, narrowest_uint, parse_columns, read_companion
from acav.core.layout import list_shards, shard_index
from acav.core.logs import get_logger
from acav.core.safe_pickle import max_file_bytes, safe_load
from acav.subset_selection.pairings import Clustering, sort_clusterings

log = get_logger(__name__)

UNLISTED = "unlisted"


@dataclass
class ShardClips:
    """The clips one source shard gave a partition, compactly: (shard name, filename) per clip."""

    shard: str | list[str]  # the clips' shard_name: one for all (the usual case) or one per clip
    names: str  # the clips' filenames joined by newlines (a filename is printable: never a newline)
    count: int

    def rows(self, local: np.ndarray) -> list[tuple[str, str]]:
        names = self.names.split("\n")
        if isinstance(self.shard, str):
            return [(self.shard, names[i]) for i in local.tolist()]
        return [(self.shard[i], names[i]) for i in local.tolist()]


@dataclass
class Partition:
    name: str  # the log file's stem, or "unlisted"
    number: int  # position in processing order; seeds this partition's random streams
    shard_names: list[str]  # shard of each source file (cluster shard stem)
    clusterings: list[Clustering]
    labels: np.ndarray  # (N, D) cluster ids
    clips: list[ShardClips]  # per source shard, in order: which clips (rows of labels) it gave
    ncentroids: int
    from_companions: int = 0  # shards read from their columnar companion instead of the pickle

    @property
    def size(self) -> int:
        return int(self.labels.shape[0])

    @property
    def clip_shard(self) -> list[str]:
        """The shard_name of every clip (a list of N strings: for reports, not for 10M clips)."""
        return [shard for shard, _ in self.clip_names(np.arange(self.size))]

    @property
    def clip_file(self) -> list[str]:
        """The filename of every clip (a list of N strings: for reports, not for 10M clips)."""
        return [name for _, name in self.clip_names(np.arange(self.size))]

    def clip_names(self, indices: np.ndarray) -> list[tuple[str, str]]:
        """``(shard_name, filename)`` of the clips at ``indices`` (ascending), for output.csv."""
        indices = np.asarray(indices, dtype=np.int64)
        if indices.size and np.any(np.diff(indices) < 0):
            raise ValueError("clip_names needs ascending indices")
        starts = np.cumsum([0] + [c.count for c in self.clips])
        bounds = np.searchsorted(indices, starts)
        out: list[tuple[str, str]] = []
        for b, clips in enumerate(self.clips):
            lo, hi = bounds[b], bounds[b + 1]
            if hi > lo:
                out.extend(clips.rows(indices[lo:hi] - starts[b]))
        return out


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


def _shard_clips(columns: ShardColumns, stem: str) -> ShardClips:
    """(shard, filename) of each clip; a row's invalid or missing ``shard_name`` becomes the file's stem."""
    own = {s: s if isinstance(s, str) and _is_shard_name(s) else stem for s in columns.shard_values}
    if len(own) == 1:
        shard: str | list[str] = next(iter(own.values()))
    else:
        shard = [own[s] for s in columns.raw_shards()]
    return ShardClips(shard, columns.names, columns.count)


def _block(
    columns: ShardColumns, clusterings: list[Clustering] | None, ncentroids: int | None
) -> tuple[list[Clustering], np.ndarray] | None:
    """The shard's label matrix in the partition's column order; None if the shard needs the
    row-by-row parse (other clusterings than the partition's, or an id >= ``ncentroids``)."""
    found = [Clustering(*key) for key in columns.keys]
    order = clusterings or sort_clusterings(found)
    if set(found) != set(order):
        return None
    if ncentroids is not None and int(columns.labels.max()) >= ncentroids:
        return None
    position = {c: i for i, c in enumerate(found)}
    picked = [position[c] for c in order]
    labels = columns.labels if picked == list(range(len(found))) else columns.labels[:, picked]
    return order, labels


def _rows_slow(
    records: list,
    path: Path,
    clusterings: list[Clustering] | None,
    ncentroids: int | None,
    report: LoadReport,
) -> tuple[list[Clustering] | None, list[list[int]], ShardClips]:
    """Parse a shard row by row, recording each unusable row with its reason."""
    rows_out: list[list[int]] = []
    shards: list[str] = []
    names: list[str] = []
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
        shards.append(shard or path.stem)
        names.append(filename)
    return clusterings, rows_out, ShardClips(shards, "\n".join(names), len(names))


def _read_shard(
    path: Path, clusterings: list[Clustering] | None, ncentroids: int | None, report: LoadReport
) -> tuple[list[Clustering] | None, np.ndarray | None, ShardClips, bool] | None:
    """``(partition clusterings, label block or None if no usable row, clips, read from the
    companion)`` of one shard; None if the shard cannot be read (recorded in ``report``).

    The columnar companion is used when it matches the pickle; otherwise the pickle is parsed, column
    by column for a regular shard, row by row (naming every bad row) for any other.
    """
    companion = read_companion(path, max_file_bytes())
    if companion is not None:
        fitted = _block(companion, clusterings, ncentroids)
        if fitted is not None:
            return fitted[0], fitted[1], _shard_clips(companion, path.stem), True
    try:
        records = safe_load(path)
    except Exception as exc:  # corrupt, truncated or hostile: skip the shard, keep going
        report.add(str(path), f"shard skipped: {exc}")
        return None
    if not isinstance(records, list):
        report.add(str(path), f"shard skipped: expected a list of clip dicts, found {type(records).__name__}")
        return None
    # A matching companion holds what parse_columns gives for these records, and it did not fit:
    # straight to the row-by-row parse, which names the rows that do not.
    columns = parse_columns(records) if companion is None else None
    fitted = _block(columns, clusterings, ncentroids) if columns is not None else None
    if columns is not None and fitted is not None:
        return fitted[0], fitted[1], _shard_clips(columns, path.stem), False
    clusterings, rows, shard_clips = _rows_slow(records, path, clusterings, ncentroids, report)
    if not rows:
        return clusterings, None, shard_clips, False
    return clusterings, narrowest_uint(np.asarray(rows, dtype=np.int64)), shard_clips, False


def load_partition(
    name: str, number: int, paths: list[Path], report: LoadReport, ncentroids: int | None = None
) -> Partition | None:
    """Read the shards of one partition into a label matrix; None if no usable clip is left.

    Memory: the label matrix in its narrowest dtype plus one newline-joined filename string per
    shard (about 30 bytes per clip), not a Python object per clip.
    """
    clusterings: list[Clustering] | None = None
    blocks: list[np.ndarray] = []
    clips: list[ShardClips] = []
    shard_names: list[str] = []
    from_companions = 0
    for path in paths:
        parsed = _read_shard(path, clusterings, ncentroids, report)
        if parsed is None:
            continue
        clusterings, block, shard_clips, companion = parsed
        shard_names.append(path.stem)
        from_companions += companion
        if block is None:
            continue
        blocks.append(block)
        clips.append(shard_clips)
    if not blocks or clusterings is None:
        if paths:
            report.add(name, "partition has no usable clips")
        return None
    top = max(int(b.max()) for b in blocks)
    count = int(ncentroids) if ncentroids is not None else top + 1
    dtype = np.uint8 if count <= 256 else np.uint16 if count <= 65536 else np.int32
    labels = np.concatenate(blocks).astype(dtype, copy=False)
    return Partition(name, number, shard_names, clusterings, labels, clips, count, from_companions)


def iter_partitions(
    clusters_dir: Path, report: LoadReport, ncentroids: int | None = None
) -> Iterator[Partition]:
    """Load partitions one at a time (memory bounded by the largest partition)."""
    for number, (name, paths) in enumerate(group_shards(clusters_dir, report)):
        partition = load_partition(name, number, paths, report, ncentroids)
        if partition is not None:
            yield partition
