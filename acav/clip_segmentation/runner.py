"""Stage 3 driver: every raw video -> shots -> up to N diverse 10 s clips -> per-video record -> shards.

Videos run in parallel worker processes. Each ends in one record appended to
``videos/clips/segmentation.log.jsonl``: ``ok`` with its clips, ``rejected`` (too_short, no_audio,
no_video_stream, bad_id, no_long_shot) or ``failed`` (corrupt, decode_error, cut_error, internal_error), with a
``detail`` message. A re-run skips videos whose latest record is final for the same source file
(same size and mtime): ``ok`` with all clips present, ``rejected``, and ``failed`` unless
``--retry-failed``.
"""

from __future__ import annotations

import random
import tempfile
import time
import traceback
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acav.clip_segmentation.candidates import Window, plan_windows
from acav.clip_segmentation.config import SegmentConfig
from acav.clip_segmentation.cutter import cut_clip
from acav.clip_segmentation.diversity import choose_diverse, similarity_matrix, window_descriptor
from acav.clip_segmentation.scores import VideoAnalysis, analyse_video
from acav.clip_segmentation.shards import ClipEntry, bundle, complete_shards
from acav.clip_segmentation.shots import anneal
from acav.clip_segmentation.signature import choose_by_signature
from acav.clip_segmentation.validate import clip_problem, replaced_after_bundling
from acav.core.atomic import TMP_MARKER, atomic_write_json, remove_stale_temps
from acav.core.config import config_to_dict
from acav.core.ids import is_safe_id
from acav.core.layout import DataLayout, shard_name
from acav.core.logs import get_logger, progress
from acav.core.media import MediaError, probe_media
from acav.core.records import JsonlWriter, read_jsonl
from acav.core.runlock import directory_lock
from acav.core.threads import available_cores, limit_threads, plan_threads, thread_budget
from acav.engine import Resources, get_engine

log = get_logger(__name__)


@dataclass(frozen=True)
class VideoTask:
    video_id: str
    path: str
    clips_dir: str
    config: SegmentConfig
    threads: int = 0  # decoder and ffmpeg threads of this video's work (0: their own default)


def video_seed(seed: int, video_id: str) -> int:
    """Per-video seed: the same choice for a video whatever the worker count or processing order."""
    return zlib.crc32(f"{seed}:{video_id}".encode())


def clip_filename(video_id: str, start: float) -> str:
    """``{id}_{int(start):03d}.mp4`` as in the original release (e.g. ``NgI3xyMX1Ss_069.mp4``).
    Readers take names from the records and shard json, so unpadded names of older runs still work."""
    return f"{video_id}_{int(start):03d}.mp4"


def _source_facts(path: Path) -> dict[str, Any]:
    stat = path.stat()
    return {"source": path.name, "source_size": stat.st_size, "source_mtime": round(stat.st_mtime, 3)}


def _outcome(record: dict[str, Any], status: str, reason: str | None = None, detail: str | None = None):
    record.update(status=status, reason=reason, clips=record.get("clips", []))
    if detail:
        record["detail"] = detail
    return record


def process_video(task: VideoTask) -> dict[str, Any]:
    """Segment one video; never raises for a bad video (the record says what happened)."""
    cfg = task.config
    began = time.perf_counter()
    path = Path(task.path)
    record: dict[str, Any] = {"id": task.video_id, **_source_facts(path)}
    if task.threads:
        limit_threads(task.threads)  # this worker's share: its numpy/BLAS too, not only decoder and ffmpeg
    try:
        _segment(task, path, record)
    except Exception as exc:  # a bug must not stop the other videos; the record keeps the trace
        tail = traceback.format_exc().strip().splitlines()[-3:]
        _outcome(record, "failed", "internal_error", f"{type(exc).__name__}: {exc} | {' | '.join(tail)}")
    record["seconds"] = round(time.perf_counter() - began, 3)
    record["config"] = {
        "threshold": cfg.threshold,
        "shot_rule": cfg.shot_rule,
        "keep_last_shot": cfg.keep_last_shot,
        "diversity": cfg.diversity,
        "clip_length": cfg.clip_length,
        "max_clips": cfg.max_clips,
        "seed": cfg.seed,
        "cut_mode": cfg.cut_mode,
    }
    return record


