"""``acav export``: write a subset of clips as WebDataset shards, resumably, then verify it.

Layout of one exported subset (``export/curated/`` or ``export/random/``):

- ``shard-NNNNNN.tar``: per clip ``{key}.mp4`` (the clip's bytes, from the stage-3 shard) and
  ``{key}.json`` (id, segment, source shard, cluster labels, selection step, subset name);
- ``shard-NNNNNN.json``: the list of those json records, written after the tar (both atomically),
  so a shard is finished when its ``.json`` lists exactly the clips planned for it;
- ``subset.csv``: the subset in output.csv's format; ``export.log.jsonl``: per-clip failures;
- ``manifest.json``: counts, shards and the verification result.

The plan (which clip goes to which shard) depends only on the subset's rows and
``clips_per_shard``, so a re-run skips the finished shards and redoes the others.
"""

from __future__ import annotations

import csv
import io
import json
import tarfile
import time
from collections import Counter
from pathlib import Path

from acav.core.atomic import atomic_path, atomic_write_json, atomic_write_text, remove_stale_temps
from acav.core.layout import DataLayout, list_shards, shard_name
from acav.core.logs import get_logger, progress
from acav.core.records import JsonlWriter
from acav.export.config import ExportConfig
from acav.export.sources import (
    ClipRow,
    ClusterLabels,
    SourceClips,
    pool_rows,
    random_subset,
    read_output_csv,
    read_selection_steps,
)

log = get_logger(__name__)

SELECTION_ORDER = "output.order.csv"  # written by stage 6 beside output.csv


def plan_shards(rows: list[ClipRow], clips_per_shard: int) -> list[list[ClipRow]]:
    return [rows[i : i + clips_per_shard] for i in range(0, len(rows), clips_per_shard)]


def clip_record(row: ClipRow, subset: str, labels: ClusterLabels, steps: dict[str, int]) -> dict:
    return {
        "key": row.key,
        "filename": row.filename,
        "id": row.video_id,
        "segment": list(row.segment),
        "shard": row.source_shard,
        "clusters": labels.get(row.source_shard, row.filename),
        "selection_step": steps.get(row.key),
        "subset": subset,
    }


def shard_finished(tar_path: Path, index_path: Path, rows: list[ClipRow]) -> bool:
    if not (tar_path.is_file() and index_path.is_file()):
        return False
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
        return [entry["key"] for entry in index] == [row.key for row in rows]
    except (OSError, ValueError, TypeError, KeyError):
        return False


def _add_member(tar: tarfile.TarFile, name: str, data: bytes, mtime: int) -> None:
    info = tarfile.TarInfo(name=name)
    info.size = len(data)
    info.mtime = mtime
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def write_shard(
    tar_path: Path,
    index_path: Path,
    records: list[tuple[ClipRow, dict]],
    source: SourceClips,
    failures: JsonlWriter,
) -> int:
    """Write one shard (tar first, then its index, both atomic); returns how many clips failed."""
    written: list[dict] = []
    mtime = int(time.time())
    with atomic_path(tar_path) as tmp:
        with tarfile.open(tmp, "w", format=tarfile.GNU_FORMAT) as tar:
            for row, record in records:
                try:
                    data = source.read(row)
                except (OSError, tarfile.TarError) as exc:
                    failures.write({"clip": row.filename, "shard": row.source_shard, "error": str(exc)})
                    log.warning("%s: %s", tar_path.name, exc)
                    continue
                _add_member(tar, f"{row.key}.mp4", data, mtime)
                _add_member(tar, f"{row.key}.json", json.dumps(record, ensure_ascii=False).encode(), mtime)
                written.append(record)
    atomic_write_json(index_path, written)
    return len(records) - len(written)


