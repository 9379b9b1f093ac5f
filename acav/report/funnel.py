"""The run's funnel, counted from the stages' files: lines -> kept -> downloaded -> clips -> features
-> selected, each with the reasons items were dropped at that stage.

Counting rules (one per row; a row is ``None`` when its files are missing):

- lines: lines of ``metadata.tsv``;
- kept: lines of ``filtered.tsv``; reasons: the REASON column of ``filtered.rejects.tsv``;
- downloaded: ``{ID}.mp4`` files in ``videos/raw``; reasons: the last record per id of
  ``download.log.jsonl`` that is not ok (``failed: <error class>``, ``skipped: <reason>``);
- clips: entries of ``videos/shard-*.json``; reasons: videos whose last segmentation record is not
  ok (``<status>: <reason>``);
- features: clips written per feature shard (the last ``shard`` event per shard in
  ``features/extract.log.jsonl``; without that log, the records of ``features/shard-*.pkl``);
  reasons: the failed clips' reasons;
- selected: rows of ``output.csv``; reason: clips not selected.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acav.core.layout import DataLayout, list_shards
from acav.core.records import read_jsonl


@dataclass
class FunnelStage:
    key: str  # lines, kept, downloaded, clips, features, selected
    label: str
    unit: str  # "lines", "videos" or "clips"
    count: int | None  # None: the stage's files are missing
    source: str  # the file(s) counted
    reasons: dict[str, int] = field(default_factory=dict)  # why items were dropped here


def _count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


def _last_records(path: Path, key: str) -> dict[str, dict[str, Any]]:
    """The last record per ``key`` of a JSONL log (a re-run's record replaces the earlier one)."""
    last: dict[str, dict[str, Any]] = {}
    for record in read_jsonl(path):
        if isinstance(record, dict) and isinstance(record.get(key), str):
            last[record[key]] = record
    return last


def _short(reason: object, limit: int = 80) -> str:
    text = " ".join(str(reason).split()) or "(no reason given)"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _lines(layout: DataLayout) -> FunnelStage:
    path = layout.metadata_tsv
    count = _count_lines(path) if path.is_file() else None
    return FunnelStage("lines", "metadata lines", "lines", count, "metadata.tsv")


def _kept(layout: DataLayout) -> FunnelStage:
    stage = FunnelStage("kept", "kept by the filter", "videos", None, "filtered.tsv")
    if not layout.filtered_tsv.is_file():
        return stage
    stage.count = _count_lines(layout.filtered_tsv)
    reasons: Counter[str] = Counter()
    if layout.filtered_rejects_tsv.is_file():
        with open(layout.filtered_rejects_tsv, encoding="utf-8", errors="replace") as handle:
            for raw in handle:
                parts = raw.rstrip("\n").split("\t", 2)
                if len(parts) == 3:
                    reasons[_short(parts[2].split(":", 1)[0])] += 1
    stage.reasons = dict(reasons.most_common())
    return stage


def _downloaded(layout: DataLayout) -> FunnelStage:
    stage = FunnelStage("downloaded", "downloaded", "videos", None, "videos/raw/*.mp4")
    if not layout.raw_videos_dir.is_dir():
        return stage
    stage.count = sum(1 for _ in layout.raw_videos_dir.glob("*.mp4"))
    reasons: Counter[str] = Counter()
    if layout.download_log.is_file():
        for record in _last_records(layout.download_log, "id").values():
            status = record.get("status")
            if status == "failed":
                reasons[f"failed: {record.get('error_class') or 'other'}"] += 1
            elif status == "skipped":
                reasons[f"skipped: {record.get('reason') or 'unknown'}"] += 1
    stage.reasons = dict(reasons.most_common())
    return stage


def _clip_entries(layout: DataLayout) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for path in list_shards(layout.videos_dir, ".json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, list):
            entries.extend(e for e in data if isinstance(e, dict))
    return entries


def _clips(layout: DataLayout) -> FunnelStage:
    stage = FunnelStage("clips", "clips cut", "clips", None, "videos/shard-*.json")
    if not list_shards(layout.videos_dir, ".json"):
        return stage
    stage.count = len(_clip_entries(layout))
    reasons: Counter[str] = Counter()
    if layout.segmentation_log.is_file():
        for record in _last_records(layout.segmentation_log, "id").values():
            if record.get("status") != "ok":
                reasons[_short(f"{record.get('status')}: {record.get('reason')}")] += 1
    stage.reasons = dict(reasons.most_common())
    return stage


def _features(layout: DataLayout) -> FunnelStage:
    stage = FunnelStage("features", "clips with features", "clips", None, "features/extract.log.jsonl")
    shards = list_shards(layout.features_dir, ".pkl")
    if not shards:
        return stage
    log_path = layout.features_dir / "extract.log.jsonl"
    events = {}
    if log_path.is_file():
        events = {
            name: record
            for name, record in _last_records(log_path, "shard").items()
            if record.get("event") == "shard"
        }
    present = {path.name[: -len(".pkl")] for path in shards}
    if events and present <= set(events):
        stage.count = sum(int(events[name].get("written", 0)) for name in present)
        reasons: Counter[str] = Counter()
        for name in present:
            for failure in events[name].get("failures") or []:
                reasons[_short(str(failure.get("reason", "")).split(":", 1)[0])] += 1
        stage.reasons = dict(reasons.most_common())
        return stage
    from acav.core.safe_pickle import safe_load

    stage.source = "features/shard-*.pkl"
    stage.count = sum(len(safe_load(path)) for path in shards)
    return stage


def _selected(layout: DataLayout, clips: int | None) -> FunnelStage:
    stage = FunnelStage("selected", "selected", "clips", None, "output.csv")
    if not layout.output_csv.is_file():
        return stage
    with open(layout.output_csv, encoding="utf-8", errors="replace") as handle:
        stage.count = sum(1 for line in handle if line.strip())
    if clips is not None and clips >= stage.count:
        stage.reasons = {"not selected (lower audio-visual mutual information gain)": clips - stage.count}
    return stage


def collect_funnel(layout: DataLayout) -> list[FunnelStage]:
    """The six funnel rows in pipeline order (``count`` None where a stage's files are missing)."""
    stages = [_lines(layout), _kept(layout), _downloaded(layout), _clips(layout), _features(layout)]
    stages.append(_selected(layout, stages[-1].count if stages[-1].count is not None else stages[-2].count))
    return stages