def _segment(task: VideoTask, path: Path, record: dict[str, Any]) -> None:
    cfg = task.config
    # Ids become part of clip names and WebDataset keys (a dot would split the key).
    if not is_safe_id(task.video_id):
        _outcome(record, "rejected", "bad_id", "video ids may only hold letters, digits, '_' and '-'")
        return
    try:
        info = probe_media(path)
    except MediaError as exc:
        _outcome(record, "failed", "corrupt", str(exc))
        return
    record["duration"] = round(info.duration, 6)
    if not info.has_video:
        _outcome(record, "rejected", "no_video_stream", f"{path.name} has no video stream")
        return
    if cfg.require_audio and not info.has_audio:
        _outcome(
            record,
            "rejected",
            "no_audio",
            f"{path.name} has no audio stream (later stages need sound; --no-require-audio keeps it)",
        )
        return
    if 0 < info.duration < cfg.clip_length:
        _outcome(record, "rejected", "too_short", f"{info.duration:.3f} s < clip length {cfg.clip_length} s")
        return
    try:
        analysis = analyse_video(path, cfg.analysis_short_side, cfg.fingerprint_grid, threads=task.threads)
    except MediaError as exc:
        _outcome(record, "failed", "decode_error", str(exc))
        return
    record["fps"] = round(1.0 / analysis.frame_duration, 3)
    record["video_end"] = round(analysis.end, 6)
    # A truncated file often still opens (its index is intact) but its frames stop early.
    if info.duration > 0 and analysis.end < info.duration - max(1.0, 0.05 * info.duration):
        _outcome(
            record,
            "failed",
            "corrupt",
            f"truncated: frames stop at {analysis.end:.2f} s of {info.duration:.2f} s",
        )
        return
    if analysis.end < cfg.clip_length - 1e-6:
        _outcome(
            record,
            "rejected",
            "too_short",
            f"{analysis.end:.3f} s of video < clip length {cfg.clip_length} s",
        )
        return

    shots = anneal(
        analysis.times,
        analysis.scores,
        analysis.end,
        threshold=cfg.threshold,
        factor=cfg.threshold_factor,
        max_threshold=cfg.max_threshold,
        min_length=cfg.clip_length,
        wanted=cfg.max_clips,
        keep_last=cfg.keep_last_shot,
        rule=cfg.shot_rule,
    )
    long_shots = shots.long_shots(cfg.clip_length)
    record.update(
        shot_rule=cfg.shot_rule,
        shots=len(shots.shots),
        long_shots=len(long_shots),
        threshold=round(shots.threshold, 6),
        threshold_tries=len(shots.tries),
        cuts=[round(c, 6) for c in shots.cuts],
        cut_free=shots.cut_free,
    )
    if not long_shots and cfg.shot_rule == "best":
        _outcome(
            record,
            "rejected",
            "no_long_shot",
            f"no shot of >= {cfg.clip_length} s between the {len(shots.cuts)} cuts found at threshold "
            f"{shots.threshold:.2f} (a clip never crosses a cut; --shot-rule original takes the centre)",
        )
        return
    windows, fallback = plan_windows(analysis, long_shots, cfg.clip_length)
    record.update(candidates=len(windows), fallback=fallback)
    clips_dir = Path(task.clips_dir)
    cut_options = cfg.cut_options(info, task.threads)

    def cut(window: Window, destination: Path) -> None:
        # Window times are relative to the container start, and so is ffmpeg's input -ss
        # (it adds the start time itself): pass them unchanged.
        cut_clip(path, destination, window.start, cfg.clip_length, **cut_options)

    if len(windows) > cfg.max_clips:
        rng = random.Random(video_seed(cfg.seed, task.video_id))
        try:
            picked = _choose(windows, analysis, cfg, rng, cut)
        except MediaError as exc:
            _outcome(record, "failed", "cut_error", f"cutting candidates to compare them: {exc}")
            return
        windows = sorted((windows[i] for i in picked), key=lambda w: w.start)

    made: list[Path] = []
    clips = []
    for window in windows:
        name = clip_filename(task.video_id, window.start)
        destination = DataLayout.inside(clips_dir, name)
        try:
            cut(window, destination)
        except MediaError as exc:
            for done in made:  # no half-finished set of clips for a failed video
                done.unlink(missing_ok=True)
            _outcome(record, "failed", "cut_error", f"{name}: {exc}")
            record["clips"] = []
            return
        problem = clip_problem(destination, cfg.clip_length, info.has_audio)
        if problem is not None:  # it does not count: no silent clip, no 20 s "10 s" clip
            destination.unlink(missing_ok=True)
            record.setdefault("dropped", []).append({"filename": name, "reason": problem})
            continue
        made.append(destination)
        clips.append({"filename": name, "start": round(window.start, 6), "end": round(window.end, 6)})
    record["clips"] = clips
    if not clips and record.get("dropped"):
        first = record["dropped"][0]
        _outcome(
            record,
            "failed",
            "bad_clip",
            f"no cut clip passed the check, e.g. {first['filename']}: {first['reason']}",
        )
        return
    _outcome(record, "ok", None, "fallback: no shot was long enough, took the centre" if fallback else None)


