"""``acav rebuild``: re-create the clips of a published list, through the stages' own functions.

1. Read the list (streamed), validate every row, and write the distinct video ids to
   ``DATA_DIR/rebuild.videos.tsv`` (one per line, or the ``--url-template`` URL).
2. Download them with stage 2's :class:`DownloadRunner` (same options, log, resume,
   ``--retry-failed``, ``--source-dir``) into ``DATA_DIR/videos/raw``.
3. Cut exactly the listed segments with stage 3's :func:`cut_clip` into ``DATA_DIR/videos/clips``
   (threads: each cut is an ffmpeg process), checking each segment against the video first.
4. Bundle the clips, in list order, with stage 3's shard writer into ``DATA_DIR/videos/shard-*``
   (tar + json: the layout stage 4 reads, so features can be extracted from a rebuilt set).
5. Write ``DATA_DIR/rebuild.status.jsonl`` (every row of the list exactly once, in list order)
   and ``DATA_DIR/rebuild.summary.json``.

Resuming: the status is recomputed from the list and what is on disk at every run. Downloaded
videos are skipped by stage 2, clips already cut or in a complete shard are not cut again, and
complete shards never change; a re-run therefore only does the missing work.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acav.clip_segmentation.config import SegmentConfig
from acav.clip_segmentation.cutter import cut_clip
from acav.clip_segmentation.shards import ClipEntry, bundle, complete_shards
from acav.core.atomic import atomic_open, atomic_write_json, remove_stale_temps
from acav.core.layout import DataLayout, UnsafePathError, shard_name
from acav.core.logs import get_logger, progress
from acav.core.media import MediaError, MediaInfo, probe_media
from acav.core.runlock import directory_lock
from acav.core.threads import plan_threads, thread_budget
from acav.rebuild.clip_list import MALFORMED, PLACEHOLDER, ClipRow, read_clip_list
from acav.rebuild.config import RebuildConfig
from acav.video_download import log as dlog
from acav.video_download.options import DownloadConfig
from acav.video_download.runner import DownloadRunner

log = get_logger(__name__)

STATUS_NAME = "rebuild.status.jsonl"
SUMMARY_NAME = "rebuild.summary.json"
IDS_NAME = "rebuild.videos.tsv"

OK = "ok"
UNAVAILABLE = "video unavailable"
BEYOND = "segment beyond the video"
CUT_FAILED = "cut failed"
DUPLICATE = "duplicate"
STATUSES = (OK, UNAVAILABLE, BEYOND, CUT_FAILED, MALFORMED, PLACEHOLDER, DUPLICATE)
# Rows that name a clip to rebuild (the denominator of the rebuilt fraction).
WANTED = (OK, UNAVAILABLE, BEYOND, CUT_FAILED)


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    detail: str = ""
    cut_now: bool = False


def status_path(layout: DataLayout) -> Path:
    return layout.root / STATUS_NAME


def summary_path(layout: DataLayout) -> Path:
    return layout.root / SUMMARY_NAME


def scan_list(list_path: Path, rcfg: RebuildConfig, ids_path: Path) -> tuple[list[ClipRow], int]:
    """Validated rows of the list, and the number of distinct videos written to ``ids_path``."""
    rows: list[ClipRow] = []
    videos: set[str] = set()
    with atomic_open(ids_path, "w") as out:
        for row in read_clip_list(list_path, rcfg.list_format, rcfg.max_clip_length, rcfg.max_row_bytes):
            rows.append(row)
            if row.wanted and row.video_id not in videos:
                videos.add(row.video_id)
                out.write(rcfg.video_url(row.video_id) + "\n")
    return rows, len(videos)


class ClipCutter:
    """Checks a row against its downloaded video and cuts its segment with stage 3's cutter."""

    def __init__(self, layout: DataLayout, scfg: SegmentConfig, rcfg: RebuildConfig, failed: dict[str, str]):
        self.layout = layout
        self.scfg = scfg
        self.rcfg = rcfg
        self.failed = failed
        # Stage 3's thread rule: --threads (0: every core) shared by the parallel cuts.
        self.threads = plan_threads(thread_budget(scfg.threads), rcfg.cut_workers).per_worker
        self._probes: dict[str, MediaInfo | str] = {}

    def probe(self, video_id: str) -> MediaInfo | str:
        """The downloaded video's facts, or why there are none (cached per video)."""
        if video_id in self._probes:
            return self._probes[video_id]
        path = self.layout.raw_video(video_id)
        result: MediaInfo | str
        if not path.is_file():
            reason = self.failed.get(video_id)
            result = f"download failed: {reason}" if reason else "not downloaded (no successful download)"
        else:
            try:
                result = probe_media(path)
            except MediaError as exc:
                result = f"downloaded file unreadable: {exc}"
        self._probes[video_id] = result
        return result

    def check(self, row: ClipRow, bundled: set[str]) -> Outcome | MediaInfo:
        """The row's outcome when no cut is needed, else the video's facts for :meth:`cut`."""
        if row.filename in bundled:
            return Outcome(OK, "already in a complete shard")
        info = self.probe(row.video_id)
        if isinstance(info, str):
            return Outcome(UNAVAILABLE, info)
        if not info.has_video:
            return Outcome(CUT_FAILED, "the downloaded file has no video stream")
        if info.duration > 0 and row.end > info.duration + self.rcfg.tolerance:
            return Outcome(
                BEYOND, f"segment ends at {row.end:g} s; the downloaded video is {info.duration:.3f} s long"
            )
        if DataLayout.inside(self.layout.clips_dir, row.filename).is_file():
            return Outcome(OK, "clip already cut")
        return info

    def cut(self, row: ClipRow, info: MediaInfo) -> Outcome:
        """Cut ``[start, end)`` of the video to ``clips/{filename}`` and check the result."""
        source = self.layout.raw_video(row.video_id)
        destination = DataLayout.inside(self.layout.clips_dir, row.filename)
        length = row.end - row.start
        try:
            cut_clip(source, destination, row.start, length, **self.scfg.cut_options(info, self.threads))
            clip = probe_media(destination)
        except MediaError as exc:
            destination.unlink(missing_ok=True)
            return Outcome(CUT_FAILED, str(exc)[:500])
        short = length - clip.duration
        if not clip.has_video or short > self.rcfg.tolerance + 0.1:
            destination.unlink(missing_ok=True)
            what = "no video stream" if not clip.has_video else f"only {clip.duration:.3f} s of {length:g} s"
            return Outcome(CUT_FAILED, f"the cut clip has {what}")
        audio = "" if info.has_audio else " (the video has no audio track)"
        return Outcome(OK, f"cut {clip.duration:.3f} s{audio}", cut_now=True)


