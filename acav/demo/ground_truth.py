"""The demo's ground truth: per video its classes, whether audio and picture match, its shots; per
metadata line the intended stage-1 outcome. Written as ``ground_truth.json`` (complete) and
``ground_truth.tsv`` (one row per video, for a quick look or a spreadsheet).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from acav.demo.metadata import KEPT, RULES, MetadataRow
from acav.demo.plan import DemoConfig, VideoPlan
from acav.demo.sounds import AUDIO_CLASSES
from acav.demo.visuals import VISUAL_CLASSES

SCHEMA_VERSION = 1
GROUND_TRUTH_JSON = "ground_truth.json"
GROUND_TRUTH_TSV = "ground_truth.tsv"


def _seconds(frame: int, fps: int) -> float:
    return round(frame / fps, 6)


def video_entry(plan: VideoPlan, config: DemoConfig, metadata_line: int) -> dict[str, Any]:
    ranges = plan.shot_ranges()
    return {
        "index": plan.index,
        "visual_class": plan.visual_class,
        "visual_class_name": VISUAL_CLASSES[plan.visual_class].name,
        "audio_class": plan.audio_class,
        "audio_class_name": AUDIO_CLASSES[plan.audio_class].name,
        "matching": plan.matching,
        "duration": float(plan.duration),
        "fps": config.fps,
        "num_frames": plan.total_frames,
        "cuts": [_seconds(start, config.fps) for start, _ in ranges[1:]],
        "shots": [[_seconds(start, config.fps), _seconds(end, config.fps)] for start, end in ranges],
        "metadata_line": metadata_line,
        "source_video": f"source_videos/{plan.youtube_id}.mp4",
    }


def build_ground_truth(config: DemoConfig, plans: list[VideoPlan], rows: list[MetadataRow]) -> dict[str, Any]:
    """The full ground truth as a JSON-ready dict (see docs/demo.md for the schema)."""
    line_of_video = {
        row.video_index: number for number, row in enumerate(rows, 1) if row.video_index is not None
    }
    videos = {p.youtube_id: video_entry(p, config, line_of_video[p.index]) for p in plans}
    matching = sum(1 for p in plans if p.matching)
    metadata = []
    for number, row in enumerate(rows, 1):
        entry: dict[str, Any] = {"line": number, "id": row.youtube_id, "intended": row.intended}
        entry["rule"] = RULES.get(row.intended, "") if row.intended != KEPT else ""
        for key in ("note", "language", "category"):
            if getattr(row, key):
                entry[key] = getattr(row, key)
        metadata.append(entry)
    intended_counts: dict[str, int] = {}
    for row in rows:
        intended_counts[row.intended] = intended_counts.get(row.intended, 0) + 1
    return {
        "schema_version": SCHEMA_VERSION,
        "config": asdict(config),
        "classes": {
            "visual": [
                {"id": i, "name": c.name, "pattern": c.pattern}
                for i, c in enumerate(VISUAL_CLASSES[: config.num_classes])
            ],
            "audio": [
                {"id": i, "name": c.name, "description": c.description}
                for i, c in enumerate(AUDIO_CLASSES[: config.num_classes])
            ],
        },
        "summary": {
            "num_videos": len(plans),
            "num_matching": matching,
            "match_fraction": matching / len(plans) if plans else 0.0,
            "metadata_lines": len(rows),
            "intended": intended_counts,
        },
        "videos": videos,
        "metadata": metadata,
    }


def ground_truth_tsv(ground_truth: dict[str, Any]) -> str:
    header = "youtube_id\tvisual_class\taudio_class\tmatching\tduration\tcuts\n"
    lines = [
        f"{vid}\t{v['visual_class']}\t{v['audio_class']}\t{int(v['matching'])}\t{v['duration']:g}\t"
        + ",".join(f"{c:g}" for c in v["cuts"])
        + "\n"
        for vid, v in ground_truth["videos"].items()
    ]
    return header + "".join(lines)


class GroundTruthError(RuntimeError):
    pass


def load_ground_truth(data_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``ground_truth.json`` from a demo data directory, with a clear error when missing."""
    path = Path(data_dir) / GROUND_TRUTH_JSON
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise GroundTruthError(
            f"{path} not found: generate the demo first (acav demo generate --data-dir {data_dir})"
        ) from exc
    except json.JSONDecodeError as exc:
        raise GroundTruthError(
            f"{path}: invalid JSON ({exc}); regenerate with acav demo generate --force"
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("videos"), dict):
        raise GroundTruthError(f"{path}: not a demo ground truth (no 'videos' mapping)")
    return data