def _choose(
    windows: list[Window],
    analysis: VideoAnalysis,
    cfg: SegmentConfig,
    rng: random.Random,
    cut: Callable[[Window, Path], None],
) -> list[int]:
    """Indices of the ``cfg.max_clips`` most diverse windows by ``cfg.diversity``."""
    if cfg.diversity == "signature":  # the original's: every candidate cut to disk, then compared
        with tempfile.TemporaryDirectory(prefix="acav-signature-") as tmp:
            paths = [str(Path(tmp) / f"candidate_{i}.mp4") for i in range(len(windows))]
            for window, candidate in zip(windows, paths, strict=True):
                cut(window, Path(candidate))
            return choose_by_signature(paths, cfg.max_clips, rng)
    descriptors = [
        window_descriptor(analysis.fingerprints, w.first, w.last, cfg.fingerprint_samples) for w in windows
    ]
    return choose_diverse(similarity_matrix(descriptors), cfg.max_clips, rng)


def list_raw_videos(layout: DataLayout) -> list[tuple[str, Path]]:
    """``(id, path)`` of ``videos/raw/*.mp4`` in name order (temporary downloads are ignored)."""
    if not layout.raw_videos_dir.is_dir():
        return []
    found = []
    for path in sorted(layout.raw_videos_dir.iterdir()):
        if path.suffix == ".mp4" and TMP_MARKER not in path.name and path.is_file():
            found.append((path.stem, path))
    return found


def latest_records(layout: DataLayout) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for record in read_jsonl(layout.segmentation_log):
        if isinstance(record, dict) and isinstance(record.get("id"), str):
            latest[record["id"]] = record
    return latest


def is_done(
    record: dict[str, Any] | None, path: Path, clips_dir: Path, bundled: set[str], retry_failed: bool
) -> bool:
    """Whether a previous run's record still stands for this source file."""
    if record is None:
        return False
    stat = path.stat()
    if record.get("source_size") != stat.st_size or record.get("source_mtime") != round(stat.st_mtime, 3):
        return False  # the file was replaced (e.g. downloaded again): do it again
    status = record.get("status")
    if status == "ok":
        names = [clip.get("filename") for clip in record.get("clips", [])]
        return all(isinstance(n, str) and ((clips_dir / n).is_file() or n in bundled) for n in names)
    if status == "rejected":
        return True
    return status == "failed" and not retry_failed


