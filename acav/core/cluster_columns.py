"""Cluster shards column by column, and their columnar companion files.

A cluster shard (FORMATS.md section 5) is a pickled list of clip dicts. Stage 6 needs only three
columns of it: each clip's filename, its ``shard_name`` and its cluster id in every clustering.
Unpickling a list of dicts costs a few microseconds per clip, more than the whole selection, so
stage 5 writes beside each ``shard-NNNNNN.pkl`` a companion ``shard-NNNNNN.labels.npz`` holding
exactly those columns (plain numpy arrays, read with ``allow_pickle=False``) and the SHA-256 of
the pickle's bytes. A reader uses the companion only when that digest matches the pickle on disk,
so a pickle rewritten, replaced or copied without its companion is always read from the pickle:
the companion can make reading faster, never different.

:func:`parse_columns` is the one definition of "a regular shard" (every row a dict with a
printable filename, the same assignment layout, plain int ids >= 0); the companion is written only
for such shards and holds what :func:`parse_columns` returns for them.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import zipfile
from dataclasses import dataclass
from itertools import chain, repeat
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from acav.core.atomic import atomic_open, atomic_write_bytes
from acav.core.logs import get_logger

log = get_logger(__name__)

MODALITIES = ("video", "audio")
COLUMNS_SUFFIX = ".labels.npz"
COLUMNS_VERSION = 1

ColumnKey = tuple[str, str, str]  # (modality, model_key, layer)


@dataclass
class ShardColumns:
    """The columns stage 6 reads from one cluster shard."""

    keys: list[ColumnKey]  # one per column of ``labels``
    labels: np.ndarray  # (N, len(keys)) cluster ids >= 0, narrowest unsigned dtype
    names: str  # the clips' filenames joined by newlines (a printable filename has no newline)
    shard_values: list[str | None]  # distinct raw ``shard_name`` values, in order of first appearance
    shard_codes: np.ndarray | None  # per clip, index into shard_values; None when there is one value

    @property
    def count(self) -> int:
        return int(self.labels.shape[0])

    def raw_shards(self) -> list[str | None]:
        """The raw ``shard_name`` of every clip (None where a row had none)."""
        if self.shard_codes is None:
            return self.shard_values * self.count
        return [self.shard_values[i] for i in self.shard_codes.tolist()]


def columns_path(shard_path: str | os.PathLike[str]) -> Path:
    """``shard-NNNNNN.labels.npz`` beside ``shard-NNNNNN.pkl``."""
    path = Path(shard_path)
    return path.with_name(path.name.removesuffix(".pkl") + COLUMNS_SUFFIX)


def narrowest_uint(values: np.ndarray) -> np.ndarray:
    """The same ids (all >= 0) in the narrowest unsigned dtype."""
    top = int(values.max()) if values.size else 0
    return values.astype(np.uint8 if top < 256 else np.uint16 if top < 65536 else np.int64)


def parse_columns(records: Any) -> ShardColumns | None:
    """The columns of a regular shard, parsed with one C-level pass per field; None otherwise.

    None as soon as anything differs from the regular case (a row that is not a dict, a missing,
    empty or unprintable filename, a ``shard_name`` that is neither str nor None, assignment
    layouts that differ between rows, a model key or layer that is not a str, an id that is not a
    plain int >= 0, no assignments at all, a clustering listed twice). Callers then parse the rows
    one by one, which can name every bad row.
    """
    try:
        if not isinstance(records, list) or not records or set(map(type, records)) != {dict}:
            return None
        names = list(map(itemgetter("filename"), records))
        if set(map(type, names)) != {str} or not all(names) or not all(map(str.isprintable, names)):
            return None
        shards = list(map(dict.get, records, repeat("shard_name")))
        if not set(map(type, shards)) <= {str, type(None)}:
            return None
        columns: dict[ColumnKey, np.ndarray] = {}
        for modality in MODALITIES:
            if not _modality_columns(records, modality, columns):
                return None
    except (KeyError, IndexError, TypeError):  # a missing key or entry
        return None
    if not columns:
        return None
    keys = list(columns)
    values = list(dict.fromkeys(shards))
    codes = None
    if len(values) > 1:
        position = {value: i for i, value in enumerate(values)}
        codes = np.array([position[s] for s in shards], dtype=np.uint32)
    labels = narrowest_uint(np.stack([columns[k] for k in keys], axis=1))
    return ShardColumns(keys, labels, "\n".join(names), values, codes)


def _modality_columns(records: list, modality: str, columns: dict[ColumnKey, np.ndarray]) -> bool:
    """Add one modality's id columns to ``columns``; False if the shard is not regular."""
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
        for column, layer in enumerate(layers):
            key = (modality, model_key, layer)
            if key in columns:
                return False
            columns[key] = matrix[:, column]
    return True


