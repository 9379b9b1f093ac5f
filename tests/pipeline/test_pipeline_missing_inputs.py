"""Every stage run on an empty data directory stops with a non-zero exit and a message that names
the missing input and the stage to run first, so ``bash ./run.sh`` never goes on with nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CASES = [
    ("filter", "metadata.tsv"),
    ("download", "filtered.tsv"),
    ("segment", "videos/raw"),
    ("extract", "videos"),
    ("cluster", "shard-NNNNNN.pkl"),
    ("select", "clusters"),
]


@pytest.mark.parametrize(("command", "names"), CASES)
def test_stage_on_empty_data_dir_fails_clearly(tmp_path: Path, command: str, names: str) -> None:
    env = dict(os.environ, ACAV_PROGRESS="0")
    proc = subprocess.run(
        [sys.executable, "-m", "acav", command, "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode != 0
    assert names in proc.stderr
    assert "first" in proc.stderr or "--input" in proc.stderr


def test_extract_with_an_empty_videos_dir_names_the_shards(tmp_path: Path) -> None:
    (tmp_path / "videos").mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "acav", "extract", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=dict(os.environ, ACAV_PROGRESS="0"),
        timeout=120,
    )
    assert proc.returncode == 1
    assert "no video shards (shard-NNNNNN.tar)" in proc.stderr and "clip_segmentation" in proc.stderr
