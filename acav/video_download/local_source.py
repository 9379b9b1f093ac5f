"""``--source-dir``: take videos already on disk (``DIR/{id}.*``) instead of downloading them.

The directory is listed once (not once per id), so a source of millions of files costs one scan.
Files are only read; validation, linking and remuxing happen in the runner's work directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from acav.core.ids import is_valid_youtube_id
from acav.core.logs import get_logger
from acav.video_download.errors import UNAVAILABLE, DownloadFailure
from acav.video_download.inputs import InputItem

log = get_logger(__name__)

# Containers we look for, in order of preference when several exist for one id (mp4 first: it
# can be hard-linked without touching the bytes).
VIDEO_SUFFIXES = (
    ".mp4",
    ".mkv",
    ".webm",
    ".mov",
    ".m4v",
    ".avi",
    ".flv",
    ".ts",
    ".3gp",
    ".mpg",
    ".mpeg",
    ".ogv",
)


def index_source_dir(source_dir: Path) -> dict[str, Path]:
    """Map id -> best file for every ``{id}.{video suffix}`` directly inside ``source_dir``."""
    rank = {suffix: i for i, suffix in enumerate(VIDEO_SUFFIXES)}
    best: dict[str, tuple[int, Path]] = {}
    with os.scandir(source_dir) as entries:
        for entry in entries:
            stem, dot, ext = entry.name.rpartition(".")
            suffix = f".{ext.lower()}"
            if not dot or suffix not in rank or not is_valid_youtube_id(stem):
                continue
            if not entry.is_file():  # follows symlinks: a link to a real file is fine to read
                continue
            score = rank[suffix]
            if stem not in best or score < best[stem][0]:
                best[stem] = (score, Path(entry.path))
    return {video_id: path for video_id, (_, path) in best.items()}


class LocalFetcher:
    """Resolve an id to its file in the source directory (the runner validates and places it)."""

    name = "local"

    def __init__(self, source_dir: Path) -> None:
        if not source_dir.is_dir():
            raise FileNotFoundError(f"--source-dir {source_dir} is not a directory")
        self.source_dir = source_dir.absolute()
        self.index = index_source_dir(self.source_dir)
        log.info("source directory %s: %d video file(s) with an id name", source_dir, len(self.index))

    def fetch(self, item: InputItem, work_dir: Path) -> Path:
        path = self.index.get(item.id)
        if path is None or not path.is_file():
            raise DownloadFailure(UNAVAILABLE, f"no file {item.id}.* in --source-dir {self.source_dir}")
        return path
