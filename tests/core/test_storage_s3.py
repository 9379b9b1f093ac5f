"""A data directory on object storage: a real S3-compatible server (moto's server mode, an HTTP
server on the loopback interface started here), s3fs as the client, the real ``acav`` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

from acav.core.storage import (  # noqa: E402
    MARKER_DIR,
    data_dir_url,
    is_url,
    localize_args,
    staged_data_dir,
)

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "acav-test"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    import s3fs

    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "ACAV_STAGE_DIR": str(tmp_path / "cache"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    fs = s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True)
    if not fs.exists(BUCKET):
        fs.mkdir(BUCKET)
    fs.invalidate_cache()
    return fs


def test_urls_are_recognised_and_options_under_them_localised(monkeypatch: pytest.MonkeyPatch) -> None:
    assert is_url("s3://b/p") and is_url("gs://b") and not is_url("/data") and not is_url("file:///x")
    monkeypatch.delenv("DATA_DIR", raising=False)
    assert data_dir_url(["filter", "--data-dir", "/local"]) is None
    assert data_dir_url(["filter", "--data-dir=s3://b/run/"]) == "s3://b/run"
    monkeypatch.setenv("DATA_DIR", "s3://b/env")
    assert data_dir_url(["filter"]) == "s3://b/env"
    monkeypatch.setenv("ACAV_STAGE_DIR", "/cache")
    args = [
        "download",
        "--data-dir",
        "s3://b/env",
        "--source-dir",
        "s3://b/env/src",
        "--x=s3://b/env/y",
        "s3://b/envy",
    ]
    assert localize_args(args, "s3://b/env") == [
        "download", "--data-dir", "/cache", "--source-dir", "/cache/src", "--x=/cache/y", "s3://b/envy",
    ]  # fmt: skip


def test_stage_in_and_out_mirror_changes_and_mark_completion_last(s3, tmp_path: Path) -> None:
    prefix = f"{BUCKET}/unit"
    s3.pipe(
        {
            f"{prefix}/keep.txt": b"keep",
            f"{prefix}/sub/gone.bin": b"\x00\x01",
            f"{prefix}/sub/edit.txt": b"old",
        }
    )
    with staged_data_dir(f"s3://{prefix}", "unit") as staging:
        local = staging.local
        assert (local / "keep.txt").read_bytes() == b"keep"
        assert (local / "sub" / "gone.bin").read_bytes() == b"\x00\x01"
        (local / "sub" / "gone.bin").unlink()
        (local / "sub" / "edit.txt").write_bytes(b"newer")
        (local / "new" / "deep").mkdir(parents=True)
        (local / "new" / "deep" / "shard-000000.pkl").write_bytes(b"x" * 1000)
        (local / "new" / "half.pkl.tmp-123-abc").write_bytes(b"partial")  # a temp never leaves
        (local / ".acav.lock").write_text("pid")
        staging.succeeded = True
    s3.invalidate_cache()
    files = {p[len(prefix) + 1 :] for p in s3.find(prefix)}
    assert files == {"keep.txt", "sub/edit.txt", "new/deep/shard-000000.pkl", f"{MARKER_DIR}/unit.done.json"}
    assert s3.cat(f"{prefix}/sub/edit.txt") == b"newer"
    marker = json.loads(s3.cat(f"{prefix}/{MARKER_DIR}/unit.done.json"))
    assert marker["uploaded"] == ["new/deep/shard-000000.pkl", "sub/edit.txt"]
    assert marker["removed"] == ["sub/gone.bin"]


def test_a_failed_command_uploads_its_finished_files_but_no_marker(s3) -> None:
    prefix = f"{BUCKET}/failed"
    with pytest.raises(RuntimeError), staged_data_dir(f"s3://{prefix}", "unit") as staging:
        (staging.local / "done.pkl").write_bytes(b"finished")
        raise RuntimeError("the stage broke")
    s3.invalidate_cache()
    assert s3.cat(f"{prefix}/done.pkl") == b"finished"
    assert not s3.exists(f"{prefix}/{MARKER_DIR}/unit.done.json")


def _acav(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env, "PYTHONPATH": str(ROOT), "ACAV_PROGRESS": "0"}
    return subprocess.run(
        [sys.executable, "-m", "acav", *args], env=full, capture_output=True, text=True, timeout=300
    )


def test_stage_1_on_s3_writes_the_same_bytes_as_on_a_local_directory(s3, tmp_path: Path) -> None:
    metadata = (ROOT / "examples" / "metadata.tsv").read_bytes()
    local = tmp_path / "local"
    local.mkdir()
    (local / "metadata.tsv").write_bytes(metadata)
    done = _acav(["filter", "--data-dir", str(local)], {})
    assert done.returncode == 0, done.stderr[-2000:]

    prefix = f"{BUCKET}/stage1"
    s3.pipe(f"{prefix}/metadata.tsv", metadata)
    remote = _acav(["filter"], {"DATA_DIR": f"s3://{prefix}"})  # DATA_DIR as run.sh passes it
    assert remote.returncode == 0, remote.stderr[-2000:]
    s3.invalidate_cache()
    for name in ("filtered.tsv", "filtered.rejects.tsv"):
        assert s3.cat(f"{prefix}/{name}") == (local / name).read_bytes(), name
    assert (local / "filtered.tsv").read_bytes()  # the example keeps some lines
    marker = json.loads(s3.cat(f"{prefix}/{MARKER_DIR}/filter.done.json"))
    assert "filtered.tsv" in marker["uploaded"]

    # a second machine (another cache) resumes from the store: the stage-in brings the outputs
    again = _acav(["filter"], {"DATA_DIR": f"s3://{prefix}", "ACAV_STAGE_DIR": str(tmp_path / "other")})
    assert again.returncode == 0, again.stderr[-2000:]
    assert (tmp_path / "other" / "filtered.tsv").read_bytes() == (local / "filtered.tsv").read_bytes()


TINY_DEMO = (
    "demo:\n  num_videos: 6\n  min_duration: 32\n  max_duration: 36\n  num_classes: 3\n"
    "clip_segmentation:\n  workers: 1\n"
)


def _run_sh_demo(env: dict[str, str]) -> None:
    full = {**os.environ, **env, "ACAV_SKIP_SETUP": "1", "ACAV_PYTHON": sys.executable, "ACAV_PROGRESS": "0"}
    cmd = ["bash", str(ROOT / "run.sh"), "--demo", "--no-report", "--no-export"]
    proc = subprocess.run(cmd, env=full, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
def test_run_sh_demo_on_s3_selects_the_same_clips_as_on_a_local_directory(s3, tmp_path: Path) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY_DEMO)
    _run_sh_demo({"DATA_DIR": str(tmp_path / "local"), "ACAV_CONFIG": str(config)})
    _run_sh_demo({"DATA_DIR": f"s3://{BUCKET}/demo", "ACAV_CONFIG": str(config)})
    s3.invalidate_cache()
    assert s3.cat(f"{BUCKET}/demo/output.csv") == (tmp_path / "local" / "output.csv").read_bytes()
    markers = {p.rsplit("/", 1)[1] for p in s3.find(f"{BUCKET}/demo/{MARKER_DIR}")}
    commands = ("demo", "filter", "download", "segment", "extract", "cluster", "select")
    assert markers == {f"{c}.done.json" for c in commands}
    assert s3.exists(f"{BUCKET}/demo/videos/shard-000000.tar")
    assert not [p for p in s3.find(f"{BUCKET}/demo") if ".tmp-" in p or p.endswith(".lock")]
