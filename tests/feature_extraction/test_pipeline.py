"""Stage 4 end to end on real tar shards of real mp4 clips, with the weight-free extractors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from fe_helpers import write_shard

from acav.cli import main
from acav.core.config import ConfigError
from acav.core.layout import DataLayout
from acav.core.records import read_jsonl
from acav.core.safe_pickle import safe_load
from acav.feature_extraction import runner as runner_module
from acav.feature_extraction.dataset import ShardInput
from acav.feature_extraction.options import ExtractionConfig
from acav.feature_extraction.runner import RUN_LOG_NAME, resolve_shards, run_extraction, split_shards

GOOD = [("vidaaaaaaaa_0.mp4", (200, 40, 40), 330.0), ("vidbbbbbbbb_5.mp4", (40, 200, 40), 660.0),
        ("vidcccccccc_9.mp4", (40, 40, 200), 990.0)]  # fmt: skip


def basic_config(**kwargs) -> ExtractionConfig:
    kwargs.setdefault("num_workers", 0)
    return ExtractionConfig(visual_extractor="basic_visual", audio_extractor="basic_audio", **kwargs)


@pytest.fixture
def data_dir(tmp_path: Path, clip_bytes) -> Path:
    """shard 0: 3 good clips, a corrupt member, a clip without audio, and a json entry with no member.
    shard 1: 2 good clips."""
    videos = DataLayout(tmp_path / "data").videos_dir
    members = [(name, clip_bytes(colour=colour, freq=freq)) for name, colour, freq in GOOD]
    members.insert(1, ("corruptcorr_1.mp4", b"\x00\x00\x00\x18ftypmp42" + os.urandom(3000)))
    members.append(("noaudionoau_2.mp4", clip_bytes(colour=(90, 90, 90), audio=False)))
    listed = [n for n, _ in members] + ["missingmiss_3.mp4"]
    write_shard(videos, 0, members, listed)
    write_shard(videos, 1, members[:1] + members[2:3])
    return tmp_path / "data"


def shard_records(log_path: Path) -> dict[str, dict]:
    return {r["shard"]: r for r in read_jsonl(log_path) if r.get("event") == "shard"}


def test_feature_shards_format_failures_and_log(data_dir: Path):
    summary = run_extraction(basic_config(), DataLayout(data_dir))
    features = data_dir / "features"
    records = safe_load(features / "shard-000000.pkl")
    # Failed clips are left out; the rest keep the json's order.
    assert [r["filename"] for r in records] == [name for name, _, _ in GOOD]
    for record in records:
        assert set(record) == {"filename", "shard_name", "shard_size", "video_features", "audio_features"}
        assert record["shard_name"] == "shard-000000" and record["shard_size"] == 6
        (video,) = record["video_features"]
        (audio,) = record["audio_features"]
        assert (video["model_key"], video["extractor_name"], video["dataset"]) == (
            "layer_basic_visual", "BASIC_VISUAL", "none")  # fmt: skip
        assert (audio["model_key"], audio["extractor_name"], audio["dataset"]) == (
            "layer_basic_audio", "BASIC_AUDIO", "none")  # fmt: skip
        assert [video["array"][f"layer_{i}"].shape[0] for i in range(5)] == [108, 64, 64, 48, 48]
        assert [audio["array"][f"layer_{i}"].shape[0] for i in range(5)] == [64, 35, 45, 40, 52]
        assert all(a.dtype == np.float32 and a.ndim == 1 for a in video["array"].values())
    # Different clips give different features.
    assert not np.allclose(
        records[0]["video_features"][0]["array"]["layer_0"],
        records[1]["video_features"][0]["array"]["layer_0"],
    )

    logged = shard_records(features / RUN_LOG_NAME)
    first = logged["shard-000000"]
    assert (first["status"], first["clips"], first["written"], first["failed"]) == ("done", 6, 3, 3)
    reasons = {f["filename"]: f["reason"] for f in first["failures"]}
    assert "video decode" in reasons["corruptcorr_1.mp4"]
    assert "no audio stream" in reasons["noaudionoau_2.mp4"]
    assert "not in the tar" in reasons["missingmiss_3.mp4"]
    assert logged["shard-000001"]["written"] == 2 and logged["shard-000001"]["failed"] == 0
    assert summary.clips_written == 5 and summary.clips_failed == 3 and summary.shards_failed == []


def test_resume_skips_done_shards_and_overwrite_redoes_them(data_dir: Path):
    layout = DataLayout(data_dir)
    run_extraction(basic_config(shards=["shard-000001"]), layout)
    done = data_dir / "features" / "shard-000001.pkl"
    stamp = done.stat().st_mtime_ns
    summary = run_extraction(basic_config(), layout)
    assert summary.shards_skipped == 1 and [r["shard"] for r in summary.records] == ["shard-000000"]
    assert done.stat().st_mtime_ns == stamp
    again = run_extraction(basic_config(), layout)
    assert again.shards_skipped == 2 and again.records == []
    redo = run_extraction(basic_config(overwrite=True, shards=["1"]), layout)
    assert [r["shard"] for r in redo.records] == ["shard-000001"] and done.stat().st_mtime_ns != stamp
    ends = [r for r in read_jsonl(data_dir / "features" / RUN_LOG_NAME) if r["event"] == "run_end"]
    assert [e["shards_skipped"] for e in ends] == [0, 1, 2, 0]


def test_workers_give_identical_output_and_float16(data_dir: Path, tmp_path: Path):
    layout = DataLayout(data_dir)
    run_extraction(basic_config(num_workers=0, output_dir=tmp_path / "w0"), layout)
    run_extraction(basic_config(num_workers=2, output_dir=tmp_path / "w2", dtype="float16"), layout)
    for shard in ("shard-000000", "shard-000001"):
        a = safe_load(tmp_path / "w0" / f"{shard}.pkl")
        b = safe_load(tmp_path / "w2" / f"{shard}.pkl")
        assert [r["filename"] for r in a] == [r["filename"] for r in b]
        for ra, rb in zip(a, b, strict=True):
            for kind in ("video_features", "audio_features"):
                for layer, value in ra[kind][0]["array"].items():
                    half = rb[kind][0]["array"][layer]
                    assert half.dtype == np.float16
                    np.testing.assert_allclose(half.astype(np.float32), value, rtol=2e-3, atol=2e-3)
    failures = shard_records(tmp_path / "w2" / RUN_LOG_NAME)["shard-000000"]["failures"]
    assert len(failures) == 3


def test_truncated_and_unreadable_tars(data_dir: Path):
    videos = data_dir / "videos"
    tar = videos / "shard-000000.tar"
    data = tar.read_bytes()
    tar.write_bytes(data[: len(data) // 3])  # cut inside a member
    (videos / "shard-000001.tar").write_bytes(b"this is not a tar file at all" * 100)
    summary = run_extraction(basic_config(), DataLayout(data_dir))
    logged = {r["shard"]: r for r in summary.records}
    assert logged["shard-000000"]["status"] == "partial"
    assert any("tar unreadable" in e for e in logged["shard-000000"]["errors"])
    written = safe_load(data_dir / "features" / "shard-000000.pkl")
    reasons = {f["filename"]: f["reason"] for f in logged["shard-000000"]["failures"]}
    assert len(written) + len(reasons) == 6 and all(r["filename"] not in reasons for r in written)
    assert logged["shard-000001"]["status"] == "error"
    assert not (data_dir / "features" / "shard-000001.pkl").exists()
    assert summary.shards_failed == ["shard-000001"]


def test_cli_runs_the_stage_and_reports(data_dir: Path, capsys):
    rc = main(["extract", "--data-dir", str(data_dir), "--visual-extractor", "basic_visual",
               "--audio-extractor", "basic_audio", "--num-workers", "0", "--shards", "shard-{000000..000001}"])  # fmt: skip
    assert rc == 0
    out = capsys.readouterr().out
    assert "2 shard(s) done" in out and "5 clip(s) written, 3 failed" in out
    with pytest.raises(SystemExit) as exited:  # argparse refuses an unknown extractor
        main(["extract", "--data-dir", str(data_dir), "--visual-extractor", "nope"])
    assert exited.value.code == 2
    (data_dir / "videos" / "shard-000001.tar").write_bytes(b"garbage")
    rc = main(["extract", "--data-dir", str(data_dir), "--visual-extractor", "basic_visual",
               "--audio-extractor", "basic_audio", "--num-workers", "0", "--overwrite", "--shards", "1"])  # fmt: skip
    assert rc == 1


def test_config_errors(tmp_path: Path, data_dir: Path):
    with pytest.raises(ConfigError, match="not found"):
        resolve_shards(data_dir / "videos", ["shard-{000000..000003}"])
    with pytest.raises(ConfigError, match="not a shard name"):
        resolve_shards(data_dir / "videos", ["../etc/passwd"])
    with pytest.raises(ConfigError, match="dtype"):
        basic_config(dtype="int8")
    with pytest.raises(ConfigError, match="does not exist"):
        run_extraction(basic_config(), DataLayout(tmp_path / "empty"))
    config_file = tmp_path / "c.yaml"
    config_file.write_text(
        "feature_extraction:\n  visual_extractor: basic_visual\n  audio_extractor: basic_audio\n  batch_size: 3\n"
    )
    assert (
        main(["extract", "--data-dir", str(data_dir), "--config", str(config_file), "--num-workers", "0"])
        == 0
    )
    start = [r for r in read_jsonl(data_dir / "features" / RUN_LOG_NAME) if r["event"] == "run_start"][-1]
    assert (
        start["config"]["batch_size"] == 3 and start["config"]["workers"] == -1
    )  # --num-workers 0, deprecated


def test_shard_resolution_and_split(data_dir: Path):
    videos = data_dir / "videos"
    assert [s.name for s in resolve_shards(videos, None)] == ["shard-000000", "shard-000001"]
    assert [s.name for s in resolve_shards(videos, ["shard-000001.tar", "0", "shard-{000000..000001}"])] == [
        "shard-000000", "shard-000001"]  # fmt: skip
    shards = [ShardInput(f"shard-{i:06d}", Path("x"), Path("y")) for i in range(7)]
    groups = split_shards(shards, 3)
    assert [len(g) for g in groups] == [3, 2, 2]
    names = [s.name for g in groups for s in g]
    assert sorted(names) == [s.name for s in shards] and len(set(names)) == 7
    assert len(split_shards(shards[:2], 4)) == 2


def test_device_selection_on_cpu(monkeypatch):
    import torch

    from acav.core.device import choose_device, visible_devices

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert visible_devices("cpu") == [torch.device("cpu")]
    if not torch.cuda.is_available():
        assert visible_devices("auto") == [torch.device("cpu")]
        assert choose_device("cuda:1") == torch.device("cpu")


def test_one_process_per_device_over_disjoint_shards(data_dir: Path, monkeypatch):
    """The multi-GPU path (torch.multiprocessing.spawn, one process per device), run on two CPU "devices"."""
    import torch

    monkeypatch.setattr("acav.core.device.visible_devices", lambda requested: [torch.device("cpu")] * 2)
    summary = run_extraction(basic_config(), DataLayout(data_dir))
    assert sorted(r["shard"] for r in summary.records) == ["shard-000000", "shard-000001"]
    assert len({r["pid"] for r in summary.records}) == 2  # one process per device
    assert summary.clips_written == 5
    assert len(safe_load(data_dir / "features" / "shard-000001.pkl")) == 2
    assert runner_module.RUN_LOG_NAME == RUN_LOG_NAME


def test_resume_refuses_shards_made_by_other_extractors(data_dir: Path):
    layout = DataLayout(data_dir)
    run_extraction(basic_config(shards=["1"]), layout)
    done = data_dir / "features" / "shard-000001.pkl"
    stamp = done.stat().st_mtime_ns
    other = ExtractionConfig(num_workers=0, allow_random_weights=True, shards=["1"])  # slowfast_r50 + vggish
    with pytest.raises(ConfigError, match=r"extracted with basic_visual \+ basic_audio .*--overwrite"):
        run_extraction(other, layout)
    assert done.stat().st_mtime_ns == stamp
    assert run_extraction(basic_config(), layout).shards_skipped == 1  # same extractors: resumes
