"""``acav rebuild`` on a source directory of real videos: every row ends in the status file exactly
once, the clips are the listed segments, the shards are stage 3's, and a re-run only resumes."""

from __future__ import annotations

import csv
import json
import tarfile
from pathlib import Path

import pytest

from acav.clip_segmentation.config import SegmentConfig
from acav.core.layout import DataLayout
from acav.core.media import probe_media
from acav.core.records import read_jsonl
from acav.rebuild.config import RebuildConfig
from acav.rebuild.runner import run_rebuild, status_path
from acav.video_download.options import DownloadConfig

LONG, SHORT, GONE = "AAAAAAAAAAA", "BBBBBBBBBBB", "CCCCCCCCCCC"

# (row fields, expected status)
LIST = [
    (["shard-000000", f"{LONG}_1.mp4", LONG, "[1.0, 4.0]"], "ok"),
    (["shard-000000", f"{LONG}_5.mp4", LONG, "[5.5, 8.5]"], "ok"),
    (["shard-000001", f"{SHORT}_4.mp4", SHORT, "[4.0, 9.0]"], "segment beyond the video"),
    (["shard-000001", f"{SHORT}_0.mp4", SHORT, "[0.0, 3.0]"], "ok"),
    (["shard-000001", f"{GONE}_0.mp4", GONE, "[0.0, 3.0]"], "video unavailable"),
    (["shard-000000", f"{LONG}_1.mp4", LONG, "[1.0, 4.0]"], "duplicate"),
    (["shard-000002", "nometadata01_1.mp4", "-1", "[-1.0, -1.0]"], "skipped (-1)"),
    (["shard-000002", "../../x.mp4", "../../x", "[0, 3]"], "malformed row"),
    (["=1+1", "@SUM(A1)", "+cmd", "[0, 3]"], "malformed row"),
    (["shard-000002", f"{LONG}_0.mp4", LONG, "[1e308, 1e309]"], "malformed row"),
    (["shard-000002", "only-two-fields"], "malformed row"),
]