def write_cluster_shard(path: str | os.PathLike[str], records: list) -> bool:
    """Write a cluster shard pickle atomically, with its columnar companion when the shard is regular.

    The companion is written first, so a shard pickle that exists has had its companion written
    (or, for an irregular shard, any older companion removed). Returns whether a companion was written.
    """
    path = Path(path)
    data = pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL)
    companion = columns_path(path)
    columns = parse_columns(records)
    if columns is None:
        companion.unlink(missing_ok=True)
    else:
        _write_companion(companion, columns, data)
    atomic_write_bytes(path, data)
    return columns is not None


def _write_companion(path: Path, columns: ShardColumns, source: bytes) -> None:
    # Few members: each one costs a zip look-up when read (about 60 us), more than its bytes.
    meta = {
        "version": COLUMNS_VERSION,
        "source_size": len(source),
        "source_sha256": hashlib.sha256(source).hexdigest(),
        "keys": [list(key) for key in columns.keys],
        "shard_values": columns.shard_values,  # str or None (a row without shard_name)
    }
    arrays = {
        "meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
        "labels": columns.labels,
        "names": np.frombuffer(columns.names.encode("utf-8"), dtype=np.uint8),
    }
    if columns.shard_codes is not None:
        arrays["shard_codes"] = columns.shard_codes
    with atomic_open(path, "wb") as handle:
        np.savez(handle, **arrays)


def read_companion(shard_path: str | os.PathLike[str], max_bytes: int) -> ShardColumns | None:
    """The columns of ``shard_path`` from its companion; None if there is none or it does not match.

    "Matches" means: the pickle on disk has the size and SHA-256 the companion recorded, and the
    companion's arrays are consistent (shapes, dtypes, one printable filename per row). Anything
    else is logged at debug level and answered with None, so the caller reads the pickle.
    """
    shard_path = Path(shard_path)
    companion = columns_path(shard_path)
    try:
        with np.load(companion, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        columns, meta = _columns_from(arrays)
        _check_source(shard_path, meta, max_bytes)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError) as exc:
        log.debug("%s: not used (%s: %s); reading %s", companion, type(exc).__name__, exc, shard_path.name)
        return None
    return columns


def _check_source(shard_path: Path, meta: dict, max_bytes: int) -> None:
    size = meta["source_size"]
    if type(size) is not int or os.stat(shard_path).st_size != size or size > max_bytes:
        raise ValueError("the pickle's size differs from the one recorded")
    with open(shard_path, "rb") as handle:
        digest = hashlib.sha256(handle.read(size + 1)).hexdigest()
    if digest != meta["source_sha256"]:
        raise ValueError("the pickle's SHA-256 differs from the one recorded")


def _columns_from(arrays: dict[str, np.ndarray]) -> tuple[ShardColumns, dict]:
    meta = json.loads(arrays["meta"].tobytes().decode("utf-8"))
    if not isinstance(meta, dict) or meta.get("version") != COLUMNS_VERSION:
        raise ValueError(f"companion version {meta.get('version')!r}, expected {COLUMNS_VERSION}")
    labels = arrays["labels"]
    if labels.ndim != 2 or labels.dtype not in (np.uint8, np.uint16, np.int64) or labels.shape[0] == 0:
        raise ValueError(f"bad label matrix {labels.dtype} {labels.shape}")
    if labels.dtype == np.int64 and labels.min() < 0:
        raise ValueError("negative cluster id")
    keys = [tuple(key) for key in meta["keys"]]
    if len(keys) != labels.shape[1] or len(set(keys)) != len(keys):
        raise ValueError(f"{len(keys)} clusterings for {labels.shape[1]} label columns, or one listed twice")
    if not all(len(k) == 3 and all(type(x) is str for x in k) and k[0] in MODALITIES for k in keys):
        raise ValueError("bad clustering keys")
    names = arrays["names"].tobytes().decode("utf-8")
    split = names.split("\n")
    if len(split) != labels.shape[0] or not all(split) or not all(map(str.isprintable, split)):
        raise ValueError("filenames do not match the label rows")
    values = meta["shard_values"]
    if not isinstance(values, list) or not values or not all(v is None or type(v) is str for v in values):
        raise ValueError("bad shard_name values")
    codes = arrays.get("shard_codes")
    if len(values) == 1:
        codes = None
    elif codes is None or codes.shape != (labels.shape[0],) or codes.dtype != np.uint32:
        raise ValueError("bad shard_name codes")
    elif int(codes.max()) >= len(values):
        raise ValueError("shard_name code out of range")
    return ShardColumns(keys, labels, names, values, codes), meta
