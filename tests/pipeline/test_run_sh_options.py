"""run.sh's own options: --from/--to are validated before anything runs (no set-up, no data
directory, no stage), and --config reaches every stage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STAGES = "metadata_filtering video_download clip_segmentation feature_extraction clustering subset_selection"


def _run(args: list[str], env_extra: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ACAV_PROGRESS="0")
    env.update(env_extra)
    return subprocess.run(
        ["bash", str(ROOT / "run.sh"), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--to", "subset_selecton"], "unknown stage 'subset_selecton' for --to; stages: " + STAGES),
        (["--from", "clusterng"], "unknown stage 'clusterng' for --from"),
        (
            ["--from", "subset_selection", "--to", "clustering"],
            "--from subset_selection comes after --to clustering",
        ),
        (["--from"], "--from needs a value"),
        (["--from", "--to", "clustering"], "--from needs a value"),
        (["--to="], "--to needs a value"),
        (["--config"], "--config needs a value"),
        (["--config", "/nonexistent/acav.yaml"], "--config /nonexistent/acav.yaml: no such file"),
        (["--demo=1"], "--demo takes no value"),
        (["--bogus"], "unknown option '--bogus'"),
    ],
)
def test_bad_options_stop_before_anything_runs(tmp_path: Path, args: list[str], message: str) -> None:
    data = tmp_path / "data"
    venv = tmp_path / "venv"
    # No ACAV_SKIP_SETUP: if validation came after the set-up, setup.sh would run (and fail on the
    # missing interpreter, or create the venv) and the data directory would be created.
    env = {"DATA_DIR": str(data), "ACAV_SKIP_SETUP": "0", "ACAV_VENV": str(venv), "PYTHON": "/nonexistent"}
    proc = _run(args, env)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert proc.stdout == ""
    assert not data.exists() and not venv.exists()
    assert "==>" not in proc.stderr


def test_equal_from_and_to_and_equals_form_are_accepted(tmp_path: Path) -> None:
    """``--from X --to X`` runs one stage; here it fails on the missing input, proving it ran only X."""
    env = {"DATA_DIR": str(tmp_path), "ACAV_SKIP_SETUP": "1", "ACAV_PYTHON": sys.executable}
    proc = _run(["--from=clustering", "--to", "clustering", "--no-report"], env)
    assert proc.returncode == 1
    assert "==> clustering" in proc.stderr and proc.stderr.count("==>") == 1
    assert "bash ./run.sh --from clustering" in proc.stderr


def test_config_reaches_the_stages(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "metadata.tsv").write_bytes((ROOT / "examples" / "metadata.tsv").read_bytes())
    env = {"DATA_DIR": str(data), "ACAV_SKIP_SETUP": "1", "ACAV_PYTHON": sys.executable}
    env_no_config = dict(env)
    proc = _run(["--to", "metadata_filtering", "--no-report"], env_no_config)
    assert proc.returncode == 0, proc.stderr[-2000:]
    kept_default = len((data / "filtered.tsv").read_text().splitlines())
    report = json.loads((data / "filtered.report.json").read_text())
    assert kept_default >= 2, report

    config = tmp_path / "conf.yaml"
    config.write_text("metadata_filtering:\n  min_duration: 100000\n  max_duration: 200000\n")
    proc = _run(["--config", str(config), "--to", "metadata_filtering", "--no-report"], env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (data / "filtered.tsv").read_text() == ""  # no example video is that long

    # a misspelt section stops the stage with the file and the section named
    config.write_text("metadata_filtring:\n  min_duration: 10\n")
    proc = _run(["--config", str(config), "--to", "metadata_filtering", "--no-report"], env)
    assert proc.returncode == 1
    assert f"{config}: unknown section 'metadata_filtring'" in proc.stderr
    assert "did you mean 'metadata_filtering'" in proc.stderr
