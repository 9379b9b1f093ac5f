"""Read feature shards (FORMATS.md section 4) into per-(model, layer) matrices, one shard at a time.

A feature shard is a pickled list of clip dicts; each clip has ``video_features`` and
``audio_features`` lists whose entries carry ``model_key``, ``extractor_name``, ``dataset`` and
``array: {layer_i: 1-D ndarray}``. Clustering needs, for every clustering key ``(model_key, layer)``,
one row per clip. A clip that lacks one of the keys (its extraction failed) or whose vector is
malformed is *skipped with a reason*, so every clip ends as clustered or skipped.

Only :func:`acav.core.safe_pickle.safe_load` is used to read the files: shards are untrusted input.
Nothing here holds more than one shard in memory.
"""

from __future__ import annotations

import contextlib
import math
import pickle
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from acav.core.logs import get_logger
from acav.core.safe_pickle import safe_load

log = get_logger(__name__)

ClusterKey = tuple[str, str]  # (model_key, layer), e.g. ("layer_vggish", "layer_3")
SIDES = ("video", "audio")


class ClusteringInputError(ValueError):
    """The input as a whole cannot be clustered (no shards, no complete clips, inconsistent dims)."""


class NothingToClusterError(ClusteringInputError):
    """A partition (or the whole input) holds no clip with complete features."""


class ShardReadError(ValueError):
    """One feature shard cannot be used (unreadable, hostile pickle, not a list of clips)."""


def key_name(key: ClusterKey) -> str:
    return f"{key[0]}/{key[1]}"


def _layer_order(name: str) -> tuple[int, str]:
    # layer_10 sorts after layer_9; names without a number keep their text order after them.
    tail = name.rsplit("_", 1)[-1]
    return (int(tail), name) if tail.isdigit() else (1 << 30, name)


@dataclass(frozen=True)
class ModelInfo:
    """What the output shards repeat about one extractor (FORMATS.md section 5)."""

    model_key: str
    extractor_name: str
    dataset: str
    side: str  # "video" or "audio"


@dataclass
class ParsedClip:
    filename: str
    vectors: dict[ClusterKey, np.ndarray]
    models: dict[str, ModelInfo]


def read_shard_rows(path: Path) -> list[dict[str, Any]]:
    """Load one feature shard with the restricted unpickler; raise :class:`ShardReadError` if unusable.

    Inside :func:`rows_cache` the rows of shards read before are taken from memory (a partition is
    read up to four times: the scan, each epoch, the assignment); callers must not change them.
    """
    cache = _active_cache
    if cache is not None and (rows := cache.get(path)) is not None:
        return rows
    try:
        rows = safe_load(path)
    except (pickle.UnpicklingError, OSError) as exc:
        raise ShardReadError(str(exc)) from exc
    if not isinstance(rows, list):
        raise ShardReadError(f"{path}: expected a list of clip dicts, got {type(rows).__name__}")
    if cache is not None:
        cache.offer(path, rows)
    return rows


@dataclass
class _CachedShard:
    identity: tuple[int, int, int]  # the file's size, modification time and inode when read
    rows: list[dict[str, Any]]
    parsed: list[ParsedClip | str] | None = None  # parse_rows of ``rows``, once a pass asked