def default_workers() -> int:
    return max(1, available_cores() // 2)


def _run_tasks(tasks: list[VideoTask], workers: int, writer: JsonlWriter) -> list[dict[str, Any]]:
    results = []
    bar = progress(total=len(tasks), desc="segment", unit="video")
    try:
        # local processes (default) or Ray tasks: one video per call
        for outcome in get_engine().map(process_video, tasks, workers=workers, resources=Resources(cpus=1)):
            record = outcome.value
            if not outcome.ok:  # e.g. a worker killed by the OOM killer (Ray: after its retries)
                record = {
                    "id": outcome.item.video_id,
                    "status": "failed",
                    "reason": "internal_error",
                    "detail": outcome.error,
                    "clips": [],
                }
            writer.write(record)
            results.append(record)
            bar.update(1)
        return results
    finally:
        bar.close()


def clip_entries(records: dict[str, dict[str, Any]], video_ids: list[str]) -> list[ClipEntry]:
    """Clips of the ``ok`` videos in a stable order (video id, then start): shard contents are
    reproducible."""
    entries = []
    for video_id in sorted(video_ids):
        record = records.get(video_id)
        if not record or record.get("status") != "ok":
            continue
        for clip in record.get("clips", []):
            entries.append(ClipEntry(clip["filename"], video_id, float(clip["start"]), float(clip["end"])))
    return entries


def run_segmentation(layout: DataLayout, cfg: SegmentConfig) -> dict[str, Any]:
    """Process every raw video not done yet, bundle the new clips into shards; returns the summary,
    also written to ``videos/clips/segmentation.report.json``. One writer per data directory."""
    with directory_lock(layout.root, "segment"):
        return _run_segmentation(layout, cfg)


def _run_segmentation(layout: DataLayout, cfg: SegmentConfig) -> dict[str, Any]:
    began = time.time()
    layout.clips_dir.mkdir(parents=True, exist_ok=True)
    stale = remove_stale_temps(layout.clips_dir) + remove_stale_temps(layout.videos_dir)
    if stale:
        log.info("removed %d temporary files left by an interrupted run", stale)
    videos = list_raw_videos(layout)
    if not videos:
        log.warning(
            "no videos in %s (expected {YOUTUBE_ID}.mp4 files from the download stage)", layout.raw_videos_dir
        )
    previous = latest_records(layout)
    shard_of = {name: shard_name(i) for i, names in complete_shards(layout).items() for name in names}
    bundled = set(shard_of)
    replaced = replaced_after_bundling(previous, videos, shard_of)
    for video_id, shards in replaced.items():
        log.warning(
            "%s.mp4 changed after its clips were bundled into %s; it is NOT cut again (shards never change "
            "once complete). To re-cut it, move those shards (.tar + .json) and their features away, then re-run",
            video_id,
            ", ".join(shards),
        )
    workers = cfg.workers or default_workers()
    threads = plan_threads(thread_budget(cfg.threads), workers).per_worker
    tasks = [
        VideoTask(video_id, str(path), str(layout.clips_dir), cfg, threads)
        for video_id, path in videos
        if video_id not in replaced
        and not is_done(previous.get(video_id), path, layout.clips_dir, bundled, cfg.retry_failed)
    ]
    skipped = len(videos) - len(tasks)
    if skipped:
        log.info("%d of %d videos already done (resuming); %d to process", skipped, len(videos), len(tasks))
    with JsonlWriter(layout.segmentation_log) as writer:
        new_records = _run_tasks(tasks, workers, writer)
    records = {**previous, **{r["id"]: r for r in new_records}}
    video_ids = [video_id for video_id, _ in videos]
    new_shards = (
        bundle(layout, clip_entries(records, video_ids), cfg.clips_per_shard) if cfg.bundle_shards else []
    )
    summary = summarize(records, video_ids, skipped, len(tasks), new_shards)
    summary["replaced_after_bundling"] = replaced
    summary["seconds"] = round(time.time() - began, 3)
    summary["workers"] = workers
    summary["threads_per_worker"] = threads
    summary["config"] = config_to_dict(cfg)
    atomic_write_json(layout.clips_dir / "segmentation.report.json", summary)
    return summary


def summarize(
    records: dict[str, dict[str, Any]],
    video_ids: list[str],
    skipped: int,
    processed: int,
    new_shards: list[str],
) -> dict[str, Any]:
    status = Counter()
    reasons = Counter()
    clips_per_video = Counter()
    per_video = {}
    total_clips = fallback = 0
    for video_id in video_ids:
        record = records.get(video_id, {})
        state = record.get("status", "missing")
        status[state] += 1
        count = len(record.get("clips", [])) if state == "ok" else 0
        if state == "ok":
            clips_per_video[str(count)] += 1
            total_clips += count
            fallback += bool(record.get("fallback"))
        else:
            reasons[f"{state}:{record.get('reason')}"] += 1
        per_video[video_id] = {"status": state, "clips": count, "reason": record.get("reason")}
    return {
        "videos": len(video_ids),
        "processed_now": processed,
        "skipped_done": skipped,
        "status": dict(status),
        "reasons": dict(reasons),
        "clips": total_clips,
        "clips_per_video": dict(sorted(clips_per_video.items())),
        "fallback_videos": fallback,
        "new_shards": new_shards,
        "per_video": per_video,
    }
