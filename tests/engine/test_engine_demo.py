"""Both engines on the same tiny demo write the same files; a Ray worker killed during segmentation
loses and doubles nothing. Slow (Ray's start and the demo take minutes on a 2-core machine)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest

pytest.importorskip("ray")

from ray_helpers import kill_one_busy_worker  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TINY = (
    "demo:\n  num_videos: 6\n  min_duration: 32\n  max_duration: 36\n  num_classes: 3\n"
    "clip_segmentation:\n  workers: 1\n"
    "feature_extraction:\n  num_workers: 1\n"
)

pytestmark = pytest.mark.slow


def run_demo(data: Path, config: Path, *extra: str) -> None:
    env = {**os.environ, "DATA_DIR": str(data), "ACAV_CONFIG": str(config), "ACAV_SKIP_SETUP": "1"}
    env.update(ACAV_PYTHON=sys.executable, ACAV_PROGRESS="0", ACAV_RAY_CPUS="2")
    env.pop("ACAV_ENGINE", None)
    cmd = ["bash", str(ROOT / "run.sh"), "--demo", "--no-report", "--no-export", *extra]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]


def tar_members(path: Path) -> list[tuple[str, bytes]]:
    with tarfile.open(path) as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar.getmembers() if m.isfile()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("engines")
    config = base / "tiny.yaml"
    config.write_text(TINY)
    run_demo(base / "local", config)
    run_demo(base / "ray", config, "--engine", "ray")
    return {"local": base / "local", "ray": base / "ray"}


def test_run_sh_engine_ray_writes_the_same_files_as_local(runs: dict[str, Path]) -> None:
    local, ray = runs["local"], runs["ray"]
    assert (local / "output.csv").read_bytes() == (ray / "output.csv").read_bytes()
    assert (local / "output.csv").read_text().count("\n") >= 2
    shards = sorted(p.name for p in (local / "videos").glob("shard-*.tar"))
    assert shards and shards == sorted(p.name for p in (ray / "videos").glob("shard-*.tar"))
    for name in shards:
        assert tar_members(local / "videos" / name) == tar_members(ray / "videos" / name)
        json_name = name.replace(".tar", ".json")
        assert (local / "videos" / json_name).read_bytes() == (ray / "videos" / json_name).read_bytes()
    for sub in ("features", "clusters"):
        names = sorted(p.name for p in (local / sub).glob("shard-*.pkl"))
        assert names and names == sorted(p.name for p in (ray / sub).glob("shard-*.pkl"))
        for name in names:
            assert (local / sub / name).read_bytes() == (ray / sub / name).read_bytes(), f"{sub}/{name}"


def test_killed_ray_worker_during_segmentation_loses_and_doubles_nothing(
    runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ray

    from acav.api import segment_clips

    data = tmp_path / "data"
    shutil.copytree(runs["local"] / "videos" / "raw", data / "videos" / "raw")
    monkeypatch.setenv("ACAV_ENGINE", "ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        errors: list[BaseException] = []

        def work() -> None:
            try:
                segment_clips(data, clips_per_shard=64)
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        runner = threading.Thread(target=work)
        runner.start()
        kill_one_busy_worker("ray::_call", timeout=300)
        runner.join(timeout=900)
    finally:
        ray.shutdown()
    assert not runner.is_alive() and not errors, errors
    records = [json.loads(line) for line in (data / "videos" / "clips" / "segmentation.log.jsonl").open()]
    ids = sorted(r["id"] for r in records)
    assert ids == sorted(p.stem for p in (data / "videos" / "raw").glob("*.mp4"))  # each video once
    assert all(r["status"] == "ok" for r in records), [r.get("detail") for r in records]
    for shard in (runs["local"] / "videos").glob("shard-*.tar"):
        assert tar_members(data / "videos" / shard.name) == tar_members(shard)
        json_name = shard.with_suffix(".json").name
        assert (data / "videos" / json_name).read_bytes() == (
            runs["local"] / "videos" / json_name
        ).read_bytes()
