"""The Python API: the stages' options come from their config dataclasses (names, types, checks,
docstrings), and the notebook-style example runs the whole pipeline on a tiny demo."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import acav
from acav import api
from acav.core.config import STAGE_SECTIONS, ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_import_acav_is_light_and_exposes_the_api() -> None:
    code = "import sys, acav; assert 'torch' not in sys.modules; print(callable(acav.run_pipeline))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
    for name in acav.API:
        assert getattr(acav, name) is getattr(api, name)
    with pytest.raises(AttributeError):
        _ = acav.no_such_function


def test_docstrings_list_every_option_of_the_stage_config() -> None:
    import importlib

    for function_name, (module, cls_name, _) in api._CONFIG_CLASSES.items():
        cls = getattr(importlib.import_module(module), cls_name)
        doc = getattr(acav, function_name).__doc__
        for fld in dataclasses.fields(cls):
            assert f"\n    {fld.name} (" in doc, (function_name, fld.name)
    assert list(api.STAGE_FUNCTIONS) == list(STAGE_SECTIONS)


def test_options_are_checked_like_the_cli(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown option 'ncentroid'"):
        acav.cluster_features(tmp_path, ncentroid=3)
    with pytest.raises(ConfigError, match="clustering.ncentroids: cannot use 2.5 as an integer"):
        acav.cluster_features(tmp_path, ncentroids=2.5)
    with pytest.raises(ConfigError, match="--ratio must be in"):
        acav.select_subset(tmp_path, ratio=3.0)
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("subset_selecton:\n  ratio: 0.5\n")
    with pytest.raises(ConfigError, match="unknown section 'subset_selecton'"):
        acav.select_subset(tmp_path, config=yaml_file)
    with pytest.raises(ConfigError, match="from_stage clustering comes after to_stage video_download"):
        acav.run_pipeline(tmp_path, from_stage="clustering", to_stage="video_download")
    with pytest.raises(ConfigError, match="unknown stage"):
        acav.run_pipeline(tmp_path, to_stage="selection")
    with pytest.raises(ConfigError, match="unknown stage"):
        acav.run_pipeline(tmp_path, clusterin={"ncentroids": 3})
    with pytest.raises(FileNotFoundError, match="metadata.tsv"):
        acav.filter_metadata(tmp_path)


def test_a_stage_with_options_returns_its_summary(tmp_path: Path) -> None:
    (tmp_path / "metadata.tsv").write_bytes((ROOT / "examples" / "metadata.tsv").read_bytes())
    summary = acav.filter_metadata(tmp_path, min_duration=100, language=False)
    assert summary.stage == "metadata_filtering" and summary.config.min_duration == 100.0
    assert summary.config.language is False
    kept = (tmp_path / "filtered.tsv").read_bytes().splitlines()
    assert summary.result["kept"] == len(kept) and summary.result["total_lines"] == 11
    assert json.loads(json.dumps(summary.as_dict()))["config"]["min_duration"] == 100.0


def test_the_api_example_runs_the_pipeline(tmp_path: Path) -> None:
    data = tmp_path / "api demo"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("ACAV_CONFIG", None)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "api_example.py"), str(data)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    for stage in STAGE_SECTIONS:
        assert f"{stage}: " in out
    with open(data / "output.csv", newline="") as handle:
        selected = list(csv.reader(handle))
    with open(data / "output_half.csv", newline="") as handle:
        half = list(csv.reader(handle))
    clips = sum(len(json.loads(p.read_text())) for p in (data / "videos").glob("shard-*.json"))
    assert f"selection: {len(selected)} of {clips} clips" in out
    assert len(half) == round(0.5 * clips) and len(selected) == round(0.2 * clips)
    assert (data / "report.html").is_file() and f"report: {data / 'report.html'}" in out
    assert f"selected={len(selected)}" in out and f"clips={clips}" in out
