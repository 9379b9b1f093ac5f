"""What to export and where its bytes and labels come from: output.csv rows, the pool of stage-3
clips, cluster labels (stage 5) and selection steps (stage 6)."""

from __future__ import annotations

import csv
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acav.clip_segmentation.shards import complete_shards
from acav.core.layout import DataLayout, shard_index
from acav.core.logs import get_logger
from acav.core.safe_pickle import UnsafePickleError, safe_load

log = get_logger(__name__)


class ExportInputError(ValueError):
    """output.csv (or another input) cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class ClipRow:
    source_shard: str  # stage-3 shard holding the clip, e.g. "shard-000003"
    filename: str  # "{id}_{start}.mp4"
    video_id: str
    segment: tuple[float, float]

    @property
    def key(self) -> str:
        """The WebDataset key: the clip name without extension (ids never contain dots)."""
        return Path(self.filename).stem

    def csv_row(self) -> list[str]:
        return [self.source_shard, self.filename, self.video_id, str(list(self.segment))]


def read_output_csv(path: Path) -> list[ClipRow]:
    """Rows of ``output.csv`` (FORMATS.md section 6) in file order; a malformed line is an error
    naming the line, a clip listed twice is an error (the export must hold each clip once)."""
    if not path.is_file():
        raise ExportInputError(f"{path} not found: run stage 6 (acav select) first")
    rows: list[ClipRow] = []
    seen: dict[str, int] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for number, fields in enumerate(csv.reader(handle), start=1):
            if not fields:
                continue
            try:
                shard, filename, video_id, segment_text = fields
                shard_index(shard)
                DataLayout.inside(Path("."), filename)
                segment = json.loads(segment_text)
                row = ClipRow(shard, filename, video_id, (float(segment[0]), float(segment[1])))
            except (ValueError, TypeError, IndexError) as exc:
                raise ExportInputError(
                    f'{path}:{number}: expected SHARD_NAME,FILENAME,YOUTUBE_ID,"[START, END]" ({exc})'
                ) from exc
            if row.key in seen:
                raise ExportInputError(
                    f"{path}:{number}: clip {filename} already listed on line {seen[row.key]}"
                )
            seen[row.key] = number
            rows.append(row)
    return rows


def pool_rows(layout: DataLayout) -> list[ClipRow]:
    """Every clip of the complete stage-3 shards, in shard order: the pool a random subset is drawn from."""
    rows: list[ClipRow] = []
    for index in sorted(complete_shards(layout)):
        path = layout.video_shard_json(index)
        for entry in json.loads(path.read_text(encoding="utf-8")):
            start, end = entry["segment"]
            rows.append(ClipRow(path.stem, entry["filename"], str(entry["id"]), (float(start), float(end))))
    return rows


def random_subset(pool: list[ClipRow], size: int, seed: int) -> list[ClipRow]:
    """``size`` clips drawn uniformly without replacement (seeded), kept in pool order."""
    if size > len(pool):
        raise ExportInputError(f"cannot draw {size} random clips from a pool of {len(pool)}")
    chosen = np.sort(np.random.default_rng(seed).choice(len(pool), size=size, replace=False))
    return [pool[i] for i in chosen.tolist()]


class ClusterLabels:
    """Lazy ``{shard: {file stem: labels}}`` from ``clusters/shard-N.pkl`` (empty when absent)."""

    def __init__(self, clusters_dir: Path) -> None:
        self.clusters_dir = clusters_dir
        self._cache: dict[str, dict[str, dict]] = {}

    def get(self, shard: str, filename: str) -> dict:
        if shard not in self._cache:
            self._cache[shard] = self._load(shard)
        return self._cache[shard].get(Path(filename).stem, {})

    def _load(self, shard: str) -> dict[str, dict]:
        path = self.clusters_dir / f"{shard}.pkl"
        if not path.is_file():
            return {}
        try:
            records = safe_load(path)
            return {Path(rec["filename"]).stem: _labels(rec) for rec in records}
        except (OSError, UnsafePickleError, ValueError, TypeError, KeyError) as exc:
            log.warning("%s: cluster labels unreadable (%s); exported clips get none", path, exc)
            return {}


def _labels(record: dict) -> dict:
    """``{"video": {"<extractor>/<layer>": id}, "audio": {...}}`` from a cluster-shard record."""
    out: dict[str, dict[str, int]] = {}
    for modality in ("video", "audio"):
        labels: dict[str, int] = {}
        for entry in record.get(f"{modality}_assignments") or []:
            name = entry.get("extractor_name") or entry.get("model_key") or "?"
            for layer, value in (entry.get("array") or {}).items():
                labels[f"{name}/{layer}"] = int(value)
        out[modality] = labels
    return out


def read_selection_steps(path: Path) -> dict[str, int]:
    """``{clip file stem: step}`` from the selection order file of stage 6 (empty when absent)."""
    if not path.is_file():
        return {}
    steps: dict[str, int] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for fields in csv.reader(handle):
            if len(fields) == 4 and fields[3].isdigit():
                steps[Path(fields[1]).stem] = int(fields[3])
    return steps


class SourceClips:
    """Reads clip bytes from the stage-3 shard tars (one tar open at a time), falling back to
    ``videos/clips/``. Rows are best read grouped by shard, as output.csv is sorted."""

    def __init__(self, layout: DataLayout) -> None:
        self.layout = layout
        self._shard: str | None = None
        self._tar: tarfile.TarFile | None = None
        self._members: dict[str, tarfile.TarInfo] = {}

    def read(self, row: ClipRow) -> bytes:
        if row.source_shard != self._shard:
            self.close()
            self._shard = row.source_shard
            path = self.layout.videos_dir / f"{row.source_shard}.tar"
            if path.is_file():
                self._tar = tarfile.open(path, "r:")
                self._members = {m.name: m for m in self._tar.getmembers() if m.isfile()}
        member = self._members.get(row.filename)
        if self._tar is not None and member is not None:
            handle = self._tar.extractfile(member)
            if handle is not None:
                return handle.read()
        clip = DataLayout.inside(self.layout.clips_dir, row.filename)
        if clip.is_file():
            return clip.read_bytes()
        raise FileNotFoundError(
            f"{row.filename}: not in {row.source_shard}.tar nor in {self.layout.clips_dir}"
        )

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()
        self._tar, self._shard, self._members = None, None, {}