def decide_rows(rows: list[ClipRow], cutter: ClipCutter, bundled: set[str], workers: int) -> list[Outcome]:
    """One outcome per row, in row order; cuts run on ``workers`` threads (bounded queue)."""
    outcomes: list[Outcome | None] = [None] * len(rows)
    first_row: dict[str, int] = {}
    pending: dict[Future[Outcome], int] = {}
    bar = progress(total=len(rows), desc="rebuild", unit="clip")

    def collect(done: set[Future[Outcome]]) -> None:
        for future in done:
            index = pending.pop(future)
            try:
                outcomes[index] = future.result()
            except Exception as exc:  # a bug must cost one clip, not the run
                log.exception("unexpected error cutting row %d", rows[index].row)
                outcomes[index] = Outcome(CUT_FAILED, f"unexpected {type(exc).__name__}: {exc}")
            bar.update(1)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="acav-cut") as pool:
        try:
            for index, row in enumerate(rows):
                decided = _decide_now(row, cutter, bundled, first_row)
                if not isinstance(decided, MediaInfo):
                    outcomes[index] = decided
                    bar.update(1)
                    continue
                pending[pool.submit(cutter.cut, row, decided)] = index
                if len(pending) >= 2 * workers:
                    collect(wait(pending, return_when=FIRST_COMPLETED).done)
            while pending:
                collect(wait(pending, return_when=FIRST_COMPLETED).done)
        except BaseException:
            for future in pending:
                future.cancel()
            raise
        finally:
            bar.close()
    return [outcome for outcome in outcomes if outcome is not None]


def _decide_now(
    row: ClipRow, cutter: ClipCutter, bundled: set[str], first_row: dict[str, int]
) -> Outcome | MediaInfo:
    if not row.wanted:
        return Outcome(row.status or MALFORMED, row.detail)
    if row.filename in first_row:
        return Outcome(DUPLICATE, f"same clip file as row {first_row[row.filename]} (see its status)")
    first_row[row.filename] = row.row
    try:
        return cutter.check(row, bundled)
    except UnsafePathError as exc:  # a symlink planted in the data directory
        return Outcome(CUT_FAILED, f"{exc}; remove it and re-run")


def status_record(row: ClipRow, outcome: Outcome, shard_of: dict[str, str]) -> dict[str, Any]:
    rebuilt = outcome.status == OK
    return {
        "row": row.row,
        "status": outcome.status,
        "detail": outcome.detail,
        "id": row.video_id,
        "filename": row.filename or None,
        "segment": [row.start, row.end] if row.wanted else None,
        "listed_shard": row.listed_shard or None,
        "shard": shard_of.get(row.filename) if rebuilt else None,
    }


