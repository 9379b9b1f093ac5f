"""Write the demo data set under one data directory: metadata.tsv, source videos, ground truth.

Generation is deterministic in the seed. A small manifest (``demo_manifest.json``) records the
parameters; it is written first with ``complete: false`` and rewritten with ``complete: true`` at
the end, so an interrupted run resumes (finished videos are kept) and a finished demo with the same
parameters is not generated again. Every file is written atomically and only inside the directory.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from acav.core.atomic import atomic_write_bytes, atomic_write_json, remove_stale_temps
from acav.core.encode import encode_mp4
from acav.core.layout import DataLayout
from acav.core.logs import get_logger, progress
from acav.core.threads import available_cores
from acav.demo.ground_truth import GROUND_TRUTH_JSON, GROUND_TRUTH_TSV, build_ground_truth, ground_truth_tsv
from acav.demo.metadata import build_rows, metadata_tsv_bytes
from acav.demo.plan import DemoConfig, VideoPlan, make_plan
from acav.demo.sounds import render_audio
from acav.demo.visuals import iter_frames

log = get_logger(__name__)

# Bump when the generated content changes for the same parameters (old demos are then regenerated).
GENERATOR_VERSION = 1
MANIFEST = "demo_manifest.json"
SOURCE_VIDEOS = "source_videos"
REPORT_JSON = "demo_report.json"


class DemoError(RuntimeError):
    """The demo cannot be generated or reported; the message says what to do."""


@dataclass
class GenerateResult:
    status: str  # "generated" or "up to date"
    data_dir: Path
    num_videos: int
    videos_written: int
    metadata_lines: int
    seconds: float
    total_video_seconds: int

    def summary(self) -> str:
        if self.status == "up to date":
            return (
                f"demo data in {self.data_dir} is up to date ({self.num_videos} videos, "
                f"{self.metadata_lines} metadata lines); use --force to regenerate"
            )
        return (
            f"demo data written to {self.data_dir}: {self.metadata_lines} metadata lines, "
            f"{self.num_videos} source videos ({self.videos_written} encoded now, "
            f"{self.total_video_seconds} s of video) in {self.seconds:.1f} s"
        )


def source_video_path(data_dir: Path, youtube_id: str) -> Path:
    return DataLayout.inside(data_dir / SOURCE_VIDEOS, f"{youtube_id}.mp4")


def _params(config: DemoConfig) -> dict[str, Any]:
    return {"generator_version": GENERATOR_VERSION, "config": asdict(config)}


def read_manifest(data_dir: Path) -> dict[str, Any] | None:
    """The manifest, or None when absent or unreadable (then the demo is treated as incomplete)."""
    try:
        data = json.loads((data_dir / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _pipeline_outputs(layout: DataLayout) -> list[Path]:
    """Everything the six stages and the report write: stale once the demo data changes."""
    return [
        layout.filtered_tsv,
        layout.filtered_rejects_tsv,
        layout.filter_report_json,
        layout.videos_dir,
        layout.features_dir,
        layout.clusters_dir,
        layout.output_csv,
        layout.selection_log,
        layout.root / REPORT_JSON,
    ]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _same_bytes(data_dir: Path, expected: dict[str, bytes]) -> bool:
    for name, content in expected.items():
        path = data_dir / name
        if not path.is_file() or path.read_bytes() != content:
            return False
    return True


def _is_complete(data_dir: Path, manifest: dict[str, Any], expected: dict[str, bytes]) -> bool:
    if not manifest.get("complete") or not _same_bytes(data_dir, expected):
        return False
    for name, size in (manifest.get("files") or {}).items():
        path = data_dir / name
        if not path.is_file() or path.stat().st_size != size:
            return False
    return True


def write_video(path: Path, plan: VideoPlan, config: DemoConfig) -> None:
    """Render and encode one source video (H.264 + AAC); the file appears atomically."""
    encode_mp4(
        path,
        iter_frames(plan, config),
        width=config.width,
        height=config.height,
        fps=config.fps,
        audio=render_audio(plan, config),
        sample_rate=config.sample_rate,
        gop=2 * config.fps,  # a keyframe every 2 s keeps seeking (clip cutting) cheap
    )


def default_workers() -> int:
    """Auto ``--workers``: the available cores, at most 4."""
    return max(1, min(4, available_cores()))


def generate(
    data_dir: str | os.PathLike[str], config: DemoConfig, force: bool = False, workers: int = 0
) -> GenerateResult:
    """Generate (or resume, or skip) the demo in ``data_dir``; raises :class:`DemoError` on refusal.

    ``workers`` videos are rendered and encoded at a time (0 = auto: the available cores, at most 4).
    Each encoder keeps x264's own thread count, so that the videos are the same for any ``workers``
    (x264's output depends on its thread count).
    """
    if workers < 0:
        raise DemoError(f"--workers must be >= 0 (0 = auto), got {workers}")
    workers = workers or default_workers()
    started = time.perf_counter()
    try:
        config.validate()
    except ValueError as exc:
        raise DemoError(str(exc)) from exc
    data_dir = Path(data_dir)
    layout = DataLayout(data_dir)
    plans = make_plan(config)
    rows = build_rows(config, plans)
    truth = build_ground_truth(config, plans, rows)
    expected = {
        "metadata.tsv": metadata_tsv_bytes(rows),
        GROUND_TRUTH_JSON: (json.dumps(truth, indent=2, ensure_ascii=False) + "\n").encode("utf-8"),
        GROUND_TRUTH_TSV: ground_truth_tsv(truth).encode("utf-8"),
    }
    total_seconds = sum(p.duration for p in plans)

    manifest = read_manifest(data_dir)
    same_params = manifest is not None and manifest.get("params") == _params(config)
    if same_params and not force and _is_complete(data_dir, manifest, expected):
        return GenerateResult(
            "up to date", data_dir, len(plans), 0, len(rows), time.perf_counter() - started, total_seconds
        )
    if manifest is None and layout.metadata_tsv.exists() and not force:
        raise DemoError(
            f"{layout.metadata_tsv} exists and is not demo data (no {MANIFEST}); refusing to overwrite it. "
            "Choose another --data-dir, or pass --force to replace it with the demo"
        )
    if manifest is not None:
        # A different demo (or a forced one) makes every earlier output stale: later stages resume
        # from what they find, so leaving old shards would mix two data sets. Videos are kept when
        # only the texts changed (same parameters): their content depends on the parameters alone.
        stale: list[Path] = []
        if force or not same_params:
            stale.append(data_dir / SOURCE_VIDEOS)
        if force or not same_params or not _same_bytes(data_dir, expected):
            stale.extend(_pipeline_outputs(layout))
        for path in stale:
            if path.exists() or path.is_symlink():
                log.info("removing stale %s", path)
                _remove(path)

    data_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(data_dir)
    remove_stale_temps(data_dir / SOURCE_VIDEOS)
    atomic_write_json(data_dir / MANIFEST, {"params": _params(config), "complete": False})
    for name, content in expected.items():
        atomic_write_bytes(data_dir / name, content)

    pending = [
        plan
        for plan in plans
        if force or not same_params or not source_video_path(data_dir, plan.youtube_id).is_file()
    ]
    # Threads suffice: each video's encoder is its own ffmpeg process and numpy releases the GIL
    # while rendering. Every video's content depends on its plan alone, so order does not matter.
    with (
        ThreadPoolExecutor(max_workers=workers) as pool,
        progress(total=len(pending), desc="demo videos", unit="video") as bar,
    ):
        futures = [
            pool.submit(write_video, source_video_path(data_dir, plan.youtube_id), plan, config)
            for plan in pending
        ]
        for future in as_completed(futures):
            future.result()
            bar.update(1)
    written = len(pending)
    files = {
        f"{SOURCE_VIDEOS}/{p.youtube_id}.mp4": source_video_path(data_dir, p.youtube_id).stat().st_size
        for p in plans
    }
    seconds = time.perf_counter() - started
    atomic_write_json(
        data_dir / MANIFEST,
        {
            "params": _params(config),
            "complete": True,
            "generation_seconds": round(seconds, 3),
            "num_videos": len(plans),
            "total_video_seconds": total_seconds,
            "metadata_lines": len(rows),
            "files": files,
        },
    )
    return GenerateResult("generated", data_dir, len(plans), written, len(rows), seconds, total_seconds)
