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
from itertools import chain, repeat
from operator import itemgetter
from pathlib import Path

import numpy as np

from acav.core.layout import list_shards, shard_index
from acav.core.logs import get_logger
from acav.core.safe_pickle import safe_load
from acav.subset_selection.pairings import MODALITIES, Clustering, sort_clusterings

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


def _smallest_uint(values: np.ndarray) -> np.ndarray:
    """The same ids in the narrowest unsigned dtype (keeps a partition's label matrix small)."""
    top = int(values.max()) if values.size else 0
    return values.astype(np.uint8 if top < 256 else np.uint16 if top < 65536 else np.int64)


def _columns_fast(
    records: list, stem: str, clusterings: list[Clustering] | None, ncentroids: int | None
) -> tuple[dict[Clustering, np.ndarray], ShardClips] | None:
    """Parse a shard column by column when every row is valid and laid out alike.

    About 20x cheaper per clip than :func:`_row_labels` (C-level ``map``/``itemgetter`` passes, one
    per field). Returns None as soon as anything differs from the common case (a bad or missing
    field, another layout, numpy scalars, an id >= ``ncentroids``, clusterings that differ from the
    partition's); the caller then parses that shard row by row, which names every bad row. Accepted
    shards give exactly what the row-by-row parse gives.
    """
    try:
        if not records or set(map(type, records)) != {dict}:
            return None
        names = list(map(itemgetter("filename"), records))
        if set(map(type, names)) != {str} or not all(names) or not all(map(str.isprintable, names)):
            return None
        shards = list(map(dict.get, records, repeat("shard_name")))
        if not set(map(type, shards)) <= {str, type(None)}:
            return None
        own = {s: s if isinstance(s, str) and _is_shard_name(s) else stem for s in set(shards)}
        shard = next(iter(own.values())) if len(own) == 1 else [own[s] for s in shards]
        columns: dict[Clustering, np.ndarray] = {}
        for modality in MODALITIES:
            if not _modality_columns(records, modality, ncentroids, columns):
                return None
    except (KeyError, IndexError, TypeError):  # a missing key or entry: let the row-by-row parse say which
        return None
    if not columns or (clusterings is not None and set(columns) != set(clusterings)):
        return None
    return columns, ShardClips(shard, "\n".join(names), len(names))


def _modality_columns(
    records: list, modality: str, ncentroids: int | None, columns: dict[Clustering, np.ndarray]
) -> bool:
    """Add one modality's id columns to ``columns``; False if the shard needs the row-by-row parse."""
    entries_of = list(map(dict.get, records, repeat(f"{modality}_assignments")))
    kinds = set(map(type, entries_of))
    if kinds == {type(None)}:
        return True
    lengths = set(map(len, entries_of)) if kinds == {list} else set()
    if len(lengths) != 1:
        return False
    for j in range(lengths.pop()):
        entries = list(map(itemgetter(j), entries_of))
        if set(map(type, entries)) != {dict}:
            return False
        model_keys = set(map(itemgetter("model_key"), entries))
        arrays = list(map(itemgetter("array"), entries))
        if len(model_keys) != 1 or set(map(type, arrays)) != {dict}:
            return False
        model_key = model_keys.pop()
        layouts = set(map(tuple, arrays))
        if type(model_key) is not str or len(layouts) != 1:
            return False
        layers = layouts.pop()
        if not layers or not all(type(layer) is str for layer in layers):
            return False
        values = list(map(itemgetter(*layers), arrays))
        if len(layers) == 1:
            values = [(v,) for v in values]
        if set(map(type, chain.from_iterable(values))) != {int}:
            return False
        matrix = np.array(values)
        if matrix.dtype != np.int64 or matrix.min() < 0:
            return False
        if ncentroids is not None and matrix.max() >= ncentroids:
            return False
        for column, layer in enumerate(layers):
            clustering = Clustering(modality, model_key, layer)
            if clustering in columns:
                return False
            columns[clustering] = matrix[:, column]
    return True


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
        fast = _columns_fast(records, path.stem, clusterings, ncentroids)
        if fast is not None:
            columns, shard_clips = fast
            clusterings = clusterings or sort_clusterings(list(columns))
            block = _smallest_uint(np.stack([columns[c] for c in clusterings], axis=1))
        else:
            clusterings, rows, shard_clips = _rows_slow(records, path, clusterings, ncentroids, report)
            if not rows:
                continue
            block = _smallest_uint(np.asarray(rows, dtype=np.int64))
        del records
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
    return Partition(name, number, shard_names, clusterings, labels, clips, count)


def iter_partitions(
    clusters_dir: Path, report: LoadReport, ncentroids: int | None = None
) -> Iterator[Partition]:
    """Load partitions one at a time (memory bounded by the largest partition)."""
    for number, (name, paths) in enumerate(group_shards(clusters_dir, report)):
        partition = load_partition(name, number, paths, report, ncentroids)
        if partition is not None:
            yield partition