def write_output_csv(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def rebuild(
    tmp_path: Path, list_path: Path, source: Path, cut_mode: str = "accurate", **rebuild_options
) -> dict:
    layout = DataLayout(tmp_path / "data")
    dcfg = DownloadConfig(source_dir=source, workers=2, retries=0)
    scfg = SegmentConfig(clips_per_shard=2, preset="ultrafast", cut_timeout=15, cut_mode=cut_mode)
    return run_rebuild(list_path, layout, RebuildConfig(**rebuild_options), dcfg, scfg)


@pytest.fixture
def rebuilt(tmp_path: Path, source_dir):
    source = source_dir({LONG: 10.0, SHORT: 6.0})
    list_path = write_output_csv(tmp_path / "output.csv", [fields for fields, _ in LIST])
    summary = rebuild(tmp_path, list_path, source)
    return tmp_path / "data", list_path, source, summary


def test_every_row_once_with_its_status(rebuilt) -> None:
    data, _, _, summary = rebuilt
    status = list(read_jsonl(data / "rebuild.status.jsonl"))
    assert [r["row"] for r in status] == list(range(1, len(LIST) + 1))
    assert [r["status"] for r in status] == [expected for _, expected in LIST]
    assert "no file CCCCCCCCCCC.* in --source-dir" in status[4]["detail"]
    assert "the downloaded video is 6.0" in status[2]["detail"]
    assert "row 1" in status[5]["detail"]
    assert summary["status"]["ok"] == 3 and summary["rows"] == len(LIST)
    # Wanted: the 3 ok, the one beyond the video and the unavailable one.
    assert summary["clips_wanted"] == 5 and summary["fraction_rebuilt"] == pytest.approx(0.6)
    assert (summary["videos"], summary["videos_available"]) == (3, 2)
    assert summary["download"]["status"] == {"ok": 2, "skipped": 0, "failed": 1}
    # Hostile values never became paths.
    assert not (data.parent / "x.mp4").exists() and not list(data.rglob("*x.mp4"))


def test_clips_are_the_listed_segments_in_stage3_shards(rebuilt) -> None:
    data, _, source, _ = rebuilt
    shards = sorted((data / "videos").glob("shard-*.json"))
    assert [p.name for p in shards] == ["shard-000000.json", "shard-000001.json"]  # 2 clips per shard
    entries = [e for p in shards for e in json.loads(p.read_text())]
    assert [(e["filename"], e["id"], e["segment"]) for e in entries] == [
        (f"{LONG}_1.mp4", LONG, [1.0, 4.0]),
        (f"{LONG}_5.mp4", LONG, [5.5, 8.5]),
        (f"{SHORT}_0.mp4", SHORT, [0.0, 3.0]),
    ]
    members = []
    for json_path in shards:
        with tarfile.open(json_path.with_suffix(".tar")) as tar:
            members += tar.getnames()
    assert members == [e["filename"] for e in entries]
    for entry in entries:
        clip = probe_media(data / "videos" / "clips" / entry["filename"])
        assert clip.has_video and clip.has_audio
        assert clip.duration == pytest.approx(entry["segment"][1] - entry["segment"][0], abs=0.25)
    status = {r["row"]: r for r in read_jsonl(data / "rebuild.status.jsonl")}
    assert [status[i]["shard"] for i in (1, 2, 4)] == ["shard-000000", "shard-000000", "shard-000001"]
    assert status[3]["shard"] is None
    assert (source / f"{LONG}.mp4").is_file()  # the user's source file is left in place


def test_rerun_resumes_without_cutting_or_new_shards(rebuilt, tmp_path: Path) -> None:
    data, list_path, source, _ = rebuilt
    tars = {p.name: p.stat().st_mtime_ns for p in (data / "videos").glob("shard-*.tar")}
    again = rebuild(tmp_path, list_path, source)
    assert again["cut_now"] == 0 and again["new_shards"] == []
    assert again["download"]["status"] == {"ok": 0, "skipped": 2, "failed": 1}
    assert {p.name: p.stat().st_mtime_ns for p in (data / "videos").glob("shard-*.tar")} == tars
    status = list(read_jsonl(status_path(DataLayout(data))))
    assert [r["status"] for r in status] == [expected for _, expected in LIST]  # still once per row


def test_a_video_arriving_later_is_cut_into_a_new_shard(rebuilt, tmp_path: Path, make_video) -> None:
    data, list_path, source, _ = rebuilt
    make_video(f"{GONE}.mp4", shots=((4.0, (90, 90, 90)),), size=(64, 48), fps=5.0, directory=source)
    again = rebuild(tmp_path, list_path, source)
    assert again["cut_now"] == 1 and again["new_shards"] == ["shard-000002"]
    assert again["status"]["ok"] == 4 and again["status"]["video unavailable"] == 0
    assert json.loads((data / "videos" / "shard-000002.json").read_text())[0]["filename"] == f"{GONE}_0.mp4"


def test_a_lost_cut_is_redone_and_a_failed_cut_is_reported(rebuilt, tmp_path: Path) -> None:
    data, list_path, source, _ = rebuilt
    # A raw video replaced by garbage: rows of a video not yet bundled cannot be cut.
    (data / "videos" / "raw" / f"{SHORT}.mp4").unlink()
    rows = [["shard-000003", f"{SHORT}_2.mp4", SHORT, "[2.0, 4.0]"]]
    (source / f"{SHORT}.mp4").write_bytes(b"garbage" * 100)
    summary = rebuild(tmp_path, write_output_csv(tmp_path / "more.csv", rows), source)
    status = list(read_jsonl(data / "rebuild.status.jsonl"))
    assert [r["status"] for r in status] == ["video unavailable"]
    assert "invalid file" in status[0]["detail"] and summary["fraction_rebuilt"] == 0.0


def test_stage3_cut_modes_apply(tmp_path: Path, source_dir) -> None:
    source = source_dir({LONG: 10.0})
    rows = [["shard-000000", f"{LONG}_2.mp4", LONG, "[2.0, 5.0]"]]
    durations = {}
    for mode in ("accurate", "copy"):
        (tmp_path / mode).mkdir()
        list_path = write_output_csv(tmp_path / mode / "output.csv", rows)
        summary = rebuild(tmp_path / mode, list_path, source, cut_mode=mode, cut_workers=1)
        assert summary["status"]["ok"] == 1
        clip = probe_media(tmp_path / mode / "data" / "videos" / "clips" / f"{LONG}_2.mp4")
        assert clip.has_video and clip.has_audio
        durations[mode] = clip.duration
    assert durations["accurate"] == pytest.approx(3.0, abs=0.05)
    # The original's stream copy starts at the keyframe before the start: a longer clip.
    assert durations["copy"] > 3.1