class RowsCache:
    """Feature shards' rows kept between the passes over one partition, up to ``budget`` bytes.

    A shard is charged its file size (the arrays are nearly all of it). Shards that do not fit are
    read from disk on every pass, as without the cache. An entry is used only while the file keeps
    its size, modification time and inode.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self.hits = 0
        self._shards: dict[Path, _CachedShard] = {}

    @staticmethod
    def _identity(path: Path) -> tuple[int, int, int] | None:
        try:
            stat = path.stat()
        except OSError:
            return None
        return (stat.st_size, stat.st_mtime_ns, stat.st_ino)

    def get(self, path: Path) -> list[dict[str, Any]] | None:
        entry = self._shards.get(path)
        if entry is None or entry.identity != self._identity(path):
            return None
        self.hits += 1
        return entry.rows

    def _entry_of(self, path: Path, rows: list[dict[str, Any]]) -> _CachedShard | None:
        entry = self._shards.get(path)
        return entry if entry is not None and entry.rows is rows else None  # only rows kept here

    def parsed(self, path: Path, rows: list[dict[str, Any]]) -> list[ParsedClip | str] | None:
        entry = self._entry_of(path, rows)
        return entry.parsed if entry is not None else None

    def keep_parsed(self, path: Path, rows: list[dict[str, Any]], parsed: list[ParsedClip | str]) -> None:
        entry = self._entry_of(path, rows)
        if entry is not None:
            entry.parsed = parsed

    def offer(self, path: Path, rows: list[dict[str, Any]]) -> None:
        identity = self._identity(path)
        if identity is None or path in self._shards or self.used + identity[0] > self.budget:
            return
        self._shards[path] = _CachedShard(identity, rows)
        self.used += identity[0]


_active_cache: RowsCache | None = None


@contextlib.contextmanager
def rows_cache(budget: int) -> Iterator[RowsCache | None]:
    """Keep the rows of the feature shards read inside the block in memory, up to ``budget`` bytes
    (0: no cache). For one partition's passes in this process; the memory is freed on exit."""
    global _active_cache
    if budget <= 0:
        yield None
        return
    previous, _active_cache = _active_cache, RowsCache(budget)
    try:
        yield _active_cache
    finally:
        _active_cache = previous


def parse_clip(row: Any) -> ParsedClip:
    """Extract the clip's vectors per key; raise ``ValueError(reason)`` for a malformed clip."""
    if not isinstance(row, dict):
        raise ValueError(f"clip entry is a {type(row).__name__}, not a dict")
    filename = row.get("filename")
    if not isinstance(filename, str) or not filename:
        raise ValueError("clip has no 'filename'")
    vectors: dict[ClusterKey, np.ndarray] = {}
    models: dict[str, ModelInfo] = {}
    for side in SIDES:
        entries = row.get(f"{side}_features") or []
        if not isinstance(entries, list):
            raise ValueError(f"'{side}_features' is not a list")
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("model_key"), str):
                raise ValueError(f"a '{side}_features' entry has no model_key")
            model_key = entry["model_key"]
            if model_key in models:
                raise ValueError(f"model_key {model_key!r} appears twice")
            array = entry.get("array")
            if isinstance(array, (list, tuple)):  # layer lists from older writers
                array = {f"layer_{i}": v for i, v in enumerate(array)}
            if not isinstance(array, dict) or not array:
                raise ValueError(f"{model_key}: 'array' is not a dict of layers")
            for layer, value in array.items():
                if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
                    raise ValueError(f"{model_key}/{layer}: not a numeric ndarray")
                if value.ndim != 1 or value.size == 0:
                    raise ValueError(
                        f"{model_key}/{layer}: expected a non-empty 1-D vector, got shape {value.shape}"
                    )
                vectors[(model_key, str(layer))] = value.astype(np.float32, copy=False)
            models[model_key] = ModelInfo(
                model_key=model_key,
                extractor_name=str(entry.get("extractor_name", "")),
                dataset=str(entry.get("dataset", "")),
                side=side,
            )
    # One finiteness check over all the clip's values (a numpy call per layer cost most of the parse);
    # the layer is looked up only for a clip that fails it.
    if vectors and not np.isfinite(np.concatenate(list(vectors.values()))).all():
        bad = next(key for key, vector in vectors.items() if not np.isfinite(vector).all())
        raise ValueError(f"{bad[0]}/{bad[1]}: vector has NaN or infinite values")
    return ParsedClip(filename=filename, vectors=vectors, models=models)


@dataclass
class ShardBlock:
    """One shard's usable clips as matrices (rows aligned across keys) plus what was skipped."""

    shard_name: str
    path: Path
    rows: list[dict[str, Any]]  # the shard's clip dicts, as read
    kept: list[int]  # indices into ``rows`` of the clips in ``matrices``
    matrices: dict[ClusterKey, np.ndarray]  # key -> (len(kept), dims) float32
    skipped: list[tuple[str | None, str]] = field(default_factory=list)  # (filename, reason)


