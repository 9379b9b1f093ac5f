"""Stage 2 (download) on both engines, from a --source-dir of real small videos: the same files and
the same log statuses; a failing id is recorded once; resume and --retry-failed work on Ray."""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "video_download"))
from vd_helpers import LoopbackServer, Status, by_id, write_input  # noqa: E402

from acav.core.media import run_ffmpeg  # noqa: E402
from acav.video_download.errors import RATE_LIMITED, UNAVAILABLE  # noqa: E402
from acav.video_download.options import DownloadConfig  # noqa: E402
from acav.video_download.retry import RetryPolicy  # noqa: E402
from acav.video_download.runner import DownloadRunner  # noqa: E402

IDS = ["goodvideo01", "remuxvideo1", "missingvid1", "garbagevid1", "goodvideo01"]  # last: a duplicate


@pytest.fixture
def source_dir(make_video, tmp_path: Path) -> Path:
    src = tmp_path / "source_videos"
    make_video("goodvideo01.mp4", shots=((1.5, (200, 30, 30)),), size=(64, 48), directory=src)
    made = make_video("remux.mp4", shots=((1.5, (30, 30, 200)),), size=(64, 48), directory=tmp_path)
    run_ffmpeg(
        [
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(made),
            "-c",
            "copy",
            "-f",
            "matroska",
            str(src / "remuxvideo1.mkv"),
        ]
    )
    (src / "garbagevid1.webm").write_bytes(b"<html>not a video</html>" * 40)
    return src


def run(engine: str, out: Path, source: Path | None, monkeypatch: pytest.MonkeyPatch, **options: Any):
    monkeypatch.setenv("ACAV_ENGINE", engine)
    if engine == "ray":  # the ray run must not fall back to the driver's thread pool
        monkeypatch.setattr(DownloadRunner, "_dispatch", None)
    options = {"workers": 2, "retries": 2, "retry_base_delay": 0.01, "socket_timeout": 2.0, **options}
    if source is not None:
        options["source_dir"] = str(source)
    config = DownloadConfig(**options)
    policy = RetryPolicy(config.retries, config.retry_base_delay, config.retry_max_delay)
    return DownloadRunner(config, out.parent / "filtered.tsv", out, policy=policy).run()


def statuses(out: Path) -> dict[str, list[tuple[Any, ...]]]:
    keys = ("status", "error_class", "reason", "message", "bytes", "attempt", "line", "source")
    return {vid: sorted(tuple(r[k] for k in keys) for r in recs) for vid, recs in by_id(out).items()}


def files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in out.iterdir() if p.suffix == ".mp4"}


def test_local_and_ray_download_the_same_and_log_each_id_once(
    ray_instance: None, source_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outs = {}
    for engine in ("local", "ray"):
        out = tmp_path / engine / "raw"
        out.mkdir(parents=True)
        write_input(out.parent / "filtered.tsv", IDS)
        summary = run(engine, out, source_dir, monkeypatch)
        assert summary.ids == len(IDS) and summary.status == {"ok": 2, "skipped": 1, "failed": 2}
        outs[engine] = out

    assert sorted(files(outs["ray"])) == ["goodvideo01.mp4", "remuxvideo1.mp4"]
    assert files(outs["ray"]) == files(outs["local"])
    assert statuses(outs["ray"]) == statuses(outs["local"])
    logged = statuses(outs["ray"])
    assert [r[0] for r in logged["missingvid1"]] == ["failed"]  # unavailable: not retried, one record
    assert logged["missingvid1"][0][1] == UNAVAILABLE
    assert [r[0] for r in logged["goodvideo01"]] == ["ok", "skipped"]
    assert not [p for p in outs["ray"].iterdir() if p.name.endswith(".part-dir")]

    # Resume on Ray: finished ids are skipped by the driver; --retry-failed fetches a now-present id.
    again = run("ray", outs["ray"], source_dir, monkeypatch)
    assert again.status == {"ok": 0, "skipped": 3, "failed": 2}
    shutil.copyfile(source_dir / "goodvideo01.mp4", source_dir / "missingvid1.mp4")
    retried = run("ray", outs["ray"], source_dir, monkeypatch, retry_failed=True)
    assert retried.ids == 2 and retried.status == {"ok": 1, "skipped": 0, "failed": 1}
    assert (outs["ray"] / "missingvid1.mp4").read_bytes() == (source_dir / "missingvid1.mp4").read_bytes()
    assert by_id(outs["ray"])["missingvid1"][-1]["status"] == "ok"


def _time(record: dict[str, Any]) -> float:
    return dt.datetime.strptime(record["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def test_ray_run_backs_off_by_not_submitting_while_paused(
    ray_instance: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real yt-dlp in Ray workers against a loopback server answering 429: the driver pauses after
    the 2nd refusal it collects. At most 5 of the 8 ids were submitted before that (a look-ahead of
    2 x 2 CPUs, plus one after the first outcome), so at least 3 start a whole pause later."""
    out = tmp_path / "raw"
    out.mkdir()
    with LoopbackServer() as server:
        write_input(
            tmp_path / "filtered.tsv", [server.route(f"limited{i:04d}", Status(429)) for i in range(8)]
        )
        summary = run(
            "ray", out, None, monkeypatch, workers=1, retries=0, backoff_threshold=2, backoff_window=3,
            backoff_pause=1.0, backoff_max_pause=1.0,
        )  # fmt: skip
    logged = by_id(out)
    assert sorted(logged) == [f"limited{i:04d}" for i in range(8)]
    assert [(len(r), r[0]["error_class"]) for r in logged.values()] == [(1, RATE_LIMITED)] * 8
    times = sorted(_time(recs[0]) for recs in logged.values())
    assert sum(t >= times[1] + 0.9 for t in times) >= 3
    assert summary.pauses >= 1 and summary.paused_seconds >= 1.0
