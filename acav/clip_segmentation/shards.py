"""Bundling clips into WebDataset shards: ``videos/shard-NNNNNN.tar`` + ``shard-NNNNNN.json``.

Scheme (documented in the README): shards are immutable once complete. A shard is complete when
both its ``.tar`` and its ``.json`` exist (the tar is written first, both atomically, so a crash
leaves at most a tar without json, which is discarded). Clips listed in complete shards' json files
are "bundled"; a later run puts only clips that are not bundled yet into new shards, numbered from
the lowest free index. So no clip is ever in two shards, and an existing shard never changes (a
feature-extraction run on it stays valid). The last shard of a run may hold fewer clips.

The tar is streamed: each clip file is copied into the archive member by member, so memory stays
bounded by tarfile's copy buffer whatever the shard size.
"""

from __future__ import annotations

import json
import os
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from acav.core.atomic import atomic_path, atomic_write_json
from acav.core.layout import DataLayout, list_shards, shard_index, shard_name
from acav.core.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class ClipEntry:
    filename: str  # "{id}_{int(start):03d}.mp4"
    video_id: str
    start: float
    end: float

    def json_entry(self) -> dict:
        return {"filename": self.filename, "id": self.video_id, "segment": [self.start, self.end]}


class ShardIndexError(ValueError):
    """A complete shard's json cannot be read: which clips are bundled is unknown, so nothing is bundled."""


def complete_shards(layout: DataLayout) -> dict[int, list[str]]:
    """``{shard index: [clip file names]}`` of the complete shards (tar and json both present)."""
    found: dict[int, list[str]] = {}
    for json_path in list_shards(layout.videos_dir, ".json"):
        index = shard_index(json_path.name)
        if not layout.video_shard_tar(index).is_file():
            log.warning("%s has no tar beside it; its clips count as not bundled", json_path)
            continue
        try:
            entries = json.loads(json_path.read_text(encoding="utf-8"))
            found[index] = [str(entry["filename"]) for entry in entries]
        except (OSError, ValueError, TypeError, KeyError, RecursionError) as exc:
            raise ShardIndexError(
                f"{json_path}: unreadable shard index ({exc}); move the shard and its .tar away and re-run"
            ) from exc
    return found


def remove_orphan_tars(layout: DataLayout) -> list[Path]:
    """Delete ``shard-N.tar`` files with no ``.json`` (left by an interrupted bundling run)."""
    removed = []
    for tar_path in list_shards(layout.videos_dir, ".tar"):
        if not layout.video_shard_json(shard_index(tar_path.name)).exists():
            log.warning("removing %s: an interrupted run left it without its .json", tar_path)
            tar_path.unlink()
            removed.append(tar_path)
    return removed


def _free_indices(used: set[int]) -> Iterable[int]:
    index = 0
    while True:
        if index not in used:
            yield index
        index += 1


def write_shard(tar_path: Path, json_path: Path, clips: list[ClipEntry], clips_dir: Path) -> None:
    """Stream ``clips`` into ``tar_path`` (members named by file name, so WebDataset keys are the clip
    names without extension), then write the json list in the same order; both atomic."""
    with atomic_path(tar_path) as tmp:
        with tarfile.open(tmp, "w", format=tarfile.GNU_FORMAT) as tar:
            for clip in clips:
                path = DataLayout.inside(clips_dir, clip.filename)
                stat = path.stat()
                info = tarfile.TarInfo(name=clip.filename)
                info.size = stat.st_size
                info.mtime = 0  # not the clip file's: identical clips give byte-identical shards
                info.mode = 0o644
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
    atomic_write_json(json_path, [clip.json_entry() for clip in clips])


def bundle(layout: DataLayout, clips: list[ClipEntry], clips_per_shard: int) -> list[str]:
    """Put the clips not yet in a complete shard into new shards; returns the new shard names."""
    remove_orphan_tars(layout)
    existing = complete_shards(layout)
    bundled = {name for names in existing.values() for name in names}
    pending = [clip for clip in clips if clip.filename not in bundled]
    missing = [clip.filename for clip in pending if not (layout.clips_dir / clip.filename).is_file()]
    if missing:
        log.warning(
            "%d recorded clips are missing in %s and are left out (e.g. %s)",
            len(missing),
            layout.clips_dir,
            missing[0],
        )
        absent = set(missing)
        pending = [clip for clip in pending if clip.filename not in absent]
    written = []
    indices = _free_indices(set(existing))
    for offset in range(0, len(pending), clips_per_shard):
        index = next(indices)
        chunk = pending[offset : offset + clips_per_shard]
        write_shard(layout.video_shard_tar(index), layout.video_shard_json(index), chunk, layout.clips_dir)
        log.info("wrote %s (%d clips)", shard_name(index), len(chunk))
        written.append(shard_name(index))
    return written