def verify_export(out_dir: Path, rows: list[ClipRow]) -> dict:
    """Read every exported tar back: each planned clip present exactly once, with its .mp4 and a
    .json whose id matches, and nothing else."""
    members: Counter[str] = Counter()
    ids: dict[str, str] = {}
    for tar_path in list_shards(out_dir, ".tar"):
        with tarfile.open(tar_path, "r:") as tar:
            for member in tar:
                members[member.name] += 1
                if member.name.endswith(".json"):
                    handle = tar.extractfile(member)
                    ids[member.name[: -len(".json")]] = (
                        json.loads(handle.read()).get("id") if handle else None
                    )
    planned = {row.key: row for row in rows}
    missing = [k for k in planned if members[f"{k}.mp4"] == 0 or members[f"{k}.json"] == 0]
    duplicated = sorted({name for name, count in members.items() if count > 1})
    expected = {f"{k}.{ext}" for k in planned for ext in ("mp4", "json")}
    unexpected = sorted(set(members) - expected)
    wrong_id = [k for k, row in planned.items() if k in ids and ids[k] != row.video_id]
    return {
        "ok": not (missing or duplicated or unexpected or wrong_id),
        "clips": len(planned),
        "present": len(planned) - len(missing),
        "missing": missing[:20],
        "duplicated": duplicated[:20],
        "unexpected": unexpected[:20],
        "wrong_id": wrong_id[:20],
    }


def export_subset(
    layout: DataLayout, out_dir: Path, subset: str, rows: list[ClipRow], clips_per_shard: int
) -> dict:
    """Export ``rows`` into ``out_dir`` (resuming), verify, write the manifest; return it."""
    started = time.time()
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out_dir)
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(row.csv_row() for row in rows)
    atomic_write_text(out_dir / "subset.csv", text.getvalue())
    labels = ClusterLabels(layout.clusters_dir)
    steps = read_selection_steps(layout.root / SELECTION_ORDER) if subset == "curated" else {}
    plan = plan_shards(rows, clips_per_shard)
    source = SourceClips(layout)
    written = skipped = failed = 0
    with JsonlWriter(out_dir / "export.log.jsonl") as failures:
        for index, chunk in enumerate(progress(plan, desc=f"export {subset}", unit="shard")):
            tar_path, index_path = out_dir / f"{shard_name(index)}.tar", out_dir / f"{shard_name(index)}.json"
            if shard_finished(tar_path, index_path, chunk):
                skipped += 1
                continue
            records = [(row, clip_record(row, subset, labels, steps)) for row in chunk]
            failed += write_shard(tar_path, index_path, records, source, failures)
            written += 1
    source.close()
    for stale in list_shards(out_dir, ".tar")[len(plan) :]:  # left by an earlier, larger plan
        stale.unlink()
        stale.with_suffix(".json").unlink(missing_ok=True)
    verification = verify_export(out_dir, rows)
    manifest = {
        "subset": subset,
        "clips": len(rows),
        "shards": len(plan),
        "shards_written": written,
        "shards_skipped": skipped,
        "clips_failed": failed,
        "clips_per_shard": clips_per_shard,
        "seconds": round(time.time() - started, 3),
        "verification": verification,
    }
    atomic_write_json(out_dir / "manifest.json", manifest)
    return manifest


def delete_bundled_clips(layout: DataLayout) -> dict:
    """Delete ``videos/clips/*.mp4`` files stored, with the same size, in a complete stage-3 shard."""
    from acav.clip_segmentation.shards import complete_shards

    deleted = kept = 0
    for index in sorted(complete_shards(layout)):
        with tarfile.open(layout.video_shard_tar(index), "r:") as tar:
            sizes = {m.name: m.size for m in tar if m.isfile()}
        for name, size in sizes.items():
            try:
                clip = DataLayout.inside(layout.clips_dir, name)
            except ValueError:
                continue
            if clip.is_file() and clip.stat().st_size == size:
                clip.unlink()
                deleted += 1
            elif clip.is_file():
                kept += 1
                log.warning("%s differs from its copy in %s; kept", clip, shard_name(index))
    return {"deleted": deleted, "kept_differing": kept}


def run_export(layout: DataLayout, config: ExportConfig) -> dict:
    config.validate()
    out_root = config.output_dir or layout.root / "export"
    curated = read_output_csv(layout.output_csv)
    summary: dict = {"output_dir": str(out_root)}
    if config.curated:
        summary["curated"] = export_subset(
            layout, out_root / "curated", "curated", curated, config.clips_per_shard
        )
    if config.random_subset:
        twin = random_subset(pool_rows(layout), len(curated), config.seed)
        summary["random"] = export_subset(layout, out_root / "random", "random", twin, config.clips_per_shard)
    verified = all(summary[s]["verification"]["ok"] for s in ("curated", "random") if s in summary)
    summary["verified"] = verified
    if config.delete_clips:
        if verified:
            summary["deleted_clips"] = delete_bundled_clips(layout)
        else:
            log.error("export not verified: per-clip files under %s are kept", layout.clips_dir)
    return summary
