"""``acav rebuild`` downloading with the real yt-dlp from a loopback HTTP server (never the
internet), then ``--retry-failed`` fetching what failed, without fetching the rest again."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

from acav.clip_segmentation.config import SegmentConfig
from acav.core.layout import DataLayout
from acav.core.records import read_jsonl
from acav.rebuild.config import RebuildConfig
from acav.rebuild.runner import run_rebuild
from acav.video_download.options import DownloadConfig

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "video_download"))
from vd_helpers import LoopbackServer, Serve, Status  # noqa: E402

GOOD, FLAKY, GONE = "goodvideo01", "flakyvideo1", "missingvid1"


@pytest.fixture
def server():
    with LoopbackServer() as srv:
        yield srv


def test_loopback_download_cut_and_retry_failed(server, make_video, tmp_path: Path) -> None:
    video = make_video("v.mp4", shots=((8.0, (200, 30, 30)),), size=(64, 48), fps=5.0, sample_rate=8000)
    data = video.read_bytes()
    server.route(GOOD, Serve(data))
    server.route(FLAKY, Status(500), Serve(data))  # the first attempt fails, later ones succeed
    server.route(GONE, Status(404))
    list_path = tmp_path / "output.csv"
    rows = [
        ["shard-000000", f"{GOOD}_1.mp4", GOOD, "[1.0, 3.0]"],
        ["shard-000000", f"{FLAKY}_2.mp4", FLAKY, "[2.0, 4.0]"],
        ["shard-000000", f"{GONE}_0.mp4", GONE, "[0.0, 2.0]"],
        ["shard-000001", f"{GOOD}_5.mp4", GOOD, "[5.0, 7.5]"],
    ]
    with open(list_path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    layout = DataLayout(tmp_path / "data")
    rcfg = RebuildConfig(url_template=f"{server.base}/v/{{id}}")
    scfg = SegmentConfig(preset="ultrafast", cut_timeout=15)

    def run(**download_options) -> dict:
        dcfg = DownloadConfig(workers=2, retries=0, socket_timeout=5.0, **download_options)
        return run_rebuild(list_path, layout, rcfg, dcfg, scfg)

    first = run()
    status = list(read_jsonl(layout.root / "rebuild.status.jsonl"))
    assert [r["status"] for r in status] == ["ok", "video unavailable", "video unavailable", "ok"]
    assert "network" in status[1]["detail"] and "404" in status[2]["detail"]
    assert first["fraction_rebuilt"] == 0.5 and first["new_shards"] == ["shard-000000"]
    assert (layout.raw_videos_dir / f"{GOOD}.mp4").read_bytes() == data
    good_hits = server.hits_for(GOOD)

    again = run(retry_failed=True)
    status = list(read_jsonl(layout.root / "rebuild.status.jsonl"))
    assert [r["status"] for r in status] == ["ok", "ok", "video unavailable", "ok"]
    assert again["download"]["mode"] == "retry-failed" and again["download"]["ids"] == 2
    assert again["cut_now"] == 1 and again["new_shards"] == ["shard-000001"]
    assert server.hits_for(GOOD) == good_hits  # the finished video was not fetched again
    assert status[1]["shard"] == "shard-000001" and status[0]["shard"] == "shard-000000"
