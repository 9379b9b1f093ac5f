"""Clip decoding and augmentation on real mp4s, the shard stream, and resumable pretraining."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from acav.evaluation.audio import log_mel, mask_along, mel_filters
from acav.evaluation.config import SMALL, PretrainConfig
from acav.evaluation.data import ClipStream, evaluation_views, training_views
from acav.evaluation.models import AudioVisualModel
from acav.evaluation.pretrain import latest_checkpoint, lr_factor, parameter_groups, pretrain

from .conftest import COLOURS, write_export_shards

TINY = replace(SMALL, crop=32, jitter=(40, 40), test_short_side=40, num_frames=4, audio_time=32)


def test_log_mel_peaks_at_the_tone_band_and_has_the_configured_shape() -> None:
    sr = 16000
    t = np.arange(sr * 2) / sr
    for freq in (500.0, 4000.0):
        spec = log_mel(torch.from_numpy(np.sin(2 * np.pi * freq * t).astype(np.float32)), sr, 40, 64)
        assert spec.shape == (1, 40, 64)
        centres = mel_filters(1025, 40, sr).argmax(dim=0).float() * (sr / 2) / 1024  # peak Hz per band
        band = int(spec[0, :, 5:-5].mean(dim=1).argmax())
        assert abs(float(centres[band]) - freq) < 0.15 * freq
    masked = mask_along(torch.ones(1, 40, 64), 0.25, 2, np.random.default_rng(3))
    zero_columns = int((masked[0] == 0).all(dim=0).sum())
    assert 0 <= zero_columns < 16 and int((masked == 0).sum()) == 40 * zero_columns


def test_training_and_test_views_of_a_real_clip(clip_bank) -> None:
    key, data, colour, _ = clip_bank[0]
    frames, spec = training_views(data, TINY, np.random.default_rng(0))
    assert frames.shape == (3, 4, 32, 32) and spec.shape == (1, 40, 32)
    # the background colour, normalised with mean 0.45 and std 0.225 (H.264 changes it slightly)
    expected = (np.asarray(COLOURS[colour]) / 255 - 0.45) / 0.225
    median = frames.flatten(1).median(dim=1).values.numpy()
    np.testing.assert_allclose(median, expected, atol=0.15)
    again = training_views(data, TINY, np.random.default_rng(0))
    torch.testing.assert_close(again[0], frames)
    views, specs = evaluation_views(data, TINY, clips=3, crops=3)
    assert views.shape == (9, 3, 4, 32, 32) and specs.shape == (3, 1, 40, 32)


def test_stream_resumes_at_a_sample_and_ignores_the_worker_count(clip_bank, tmp_path: Path) -> None:
    shards = write_export_shards(tmp_path / "s", [(k, d) for k, d, *_ in clip_bank[:6]], per_shard=2)
    positions = [p for p, _, _ in _take(ClipStream(shards, TINY, seed=1, buffer=3).raw(), 9)]
    assert positions == list(range(9))
    keys = [k for _, k, _ in _take(ClipStream(shards, TINY, seed=1, buffer=3).raw(), 12)]
    assert sorted(keys[:6]) == sorted(k for k, *_ in clip_bank[:6])  # one epoch = every clip once
    assert sorted(keys[6:]) == sorted(keys[:6]) and keys[6:] != keys[:6]  # reshuffled next epoch
    full = list(_take(iter(ClipStream(shards, TINY, seed=1, buffer=3)), 4))
    resumed = list(_take(iter(ClipStream(shards, TINY, seed=1, buffer=3, start=2)), 2))
    for a, b in zip(full[2:], resumed, strict=True):
        torch.testing.assert_close(a[0], b[0])
        torch.testing.assert_close(a[1], b[1])
    loader = torch.utils.data.DataLoader(
        ClipStream(shards, TINY, seed=1, buffer=3, batch=2), batch_size=2, num_workers=2
    )
    batches = list(_take(iter(loader), 2))
    torch.testing.assert_close(batches[1][0], torch.stack([full[2][0], full[3][0]]))
    with pytest.raises(ValueError, match="no shard"):
        ClipStream(shards[:1], TINY, seed=0, rank=1, world=2)


def _take(iterator, count: int):
    for _ in range(count):
        yield next(iterator)


def test_schedule_and_weight_decay_groups() -> None:
    assert [lr_factor(s, 4, 12) for s in (0, 2, 4, 8, 12)] == [0.0, 0.5, 1.0, 0.5, 0.0]
    groups = parameter_groups(AudioVisualModel(TINY), 1e-5)
    decay_shapes = {p.dim() for p in groups[0]["params"]}
    assert decay_shapes <= {2, 4, 5} and groups[0]["weight_decay"] == 1e-5
    assert {p.dim() for p in groups[1]["params"]} == {1} and groups[1]["weight_decay"] == 0.0


def test_pretraining_stopped_and_resumed_equals_one_run(clip_bank, tmp_path: Path) -> None:
    shards = tmp_path / "shards"
    write_export_shards(shards, [(k, d) for k, d, *_ in clip_bank[:6]], per_shard=3)
    config = PretrainConfig(
        model="small",
        steps=4,
        batch_size=3,
        warmup_steps=2,
        checkpoint_every=2,
        workers=-1,
        device="cpu",
        shuffle_buffer=4,
        log_every=1,
    )
    straight = pretrain(shards, tmp_path / "a", config, TINY)
    first = pretrain(shards, tmp_path / "b", config, TINY, stop_after=2)
    assert first["step"] == 2 and latest_checkpoint(tmp_path / "b").name == "step-0000002.pt"
    second = pretrain(shards, tmp_path / "b", config, TINY)
    assert second["step"] == 4
    assert straight["losses"][2:] == pytest.approx(second["losses"], abs=1e-6)
    a = torch.load(latest_checkpoint(tmp_path / "a"), weights_only=False)
    b = torch.load(latest_checkpoint(tmp_path / "b"), weights_only=False)
    for name, value in a["model"].items():
        torch.testing.assert_close(b["model"][name], value, atol=1e-6, rtol=1e-5)
    assert a["optimizer"]["state"].keys() == b["optimizer"]["state"].keys()
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"] == 4
    assert straight["losses"][0] != straight["losses"][-1]  # it trained


@pytest.mark.slow
def test_pretraining_with_torchrun_two_processes_on_cpu(clip_bank, tmp_path: Path) -> None:
    """The DDP code path: torchrun, gloo, two processes each reading its own shard."""
    import os
    import subprocess
    import sys

    shards = tmp_path / "shards"
    write_export_shards(shards, [(k, d) for k, d, *_ in clip_bank[:4]], per_shard=2)
    env = dict(os.environ, OMP_NUM_THREADS="1", ACAV_PROGRESS="0")
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "acav", "evaluate", "pretrain", "--shards", str(shards), "--out", str(tmp_path / "run"),
        "--model", "small", "--steps", "2", "--batch-size", "4", "--warmup-steps", "1",
        "--checkpoint-every", "1", "--workers", "-1", "--device", "cpu", "--log-every", "1",
    ]  # fmt: skip
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == [
        "step-0000001.pt",
        "step-0000002.pt",
    ]
    state = torch.load(tmp_path / "run" / "checkpoints" / "step-0000002.pt", weights_only=False)
    assert state["step"] == 2 and all(
        torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point()
    )


def test_stream_skips_a_corrupt_clip_and_names_it(clip_bank, tmp_path: Path, caplog) -> None:
    clips = [(k, d) for k, d, *_ in clip_bank[:3]]
    clips.insert(1, ("vidBROKEN000_000", b"this is not an mp4"))
    shards = write_export_shards(tmp_path / "s", clips, per_shard=4)
    samples = list(_take(iter(ClipStream(shards, TINY, seed=0, buffer=1)), 3))
    assert len(samples) == 3 and all(s[0].shape == (3, 4, 32, 32) for s in samples)
    assert "vidBROKEN000_000" in caplog.text


def test_pretraining_workers_get_their_share_of_the_threads(clip_bank, tmp_path: Path, monkeypatch) -> None:
    """Read back inside the real DataLoader workers: --threads 6 with 2 workers on the CPU is 2
    threads per worker (BLAS; torch and OpenMP stay at 1 in forked workers) and 2 for the model.
    With an OpenMP team in the workers this hung (the model had used one before they forked)."""
    import json
    import os

    from acav.core.threads import THREAD_ENV_VARS, thread_settings
    from acav.evaluation import data

    shards = tmp_path / "shards"
    write_export_shards(shards, [(k, d) for k, d, *_ in clip_bank[:4]], per_shard=2)
    reports = tmp_path / "threads.jsonl"
    decode = data.decode_clip

    def reporting(*args, **kwargs):
        clip = decode(*args, **kwargs)
        with reports.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"pid": os.getpid(), **thread_settings()}) + "\n")
        return clip

    monkeypatch.setattr(data, "decode_clip", reporting)  # the workers are forked: they run it
    for name in THREAD_ENV_VARS:  # unset now (no inherited cap), restored after pretrain set them
        monkeypatch.setenv(name, "0")
        monkeypatch.delenv(name)
    before = torch.get_num_threads()
    config = PretrainConfig(model="small", steps=1, batch_size=2, warmup_steps=1, checkpoint_every=1,
                            device="cpu", shuffle_buffer=2, workers=2, threads=6)  # fmt: skip
    try:
        pretrain(shards, tmp_path / "run", config, TINY)
        assert torch.get_num_threads() == 2  # the model's share
    finally:
        torch.set_num_threads(before)
    seen = [json.loads(line) for line in reports.read_text(encoding="utf-8").splitlines()]
    assert seen and os.getpid() not in {r["pid"] for r in seen}
    for report in seen:
        pools = report["pools"]
        assert report["torch"] == 1 and {v for n, v in pools.items() if n.startswith("openmp")} == {1}, report
        assert pools["openblas:libscipy_openblas"] == 2 and max(pools.values()) == 2, report  # numpy's BLAS


def test_pretrain_workers_follow_the_common_convention() -> None:
    assert PretrainConfig(num_workers=0).workers == -1  # the former spelling: 0 was "no workers"
    assert PretrainConfig(num_workers=3).workers == 3
    assert PretrainConfig(workers=-1, threads=4).thread_plan(1, on_cpu=True).main == 4
    auto = PretrainConfig(threads=8).thread_plan(2, on_cpu=False)  # 2 GPUs: 4 threads per process
    assert (auto.workers, auto.per_worker) == (4, 1)
