"""End to end, as a user of a fresh clone runs it: ``python -m acav rebuild examples/output.csv``
(the published format) with the videos in a source directory, then a resumed second run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from acav.core.media import probe_media
from acav.core.records import read_jsonl

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "output.csv"


def acav(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ACAV_PROGRESS="0", PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "acav", *args], capture_output=True, text=True, env=env, timeout=300, cwd=REPO
    )


def test_published_list_rebuilt_end_to_end(source_dir, tmp_path: Path) -> None:
    # Two of the example's three videos exist (long enough for their segments); one is gone.
    source = source_dir({"qpxektwhzra": 330.0, "Zb3vX_9kq1Q": 52.0})
    data = tmp_path / "data"
    args = [
        "rebuild",
        str(EXAMPLE),
        "--data-dir",
        str(data),
        "--source-dir",
        str(source),
        "--preset",
        "ultrafast",
        "--cut-timeout",
        "30",
    ]
    proc = acav(*args, "--print-summary-json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["rows"] == 5
    assert summary["status"]["ok"] == 3 and summary["status"]["video unavailable"] == 1
    assert summary["status"]["skipped (-1)"] == 1
    assert summary["fraction_rebuilt"] == 0.75

    status = list(read_jsonl(data / "rebuild.status.jsonl"))
    assert [(r["row"], r["status"]) for r in status] == [
        (1, "ok"),
        (2, "ok"),
        (3, "ok"),
        (4, "video unavailable"),
        (5, "skipped (-1)"),
    ]
    assert [r["listed_shard"] for r in status] == ["shard-000009"] * 2 + ["shard-000012"] * 2 + [
        "shard-000013"
    ]

    entries = json.loads((data / "videos" / "shard-000000.json").read_text())
    assert [(e["filename"], e["segment"]) for e in entries] == [
        ("qpxektwhzra_292.mp4", [292.3329999997, 302.3329999997]),
        ("qpxektwhzra_318.mp4", [318.1, 328.1]),
        ("Zb3vX_9kq1Q_40.mp4", [40.04, 50.04]),
    ]
    with tarfile.open(data / "videos" / "shard-000000.tar") as tar:
        assert tar.getnames() == [e["filename"] for e in entries]
    for entry in entries:
        assert probe_media(data / "videos" / "clips" / entry["filename"]).duration == pytest.approx(
            10.0, abs=0.25
        )

    again = acav(*args)
    assert again.returncode == 0, again.stderr
    assert "3 of 4 listed clips rebuilt (75.0 %)" in again.stdout and "cut now: 0" in again.stdout
    assert sorted(p.name for p in (data / "videos").glob("shard-*")) == [
        "shard-000000.json",
        "shard-000000.tar",
    ]


def test_missing_list_is_a_clear_error(tmp_path: Path) -> None:
    proc = acav("rebuild", str(tmp_path / "nope.csv"), "--data-dir", str(tmp_path / "data"))
    assert proc.returncode == 2 and "nope.csv not found" in proc.stderr