def run_rebuild(
    list_path: Path,
    layout: DataLayout,
    rcfg: RebuildConfig,
    dcfg: DownloadConfig,
    scfg: SegmentConfig,
) -> dict[str, Any]:
    """Rebuild the clips of ``list_path`` under ``layout``; returns the summary (also written)."""
    if not list_path.is_file():
        raise FileNotFoundError(f"clip list {list_path} not found")
    layout.root.mkdir(parents=True, exist_ok=True)
    # The data directory's lock (stages 3-6 take it too): a rebuild writes clips and shards there.
    with directory_lock(layout.root, "rebuild"):
        return _run_locked(list_path, layout, rcfg, dcfg, scfg)


def _run_locked(
    list_path: Path, layout: DataLayout, rcfg: RebuildConfig, dcfg: DownloadConfig, scfg: SegmentConfig
) -> dict[str, Any]:
    began = time.time()
    layout.clips_dir.mkdir(parents=True, exist_ok=True)
    stale = remove_stale_temps(layout.clips_dir) + remove_stale_temps(layout.videos_dir)
    if stale:
        log.info("removed %d temporary files left by an interrupted run", stale)
    ids_path = layout.root / IDS_NAME
    rows, videos = scan_list(list_path, rcfg, ids_path)
    log.info("%s: %d rows naming %d distinct videos", list_path, len(rows), videos)

    download: dict[str, Any] | None = None
    if videos:
        downloader = DownloadRunner(dcfg, ids_path, layout.raw_videos_dir)
        download = downloader.run().to_dict()
    failed = dlog.failed_reasons(layout.download_log)

    bundled = {name for names in complete_shards(layout).values() for name in names}
    cutter = ClipCutter(layout, scfg, rcfg, failed)
    outcomes = decide_rows(rows, cutter, bundled, rcfg.cut_workers)

    entries = [
        ClipEntry(row.filename, row.video_id, row.start, row.end)
        for row, outcome in zip(rows, outcomes, strict=True)
        if outcome.status == OK
    ]
    new_shards = bundle(layout, entries, scfg.clips_per_shard)
    shard_of = {name: shard_name(index) for index, names in complete_shards(layout).items() for name in names}

    counts: Counter[str] = Counter()
    with atomic_open(status_path(layout), "w") as out:
        for row, outcome in zip(rows, outcomes, strict=True):
            counts[outcome.status] += 1
            out.write(_json_line(status_record(row, outcome, shard_of)))
    video_ids = {row.video_id for row in rows if row.wanted}
    available = sum(1 for video_id in video_ids if layout.raw_video(video_id).is_file())
    summary = summarize(list_path, rows, outcomes, counts, (videos, available), new_shards, shard_of, entries)
    summary["download"] = download
    summary["seconds"] = round(time.time() - began, 3)
    atomic_write_json(summary_path(layout), summary)
    return summary


def _json_line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"


def summarize(
    list_path: Path,
    rows: list[ClipRow],
    outcomes: list[Outcome],
    counts: Counter[str],
    videos: tuple[int, int],
    new_shards: list[str],
    shard_of: dict[str, str],
    entries: list[ClipEntry],
) -> dict[str, Any]:
    wanted = sum(counts[status] for status in WANTED)
    shards = sorted({shard_of[entry.filename] for entry in entries if entry.filename in shard_of})
    return {
        "list": str(list_path),
        "rows": len(rows),
        "status": {status: counts.get(status, 0) for status in STATUSES},
        "clips_wanted": wanted,
        "clips_rebuilt": counts.get(OK, 0),
        "fraction_rebuilt": round(counts.get(OK, 0) / wanted, 6) if wanted else 0.0,
        "cut_now": sum(1 for outcome in outcomes if outcome.cut_now),
        "videos": videos[0],
        "videos_available": videos[1],
        "shards": shards,
        "new_shards": new_shards,
    }


def format_summary(summary: dict[str, Any]) -> str:
    status = ", ".join(f"{k}: {v}" for k, v in summary["status"].items() if v)
    return "\n".join(
        [
            f"rebuild: {summary['clips_rebuilt']} of {summary['clips_wanted']} listed clips rebuilt "
            f"({100 * summary['fraction_rebuilt']:.1f} %) from {summary['rows']} rows; "
            f"{summary['videos_available']} of {summary['videos']} videos available",
            f"  status: {status or '-'}",
            f"  cut now: {summary['cut_now']}; shards: {len(summary['shards'])} "
            f"({len(summary['new_shards'])} new)",
        ]
    )
