"""The CPU thread budget: --threads split over workers, and the caps it sets."""

from __future__ import annotations

import os

import pytest
import torch

from acav.core.threads import (
    THREAD_ENV_VARS,
    available_cores,
    limit_threads,
    thread_budget,
    threads_per_worker,
)
from acav.feature_extraction.options import ExtractionConfig


def test_budget_split_never_exceeds_the_cores_given():
    assert thread_budget(0) == available_cores() == len(os.sched_getaffinity(0))
    assert thread_budget(6) == 6
    with pytest.raises(ValueError, match="threads"):
        thread_budget(-1)
    for budget in range(1, 17):
        for workers in range(1, budget + 1):
            assert threads_per_worker(budget, workers) * workers <= budget
    assert threads_per_worker(8, 3) == 2 and threads_per_worker(2, 4) == 1


def test_limit_threads_sets_torch_and_the_openmp_environment(monkeypatch):
    before = torch.get_num_threads()
    for name in THREAD_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    try:
        limit_threads(1)
        assert torch.get_num_threads() == 1
        assert all(os.environ[name] == "1" for name in THREAD_ENV_VARS)
    finally:
        torch.set_num_threads(before)


def test_feature_extraction_workers_and_model_threads_share_the_budget():
    config = ExtractionConfig(threads=8)
    workers = config.workers_per_device(1, on_cpu=True)
    assert (workers, config.model_threads(workers)) == (4, 4)
    assert config.workers_per_device(2, on_cpu=False) == 4  # a GPU each: decoding only on the CPU
    small = ExtractionConfig(threads=2)
    workers = small.workers_per_device(1, on_cpu=True)
    assert workers + small.model_threads(workers) == 2
