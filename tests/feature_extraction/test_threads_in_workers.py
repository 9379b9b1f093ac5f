"""Stage 4's thread budget as seen from inside the real DataLoader worker processes.

Each decoded clip records, from the process that decoded it, the thread counts in force there
(torch, every loaded OpenMP/BLAS pool, the PyAV decoder setting); the assertions are on those
values, not on the arithmetic of the plan.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from fe_helpers import write_shard

from acav.core.layout import DataLayout
from acav.core.threads import THREAD_ENV_VARS, thread_settings
from acav.feature_extraction import dataset
from acav.feature_extraction.options import ExtractionConfig
from acav.feature_extraction.runner import run_extraction


@pytest.fixture
def clips_dir(tmp_path: Path, clip_bytes) -> Path:
    members = [(f"thread{i:05d}_{i}.mp4", clip_bytes(colour=(40 * i, 90, 200 - 40 * i))) for i in range(4)]
    write_shard(DataLayout(tmp_path / "data").videos_dir, 0, members)
    return tmp_path / "data"


@pytest.fixture
def reports(tmp_path: Path, monkeypatch) -> Path:
    """Make every decoded clip append its decoding process's thread settings to a JSONL file
    (the DataLoader forks its workers, so the wrapped function is the one they run)."""
    path = tmp_path / "threads.jsonl"
    decode = dataset.process_clip

    def reporting(*args, **kwargs):
        item = decode(*args, **kwargs)  # first: the decoder and BLAS pools are loaded by now
        report = {"pid": os.getpid(), "decode_threads": dataset.DECODE_THREADS, **thread_settings()}
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(report) + "\n")
        return item

    monkeypatch.setattr(dataset, "process_clip", reporting)
    for name in THREAD_ENV_VARS:  # unset now (no inherited cap), restored after the run set them
        monkeypatch.setenv(name, "0")
        monkeypatch.delenv(name)
    before = torch.get_num_threads()
    yield path
    torch.set_num_threads(before)  # the run set this process's (the models') share
    dataset.set_decode_threads(0)


def read_reports(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_decoding_workers_and_models_share_the_budget(clips_dir: Path, reports: Path):
    torch.set_num_threads(2)
    torch.rand(1 << 20).cos()  # an OpenMP team in this process before the workers fork
    config = ExtractionConfig(
        visual_extractor="basic_visual", audio_extractor="basic_audio", workers=2, threads=9, device="cpu"
    )
    summary = run_extraction(config, DataLayout(clips_dir))
    assert summary.clips_written == 4
    seen = read_reports(reports)
    assert (
        len(seen) == 4 and len({r["pid"] for r in seen}) == 2 and os.getpid() not in {r["pid"] for r in seen}
    )
    # 9 threads: 2 workers x 3 + the models 3 (more than the 2 cores, so that the caps are visible)
    for report in seen:
        assert report["decode_threads"] == 3
        # numpy's BLAS is capped too (a BLAS on OpenMP, e.g. faiss's once loaded, counts as OpenMP)
        assert report["pools"]["openblas:libscipy_openblas"] == 3, report["pools"]
        assert max(report["pools"].values()) == 3, report["pools"]
        # torch and OpenMP stay at 1 in a forked worker (GNU OpenMP would deadlock with a team)
        openmp = {v for n, v in report["pools"].items() if n.startswith("openmp")}
        assert report["torch"] == 1 and openmp == {1}, report
    assert torch.get_num_threads() == 3  # the models' share, in the main process


def test_decoding_in_the_main_process_takes_the_whole_budget(clips_dir: Path, reports: Path):
    config = ExtractionConfig(
        visual_extractor="basic_visual", audio_extractor="basic_audio", workers=-1, threads=3, device="cpu"
    )
    run_extraction(config, DataLayout(clips_dir))
    seen = read_reports(reports)
    assert {r["pid"] for r in seen} == {os.getpid()}
    assert {(r["torch"], r["decode_threads"]) for r in seen} == {(3, 3)}