def parse_rows(path: Path, rows: list[dict[str, Any]]) -> list[ParsedClip | str]:
    """:func:`parse_clip` of every row (the reason string for a malformed one); inside
    :func:`rows_cache` a shard kept in memory is parsed once for all passes."""
    cache = _active_cache
    if cache is not None and (parsed := cache.parsed(path, rows)) is not None:
        return parsed
    parsed: list[ParsedClip | str] = []
    for row in rows:
        try:
            parsed.append(parse_clip(row))
        except ValueError as exc:
            parsed.append(str(exc))
    if cache is not None:
        cache.keep_parsed(path, rows, parsed)
    return parsed


def load_block(path: Path, keys: Sequence[ClusterKey], dims: dict[ClusterKey, int]) -> ShardBlock:
    """Read a shard and build the matrices for ``keys``; clips missing a key are skipped with a reason."""
    rows = read_shard_rows(path)
    kept: list[int] = []
    columns: dict[ClusterKey, list[np.ndarray]] = {key: [] for key in keys}
    skipped: list[tuple[str | None, str]] = []
    for index, (row, clip) in enumerate(zip(rows, parse_rows(path, rows), strict=True)):
        if isinstance(clip, str):
            filename = row.get("filename") if isinstance(row, dict) else None
            skipped.append((filename if isinstance(filename, str) else None, f"malformed clip: {clip}"))
            continue
        missing = [key_name(k) for k in keys if k not in clip.vectors]
        if missing:
            models = sorted({name.split("/", 1)[0] for name in missing})
            skipped.append(
                (clip.filename, f"missing features for {', '.join(models)} ({len(missing)} layers)")
            )
            continue
        wrong = [
            f"{key_name(k)} has {clip.vectors[k].size} dims, expected {dims[k]}"
            for k in keys
            if clip.vectors[k].size != dims[k]
        ]
        if wrong:
            skipped.append((clip.filename, "wrong feature size: " + "; ".join(wrong)))
            continue
        kept.append(index)
        for key in keys:
            columns[key].append(clip.vectors[key])
    matrices = {
        key: (np.stack(vs) if vs else np.zeros((0, dims[key]), dtype=np.float32))
        for key, vs in columns.items()
    }
    return ShardBlock(
        shard_name=path.stem, path=path, rows=rows, kept=kept, matrices=matrices, skipped=skipped
    )


@dataclass
class Catalog:
    """What a first pass over a partition's shards learned: keys, widths, sizes, a reservoir sample."""

    keys: list[ClusterKey]
    dims: dict[ClusterKey, int]
    models: dict[str, ModelInfo]
    shards: list[Path]  # readable shards, in order
    failed_shards: list[tuple[Path, str]]
    complete_clips: int
    sample: dict[ClusterKey, np.ndarray]  # reservoir of complete clips, rows aligned across keys
    mean: dict[ClusterKey, np.ndarray]  # over the clips that have the key (for --normalize standardize)
    std: dict[ClusterKey, np.ndarray]


class _Reservoir:
    """Uniform sample of ``capacity`` items from a stream of unknown length (Vitter's algorithm R)."""

    def __init__(self, capacity: int, rng: np.random.Generator) -> None:
        self.capacity = capacity
        self.rng = rng
        self.items: list[Any] = []
        self.seen = 0

    def offer(self, item: Any) -> None:
        self.seen += 1
        if len(self.items) < self.capacity:
            self.items.append(item)
            return
        slot = int(self.rng.integers(0, self.seen))
        if slot < self.capacity:
            self.items[slot] = item


# Clips with a width other than their key's majority width that are tolerated as corrupt items.
MAX_ODD_WIDTH_FRACTION = 0.01


