"""One tiny demo run through ``bash ./run.sh --demo`` (all stages and the report), shared by the
report tests of this folder."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class DemoRun:
    data: Path
    proc: subprocess.CompletedProcess[str]


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    base = tmp_path_factory.mktemp("report-demo")
    config = base / "tiny.yaml"
    config.write_text(
        "demo:\n  num_videos: 8\n  min_duration: 32\n  max_duration: 40\n  num_classes: 3\n"
        "clip_segmentation:\n  workers: 1\nfeature_extraction:\n  workers: 1\n"
        "report:\n  sample_videos: 4\n  thumbs_per_cluster: 3\n  max_clusters: 6\n  curve_points: 5\n"
    )
    env = dict(os.environ)
    env.pop("ACAV_CONFIG", None)
    env.pop("ACAV_PROGRESS", None)  # stderr is a pipe: progress must come as plain lines
    env.update(
        DATA_DIR=str(base / "demo"),
        ACAV_SKIP_SETUP="1",
        ACAV_PYTHON=sys.executable,
        ACAV_PROGRESS_INTERVAL="0",
        CUDA_VISIBLE_DEVICES="",  # the no-GPU notice must appear, and only once per run
    )
    proc = subprocess.run(
        ["bash", str(ROOT / "run.sh"), "--demo", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return DemoRun(base / "demo", proc)
