"""The CPU thread budget: one rule (plan_threads) splitting --threads over workers, and the caps
limit_threads sets, read back inside real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from acav.core.threads import available_cores, plan_threads, thread_budget
from acav.feature_extraction.options import ExtractionConfig

ROOT = Path(__file__).resolve().parents[2]


def test_budget_is_the_cores_given_or_the_affinity():
    assert thread_budget(0) == available_cores() == len(os.sched_getaffinity(0))
    assert thread_budget(6) == 6
    with pytest.raises(ValueError, match="threads"):
        thread_budget(-1)


def test_plan_never_exceeds_the_budget_when_each_share_can_have_a_thread(caplog):
    for budget in range(1, 17):
        for workers in range(0, budget + 1):
            plan = plan_threads(budget, workers)
            assert plan.total <= budget and (workers == 0 or plan.per_worker >= 1)
            if workers < budget:
                shared = plan_threads(budget, workers, main_computes=True)
                assert shared.total <= budget and shared.main >= 1
    assert not caplog.records
    assert plan_threads(8, 3).per_worker == 2  # workers only: budget // workers each
    assert (plan_threads(16, 8, True).per_worker, plan_threads(16, 8, True).main) == (1, 8)
    assert (plan_threads(16, 2, True).per_worker, plan_threads(16, 2, True).main) == (5, 6)
    assert (plan_threads(5, 0).workers, plan_threads(5, 0).main) == (0, 5)  # no workers: all to main
    with caplog.at_level("WARNING", logger="acav.core.threads"):
        assert plan_threads(2, 4).total == 4
    assert "above the budget of 2" in caplog.text


def test_feature_extraction_plan_per_device(caplog):
    basic = {"visual_extractor": "basic_visual", "audio_extractor": "basic_audio"}
    # networks on a CPU: the main process decodes, the models get the whole budget
    on_cpu = ExtractionConfig(threads=8).thread_plan(1, on_cpu=True)
    assert (on_cpu.workers, on_cpu.main, on_cpu.total) == (0, 8, 8)
    assert (ExtractionConfig(threads=2).thread_plan(1, on_cpu=True).workers, on_cpu.main_computes) == (
        0,
        True,
    )
    # weight-free extractors on a CPU (decoding is most of the work): half the budget decodes
    cheap = ExtractionConfig(threads=8, **basic).thread_plan(1, on_cpu=True)
    assert (cheap.workers, cheap.per_worker, cheap.main, cheap.total) == (4, 1, 4, 8)
    one_basic = ExtractionConfig(threads=8, visual_extractor="basic_visual").thread_plan(1, on_cpu=True)
    assert one_basic.workers == 0  # VGGish is still a network
    on_gpus = ExtractionConfig(threads=8).thread_plan(2, on_cpu=False)  # 4 threads per GPU process
    assert (on_gpus.workers, on_gpus.per_worker, on_gpus.main_computes) == (4, 1, False)
    small = ExtractionConfig(threads=2, **basic).thread_plan(1, on_cpu=True)
    assert (small.workers, small.total) == (1, 2)
    assert ExtractionConfig(threads=6, workers=-1).thread_plan(1).main == 6  # decoding in the main process
    with caplog.at_level("WARNING", logger="acav.core.threads"):
        assert ExtractionConfig(threads=1, **basic).thread_plan(1).total == 2  # auto: 1 worker beside
        assert ExtractionConfig(threads=1).thread_plan(1).total == 1
        assert not caplog.records
        assert ExtractionConfig(threads=2, workers=2).thread_plan(1).total == 3  # asked for: warned
    assert "above the budget of 2" in caplog.text


CHILD = """
import json, os, subprocess, sys
import numpy, torch
from acav.core.threads import limit_threads, thread_settings
limit_threads(int(sys.argv[1]))
grandchild = subprocess.run([sys.executable, "-c", "import json, numpy, torch; "
    "from acav.core.threads import thread_settings; print(json.dumps(thread_settings()))"],
    capture_output=True, text=True, check=True).stdout
print(json.dumps({"here": thread_settings(), "child": json.loads(grandchild)}))
"""


def test_limit_threads_caps_this_process_and_the_processes_it_starts():
    # 1: below every library's default on a machine of 2 cores or more (the environment caps
    # cannot raise a child's pools above its core count, only lower them)
    if available_cores() < 2:
        pytest.skip("needs 2 cores to tell a cap from a default")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, "1"], env=env, capture_output=True, text=True, check=True
    ).stdout
    seen = json.loads(out)
    for where in ("here", "child"):  # torch's intra-op pool, libgomp and OpenBLAS, and the caps
        settings = seen[where]
        assert settings["torch"] == 1, (where, settings)
        assert any(name.startswith("openblas") for name in settings["pools"])
        assert set(settings["pools"].values()) == {1}, (where, settings["pools"])
        assert set(settings["env"].values()) == {"1"}