def _majority_widths(
    widths: dict[ClusterKey, Counter[int]], first_seen: dict[tuple[ClusterKey, int], str]
) -> dict[ClusterKey, int]:
    """Each key's most common width; raise when too many clips disagree (mixed extractors)."""
    dims: dict[ClusterKey, int] = {}
    for key, counter in widths.items():
        (width, count), *others = counter.most_common()
        odd = sum(n for _, n in others)
        total = count + odd
        if odd > max(1, MAX_ODD_WIDTH_FRACTION * total):
            other = others[0][0]
            raise ClusteringInputError(
                f"inconsistent feature sizes for {key_name(key)}: {count} clips have {width} dims "
                f"(first in {first_seen[(key, width)]}) but {odd} have another width, e.g. {other} in "
                f"{first_seen[(key, other)]}. Were shards from different extractors or versions mixed? "
                "Re-extract them or cluster them in separate data directories."
            )
        if odd:
            log.warning(
                "%s: %d of %d clips have a width other than %d (e.g. %s); they are skipped as corrupt",
                key_name(key),
                odd,
                total,
                width,
                first_seen[(key, others[0][0])],
            )
        dims[key] = width
    return dims


def scan_shards(
    paths: Iterable[Path],
    sample_size: int,
    seed: int,
    keys: Sequence[ClusterKey] | None = None,
    show_progress: bool = True,
) -> Catalog:
    """First pass: find the clustering keys and their widths, and draw the initialisation sample.

    ``keys`` fixes the keys (assigning with existing centroids); otherwise they are every
    ``(model_key, layer)`` seen, except keys that fewer than half of the clips have while their
    modality has other keys (ignored with a warning).

    Each key's width is the one most clips have. A few clips with another width (at most
    ``MAX_ODD_WIDTH_FRACTION`` of them, and at least one clip is always tolerated) are corrupt
    items: they are left out of the sample and skipped with a reason at assignment. More than that
    is an error: shards from different extractors or versions were mixed, which no per-clip skip
    can repair.
    """
    from acav.core.logs import progress

    paths = list(paths)
    rng = np.random.default_rng(seed)
    reservoir = _Reservoir(max(sample_size, 1), rng)
    # Statistics per (key, width) until the majority width of each key is known at the end.
    widths: dict[ClusterKey, Counter[int]] = {}
    first_seen: dict[tuple[ClusterKey, int], str] = {}
    models: dict[str, ModelInfo] = {}
    sums: dict[tuple[ClusterKey, int], np.ndarray] = {}
    sq_sums: dict[tuple[ClusterKey, int], np.ndarray] = {}
    good_paths: list[Path] = []
    failed: list[tuple[Path, str]] = []
    signatures: Counter[frozenset[tuple[ClusterKey, int]]] = Counter()  # which (key, width)s clips have
    quiet = {} if show_progress else {"disable": True}
    for path in progress(paths, desc="scan features", unit="shard", **quiet):
        try:
            rows = read_shard_rows(path)
        except ShardReadError as exc:
            log.error("skipping feature shard %s: %s", path.name, exc)
            failed.append((path, str(exc)))
            continue
        good_paths.append(path)
        for index, clip in enumerate(parse_rows(path, rows)):
            if isinstance(clip, str):
                continue  # recorded with its reason when the shard is assigned
            signature = []
            for key, vector in clip.vectors.items():
                if keys is not None and key not in keys:
                    continue
                slot = (key, vector.size)
                if slot not in sums:
                    first_seen[slot] = f"{path.name}:{clip.filename} (clip #{index})"
                    sums[slot] = np.zeros(vector.size, dtype=np.float64)
                    sq_sums[slot] = np.zeros(vector.size, dtype=np.float64)
                sums[slot] += vector
                sq_sums[slot] += np.square(vector, dtype=np.float64)
                widths.setdefault(key, Counter())[vector.size] += 1
                signature.append(slot)
            for model_key, info in clip.models.items():
                models.setdefault(model_key, info)
            present = frozenset(signature)
            signatures[present] += 1
            reservoir.offer((present, {k: clip.vectors[k] for k, _ in present}))
    dims = _majority_widths(widths, first_seen)
    counts = Counter({key: widths[key][dims[key]] for key in dims})
    key_sets: Counter[frozenset[ClusterKey]] = Counter()
    for present, n in signatures.items():  # a key with an odd width counts as missing for that clip
        key_sets[frozenset(k for k, width in present if dims[k] == width)] += n
    if keys is None:
        # One odd clip with an extra model must not make every other clip "incomplete": a key that
        # fewer than half of the clips have is ignored, unless that would drop a whole modality
        # (then the clips lacking it are skipped as before, since audio-visual needs both).
        parsed = sum(key_sets.values())
        rare = {k for k in dims if 2 * counts[k] < parsed}
        for side in SIDES:
            if all(k in rare for k in dims if models[k[0]].side == side):
                rare -= {k for k in dims if models[k[0]].side == side}
        rare = sorted(rare)
        for key in rare:
            log.warning(
                "ignoring %s: only %d of %d clips have it (first in %s); those clips are clustered "
                "on the other keys",
                key_name(key),
                counts[key],
                parsed,
                first_seen[(key, dims[key])],
            )
        common = [k for k in dims if k not in rare]
        all_keys = sorted(common, key=lambda k: (SIDES.index(models[k[0]].side), k[0], _layer_order(k[1])))
    else:
        all_keys = list(keys)
    required = frozenset((k, dims[k]) for k in all_keys if k in dims)
    complete = sum(n for present, n in key_sets.items() if frozenset(all_keys) <= present)
    sample_rows = [vectors for present, vectors in reservoir.items if required <= present]
    sample = {
        key: (
            np.stack([r[key] for r in sample_rows])
            if sample_rows
            else np.zeros((0, dims.get(key, 0)), dtype=np.float32)
        )
        for key in all_keys
    }
    mean: dict[ClusterKey, np.ndarray] = {}
    std: dict[ClusterKey, np.ndarray] = {}
    for key in all_keys:
        if counts[key]:
            mu = sums[(key, dims[key])] / counts[key]
            var = np.maximum(sq_sums[(key, dims[key])] / counts[key] - mu * mu, 0.0)
            mean[key] = mu.astype(np.float32)
            std[key] = np.sqrt(var).astype(np.float32)
    return Catalog(
        keys=all_keys,
        dims={k: dims[k] for k in all_keys if k in dims},
        models=models,
        shards=good_paths,
        failed_shards=failed,
        complete_clips=complete,
        sample=sample,
        mean=mean,
        std=std,
    )


