"""Where every stage reads and writes under the data directory (FORMATS.md is the contract).

All paths are derived from one root, so a stage never writes outside it. Use :meth:`DataLayout.inside`
to build a path from untrusted parts (ids, member names): it refuses anything that escapes.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

SHARD_PREFIX = "shard-"
_SHARD_RE = re.compile(r"^shard-(\d{6,})$")


def default_data_dir() -> Path:
    """``$DATA_DIR`` when set, else ``data`` in the current directory (run.sh always sets it)."""
    return Path(os.environ.get("DATA_DIR") or "data")


def shard_name(index: int) -> str:
    """``shard-000042`` for index 42 (6 digits, zero padded)."""
    if index < 0:
        raise ValueError(f"shard index must be >= 0, got {index}")
    return f"{SHARD_PREFIX}{index:06d}"


def shard_index(name: str) -> int:
    """Inverse of :func:`shard_name`; accepts a bare name or a file name like ``shard-000042.tar``."""
    stem = Path(name).name.split(".", 1)[0]
    match = _SHARD_RE.match(stem)
    if not match:
        raise ValueError(f"not a shard name: {name!r} (expected shard-NNNNNN)")
    return int(match.group(1))


class UnsafePathError(ValueError):
    """A path built from untrusted parts would leave its base directory."""


@dataclass(frozen=True)
class DataLayout:
    root: Path

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        object.__setattr__(self, "root", Path(root) if root is not None else default_data_dir())

    # stage 1
    @property
    def metadata_tsv(self) -> Path:
        return self.root / "metadata.tsv"

    @property
    def filtered_tsv(self) -> Path:
        return self.root / "filtered.tsv"

    @property
    def filtered_rejects_tsv(self) -> Path:
        return self.root / "filtered.rejects.tsv"

    @property
    def filter_report_json(self) -> Path:
        return self.root / "filtered.report.json"

    # stage 2
    @property
    def videos_dir(self) -> Path:
        return self.root / "videos"

    @property
    def raw_videos_dir(self) -> Path:
        return self.videos_dir / "raw"

    @property
    def download_log(self) -> Path:
        return self.raw_videos_dir / "download.log.jsonl"

    def raw_video(self, youtube_id: str) -> Path:
        return self.inside(self.raw_videos_dir, f"{youtube_id}.mp4")

    # stage 3
    @property
    def clips_dir(self) -> Path:
        return self.videos_dir / "clips"

    @property
    def segmentation_log(self) -> Path:
        return self.clips_dir / "segmentation.log.jsonl"

    def video_shard_tar(self, index: int) -> Path:
        return self.videos_dir / f"{shard_name(index)}.tar"

    def video_shard_json(self, index: int) -> Path:
        return self.videos_dir / f"{shard_name(index)}.json"

    # stage 4
    @property
    def features_dir(self) -> Path:
        return self.root / "features"

    def feature_shard(self, name: str) -> Path:
        return self.features_dir / f"{name}.pkl"

    # stage 5
    @property
    def clusters_dir(self) -> Path:
        return self.root / "clusters"

    def cluster_shard(self, name: str) -> Path:
        return self.clusters_dir / f"{name}.pkl"

    # stage 6
    @property
    def output_csv(self) -> Path:
        return self.root / "output.csv"

    @property
    def selection_log(self) -> Path:
        return self.root / "selection.log.json"

    @staticmethod
    def inside(base: Path, *parts: str) -> Path:
        """Join untrusted ``parts`` onto ``base`` and refuse results outside ``base``."""
        for part in parts:
            if not part or "\x00" in part or "/" in part or "\\" in part or part in (".", ".."):
                raise UnsafePathError(f"refusing unsafe path component {part!r} under {base}")
        candidate = base.joinpath(*parts)
        base_resolved = base.resolve()
        resolved = candidate.resolve()
        if resolved != base_resolved and base_resolved not in resolved.parents:
            raise UnsafePathError(f"refusing path {candidate} outside {base}")
        return candidate


def list_shards(directory: str | os.PathLike[str], suffix: str) -> list[Path]:
    """Shard files ``shard-NNNNNN{suffix}`` in ``directory``, sorted by index (temp files ignored)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for entry in directory.iterdir():
        if not entry.name.endswith(suffix) or not entry.is_file():
            continue
        stem = entry.name[: -len(suffix)]
        if _SHARD_RE.match(stem):
            found.append((int(stem[len(SHARD_PREFIX) :]), entry))
    return [path for _, path in sorted(found)]
