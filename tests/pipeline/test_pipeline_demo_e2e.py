"""The README's demo command end to end: ``bash ./run.sh --demo`` on a tiny demo (via the YAML
config's ``demo`` section), all six stages, real files. Checks the outputs agree with each other."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run_demo(data_dir: Path, config: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        DATA_DIR=str(data_dir),
        ACAV_CONFIG=str(config),
        ACAV_SKIP_SETUP="1",  # use this interpreter; the suite already runs inside the environment
        ACAV_PYTHON=sys.executable,
        ACAV_PROGRESS="0",
    )
    return subprocess.run(
        ["bash", str(ROOT / "run.sh"), "--demo"], env=env, capture_output=True, text=True, timeout=600
    )


def test_run_sh_demo_runs_all_stages_and_reports(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    config = tmp_path / "tiny.yaml"
    config.write_text(
        "demo:\n  num_videos: 6\n  min_duration: 32\n  max_duration: 36\n  num_classes: 3\n"
        "clip_segmentation:\n  workers: 1\n"
        "feature_extraction:\n  num_workers: 1\n"
    )
    proc = _run_demo(data, config)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for stage in (
        "metadata_filtering",
        "video_download",
        "clip_segmentation",
        "feature_extraction",
        "clustering",
        "subset_selection",
    ):
        assert f"==> {stage}" in proc.stderr

    truth = json.loads((data / "ground_truth.json").read_text())
    assert len(truth["videos"]) == 6

    # stage 1: every metadata line accounted for, exactly the intended ones kept
    lines = (data / "metadata.tsv").read_bytes().splitlines()
    kept = (data / "filtered.tsv").read_bytes().splitlines()
    rejects = (data / "filtered.rejects.tsv").read_text().splitlines()
    assert len(kept) + len(rejects) == len(lines)
    assert len(kept) == 6

    # stage 2: one mp4 per kept video, all logged ok
    raw = sorted(p.stem for p in (data / "videos" / "raw").glob("*.mp4"))
    assert raw == sorted(truth["videos"])

    # stage 3: tar members and json entries agree, clips come from the demo's videos
    shard_clips: dict[str, list[str]] = {}
    for shard_json in sorted((data / "videos").glob("shard-*.json")):
        entries = json.loads(shard_json.read_text())
        with tarfile.open(shard_json.with_suffix(".tar")) as tar:
            members = [m.name for m in tar.getmembers()]
        assert members == [e["filename"] for e in entries]
        for entry in entries:
            assert entry["id"] in truth["videos"]
            start, end = entry["segment"]
            assert 9.9 < end - start < 10.1
        shard_clips[shard_json.stem] = members
    total_clips = sum(len(v) for v in shard_clips.values())
    assert total_clips >= 6

    # stages 4-5: one feature shard and one cluster shard per video shard
    for name in shard_clips:
        assert (data / "features" / f"{name}.pkl").is_file()
        assert (data / "clusters" / f"{name}.pkl").is_file()
    assert list((data / "clusters").glob("log_*.json"))

    # stage 6: output.csv rows name real clips with their metadata
    with open(data / "output.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert 1 <= len(rows) < total_clips
    for shard_name, filename, youtube_id, segment in rows:
        assert filename in shard_clips[shard_name]
        assert filename.startswith(youtube_id + "_")
        assert json.loads(segment)[1] > json.loads(segment)[0]

    report = json.loads((data / "demo_report.json").read_text())
    assert report["selection"]["selected_clips"] == len(rows)
    assert report["selection"]["candidate_clips"] == total_clips
    assert 0.0 <= report["selection"]["precision"] <= 1.0
    assert report["stage1"]["as_intended"] == len(lines)
    assert "precision" in proc.stdout

    # re-running resumes: nothing is regenerated and the output stays the same
    before = (data / "output.csv").read_bytes()
    again = _run_demo(data, config)
    assert again.returncode == 0, again.stderr[-3000:]
    assert (data / "output.csv").read_bytes() == before
