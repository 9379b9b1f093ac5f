"""kill -9 at several points of every stage (the whole process group, or only the wrapper while the
stage keeps running), then re-run: every output must equal an uninterrupted run's. Two runs started
together on one data directory must end with the same outputs as one run.

The quick slice (stage 6 on synthetic cluster shards) runs in CI; the demo-based matrix over all
six stages is marked slow (``pytest -m slow tests/reliability``); see docs/RELIABILITY.md.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from kill_harness import Stage, kill_group, kill_wrapper, outputs, run, start, wait_gone
from rel_helpers import acav

from acav.core.layout import DataLayout
from acav.subset_selection.synthetic import make_assignments, write_cluster_shards

STAGES = [
    Stage("filter", "metadata_filtering"),
    Stage("download", "video_download", ("--source-dir", "{data}/source_videos")),
    Stage("segment", "clip_segmentation", ("--clips-per-shard", "8")),
    Stage("extract", "feature_extraction", ("--visual-extractor", "basic_visual", "--audio-extractor", "basic_audio")),
    Stage("cluster", "clustering", ("--ncentroids", "4")),
    Stage("select", "subset_selection", ()),
]  # fmt: skip
SELECT = STAGES[-1]
REFUSED = "is writing to"


def _interrupt_and_resume(stage: Stage, data: Path, delay: float, mode: str) -> str:
    """Kill, (start again at once for wrapper kills), re-run; returns how the try went."""
    proc = start(stage, data)
    time.sleep(delay)
    if proc.poll() is not None:  # finished before the kill: nothing to interrupt
        proc.communicate()
        return "finished before the kill"
    if mode == "group":
        kill_group(proc)
        outcome = "group killed"
    else:
        left = kill_wrapper(proc)
        again = run(stage, data)  # the orphaned stage still runs: a second writer is refused
        if again.returncode != 0:
            assert REFUSED in again.stderr, again.stderr[-2000:]
            outcome = "wrapper killed; immediate re-run refused (stage alive)"
        else:
            outcome = "wrapper killed; immediate re-run ran" + (" (stage still alive)" if left else "")
        wait_gone(left)
    done = run(stage, data)
    assert done.returncode == 0, done.stderr[-3000:]
    return outcome


def _record(name: str, outcome: str) -> None:
    """Append how a try ended to $ACAV_RELIABILITY_RESULTS (a JSON-lines file), when set."""
    target = os.environ.get("ACAV_RELIABILITY_RESULTS")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"try": name, "outcome": outcome}) + "\n")


# --- quick slice: stage 6 on synthetic cluster shards ---------------------------------------------
@pytest.fixture(scope="module")
def select_reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    base = tmp_path_factory.mktemp("select_base") / "data"
    write_cluster_shards(DataLayout(base), make_assignments(4000, ncentroids=16, seed=7), 1000)
    reference = base.parent / "reference"
    shutil.copytree(base, reference)
    started = time.monotonic()
    done = run(SELECT, reference)
    assert done.returncode == 0, done.stderr[-3000:]
    return base, {"outputs": outputs("select", reference), "seconds": time.monotonic() - started}


@pytest.mark.parametrize("mode", ["group", pytest.param("wrapper", marks=pytest.mark.slow)])
@pytest.mark.parametrize("fraction", [0.5, pytest.param(0.85, marks=pytest.mark.slow)])
def test_select_killed_then_resumed(tmp_path: Path, select_reference, fraction: float, mode: str) -> None:
    base, reference = select_reference
    data = tmp_path / "data"
    shutil.copytree(base, data)
    outcome = _interrupt_and_resume(SELECT, data, fraction * reference["seconds"], mode)
    assert outputs("select", data) == reference["outputs"]
    _record(f"select-synthetic-{fraction}-{mode}", outcome + "; outputs identical")


def test_two_concurrent_selects(tmp_path: Path, select_reference) -> None:
    base, reference = select_reference
    data = tmp_path / "data"
    shutil.copytree(base, data)
    first, second = start(SELECT, data), start(SELECT, data)
    results = [p.communicate(timeout=600) + (p.returncode,) for p in (first, second)]
    codes = sorted(code for _, _, code in results)
    assert codes in ([0, 0], [0, 1]), results  # one may finish before the other starts
    if codes == [0, 1]:
        assert any(REFUSED in err for _, err, code in results if code == 1)
    assert outputs("select", data) == reference["outputs"]
    _record("select-synthetic-concurrent", f"exit codes {codes}; outputs identical")


# --- the full matrix on a small demo (slow) -------------------------------------------------------
@pytest.fixture(scope="module")
def demo_reference(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Snapshots of a small demo before each stage, and each stage's outputs and time uninterrupted."""
    root = tmp_path_factory.mktemp("demo")
    data = root / "run"
    made = acav("demo", "generate", "--data-dir", str(data), "--num-videos", "8", "--max-duration", "36", "-q",
                timeout=900)  # fmt: skip
    assert made.returncode == 0, made.stderr[-3000:]
    snapshots, results, seconds = {}, {}, {}
    for stage in STAGES:
        snapshots[stage.name] = root / f"before_{stage.name}"
        shutil.copytree(data, snapshots[stage.name])
        started = time.monotonic()
        done = run(stage, data)
        seconds[stage.name] = time.monotonic() - started
        assert done.returncode == 0, (stage.name, done.stderr[-3000:])
        results[stage.name] = outputs(stage.name, data)
    return {"snapshots": snapshots, "outputs": results, "seconds": seconds}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["group", "wrapper"])
@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.8])
@pytest.mark.parametrize("stage", STAGES, ids=[s.name for s in STAGES])
def test_stage_killed_then_resumed(
    tmp_path: Path, demo_reference, stage: Stage, fraction: float, mode: str
) -> None:
    data = tmp_path / "data"
    shutil.copytree(demo_reference["snapshots"][stage.name], data)
    outcome = _interrupt_and_resume(stage, data, fraction * demo_reference["seconds"][stage.name], mode)
    assert outputs(stage.name, data) == demo_reference["outputs"][stage.name]
    _record(f"{stage.name}-{fraction}-{mode}", outcome + "; outputs identical")


@pytest.mark.slow
def test_two_concurrent_pipelines_stages_3_to_6(tmp_path: Path, demo_reference) -> None:
    data = tmp_path / "data"
    shutil.copytree(demo_reference["snapshots"]["segment"], data)
    sequence = STAGES[2:]

    def pipeline():
        return [run(stage, data) for stage in sequence]

    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first = pool.submit(pipeline)
        time.sleep(2.0)
        second = pool.submit(pipeline)
        runs = [first.result(), second.result()]
    for results in runs:
        for stage, done in zip(sequence, results, strict=True):
            assert done.returncode == 0 or REFUSED in done.stderr, (stage.name, done.stderr[-2000:])
    for stage in sequence:  # finish whatever a refusal left undone, then compare
        assert run(stage, data).returncode == 0
        assert outputs(stage.name, data) == demo_reference["outputs"][stage.name], stage.name
    refused = sum(REFUSED in done.stderr for results in runs for done in results)
    _record("pipelines-3-6-concurrent", f"{refused} stage run(s) refused; outputs identical")