def iter_blocks(
    paths: Sequence[Path], keys: Sequence[ClusterKey], dims: dict[ClusterKey, int]
) -> Iterator[ShardBlock | tuple[Path, str]]:
    """Yield each shard's block, or ``(path, reason)`` for a shard that could not be read."""
    for path in paths:
        try:
            yield load_block(path, keys, dims)
        except ShardReadError as exc:
            yield (path, str(exc))


def batches_of(
    blocks: Iterable[ShardBlock], batch_size: int, rng: np.random.Generator | None
) -> Iterator[dict[ClusterKey, np.ndarray]]:
    """Re-cut the (shuffled) rows of consecutive shards into mini-batches of ``batch_size``.

    Only the current shard plus fewer than ``batch_size`` carried-over rows are held, so memory is
    bounded by the shard and batch sizes, not by the data set. The last, shorter batch is kept.
    """
    carry: dict[ClusterKey, np.ndarray] | None = None
    for block in blocks:
        n = len(block.kept)
        if n == 0:
            continue
        order = rng.permutation(n) if rng is not None else np.arange(n)
        mats = {k: m[order] for k, m in block.matrices.items()}
        if carry is not None:
            mats = {k: np.concatenate([carry[k], m]) for k, m in mats.items()}
            carry = None
        total = next(iter(mats.values())).shape[0]
        full = (total // batch_size) * batch_size
        for start in range(0, full, batch_size):
            yield {k: m[start : start + batch_size] for k, m in mats.items()}
        if full < total:
            carry = {k: m[full:].copy() for k, m in mats.items()}
    if carry is not None:
        yield carry


def count_batches(n_rows: int, batch_size: int) -> int:
    return math.ceil(n_rows / batch_size) if n_rows else 0
