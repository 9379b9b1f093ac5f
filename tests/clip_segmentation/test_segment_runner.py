"""End to end: raw videos -> per-video records, clips inside shots, shards; bad files, resume, seeds."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest

from acav.clip_segmentation.config import SegmentConfig
from acav.clip_segmentation.runner import latest_records, run_segmentation
from acav.core.config import ConfigError
from acav.core.layout import DataLayout, list_shards
from acav.core.records import read_jsonl

RED, GREEN, BLUE, YELLOW, CYAN = (200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30), (30, 200, 200)
# Five shots of >= 10 s (two of them red) and one short green shot.
MULTI = [(12.0, RED), (3.0, GREEN), (14.0, BLUE), (11.0, YELLOW), (13.0, CYAN), (12.0, (205, 35, 28))]
MULTI_SHOTS = [(0.0, 12.0), (12.0, 15.0), (15.0, 29.0), (29.0, 40.0), (40.0, 53.0), (53.0, 65.0)]


def _data_dir(tmp_path: Path, make_video, name: str = "data") -> DataLayout:
    layout = DataLayout(tmp_path / name)
    raw = layout.raw_videos_dir
    make_video("multishot_1.mp4", shots=MULTI, directory=raw)
    make_video("short_clip7.mp4", shots=[(7.0, RED)], directory=raw)
    make_video("no_audio_12.mp4", shots=[(12.0, BLUE)], audio=False, directory=raw)
    make_video("centre_only.mp4", shots=[(5.0, RED), (6.0, GREEN), (5.0, BLUE)], directory=raw)
    rng = np.random.default_rng(0)
    (raw / "randombytes.mp4").write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    whole = make_video("whole.mp4", shots=[(20.0, GREEN), (20.0, BLUE)], directory=tmp_path)
    data = whole.read_bytes()
    (raw / "truncated00.mp4").write_bytes(data[: len(data) // 3])
    (raw / "download.log.jsonl").write_text("{}\n")  # not a video: ignored
    return layout


def _cfg(**kwargs) -> SegmentConfig:
    kwargs.setdefault("workers", 1)
    kwargs.setdefault("clips_per_shard", 2)
    return SegmentConfig(**kwargs)


def _shard_contents(layout: DataLayout) -> list[tuple[str, list[str], list[dict]]]:
    out = []
    for tar_path in list_shards(layout.videos_dir, ".tar"):
        with tarfile.open(tar_path) as tar:
            members = [(m.name, m.size) for m in tar.getmembers()]
        entries = json.loads(tar_path.with_suffix(".json").read_text())
        out.append((tar_path.stem, members, entries))
    return out


def test_end_to_end_records_clips_and_shards(tmp_path, make_video):
    layout = _data_dir(tmp_path, make_video)
    summary = run_segmentation(layout, _cfg())
    records = latest_records(layout)
    assert set(records) == {
        "multishot_1",
        "short_clip7",
        "no_audio_12",
        "centre_only",
        "randombytes",
        "truncated00",
    }
    reasons = {vid: (r["status"], r["reason"]) for vid, r in records.items()}
    assert reasons == {
        "multishot_1": ("ok", None),
        "short_clip7": ("rejected", "too_short"),
        "no_audio_12": ("rejected", "no_audio"),
        "centre_only": ("ok", None),
        "randombytes": ("failed", "corrupt"),
        "truncated00": ("failed", reasons["truncated00"][1]),
    }
    assert reasons["truncated00"][1] in ("corrupt", "decode_error")

    multi = records["multishot_1"]
    assert multi["threshold"] == 10.0 and multi["threshold_tries"] == 1
    assert multi["cuts"] == pytest.approx([12.0, 15.0, 29.0, 40.0, 53.0])
    assert multi["long_shots"] == 5 and multi["candidates"] == 5
    clips = multi["clips"]
    assert len(clips) == 3
    for clip in clips:
        assert clip["end"] - clip["start"] == pytest.approx(10.0)
        inside = [s for s in MULTI_SHOTS if s[0] <= clip["start"] and clip["end"] <= s[1] + 1e-9]
        assert len(inside) == 1, clip  # every clip lies inside one shot...
        centre = (inside[0][0] + inside[0][1]) / 2
        assert (clip["start"] + clip["end"]) / 2 == pytest.approx(centre, abs=0.04)  # ...centred in it
        assert clip["filename"] == f"multishot_1_{int(clip['start']):03d}.mp4"  # zero-padded as the original
        assert (layout.clips_dir / clip["filename"]).is_file()
    red_shots = sum(1 for c in clips if c["start"] < 12 or c["start"] >= 53)
    assert red_shots <= 1  # the two near-identical red shots are never both chosen

    # Shots 5 + 6 + 5 s: annealing first drops the weaker cut (red -> green, scdet score ~16), which
    # leaves an 11 s shot; later tries drop every cut, but a video whose first try found cuts is never
    # treated as cut-free: the try with the most long shots is kept, and its clip stays inside.
    centre = records["centre_only"]
    assert centre["cuts"] == pytest.approx([11.0]) and 16.4 < centre["threshold"] < 26.9
    assert centre["cut_free"] is False and centre["long_shots"] == 1 and centre["fallback"] is False
    [clip] = centre["clips"]
    assert 0.0 <= clip["start"] and clip["end"] <= 11.0 and clip["filename"] == "centre_only_000.mp4"

    # Shards: 4 clips, 2 per shard; tar members and json entries agree one to one, in order.
    shards = _shard_contents(layout)
    assert [name for name, _, _ in shards] == ["shard-000000", "shard-000001"]
    all_entries = []
    for _, members, entries in shards:
        assert [m[0] for m in members] == [e["filename"] for e in entries]
        for (member, size), entry in zip(members, entries, strict=True):
            assert size == (layout.clips_dir / member).stat().st_size
            assert entry["id"] == member.rsplit("_", 1)[0]
            record_clip = next(c for c in records[entry["id"]]["clips"] if c["filename"] == member)
            assert entry["segment"] == [record_clip["start"], record_clip["end"]]
        all_entries += entries
    assert sorted(e["filename"] for e in all_entries) == sorted(
        c["filename"] for r in records.values() for c in r["clips"]
    )
    assert summary["clips"] == 4 and summary["status"] == {"ok": 2, "rejected": 2, "failed": 2}
    assert summary["new_shards"] == ["shard-000000", "shard-000001"]
    report = json.loads((layout.clips_dir / "segmentation.report.json").read_text())
    assert report["per_video"]["short_clip7"] == {"status": "rejected", "clips": 0, "reason": "too_short"}

    # WebDataset reads the shards with keys = clip names without extension.
    import webdataset as wds

    keys = [s["__key__"] for s in wds.WebDataset(str(layout.video_shard_tar(0)), shardshuffle=False)]
    assert keys == [e["filename"][:-4] for e in shards[0][2]]

    # Re-run: everything is final, nothing is processed again, no shard is added or changed.
    log_lines = len(list(read_jsonl(layout.segmentation_log)))
    before = {p.name: p.stat().st_mtime_ns for p in layout.videos_dir.iterdir() if p.is_file()}
    again = run_segmentation(layout, _cfg())
    assert again["processed_now"] == 0 and again["skipped_done"] == 6 and again["new_shards"] == []
    assert len(list(read_jsonl(layout.segmentation_log))) == log_lines
    assert before == {p.name: p.stat().st_mtime_ns for p in layout.videos_dir.iterdir() if p.is_file()}

    # --retry-failed re-processes only the failed videos; a new video goes into a new shard.
    make_video("newvideo_01.mp4", shots=[(11.0, CYAN)], directory=layout.raw_videos_dir)
    third = run_segmentation(layout, _cfg(retry_failed=True))
    assert third["processed_now"] == 3
    assert third["new_shards"] == ["shard-000002"]
    names = [e["filename"] for _, _, entries in _shard_contents(layout) for e in entries]
    assert len(names) == len(set(names)) == 5
    assert names[-1] == "newvideo_01_000.mp4"


def test_no_audio_kept_when_not_required(make_video, tmp_path):
    layout = DataLayout(tmp_path / "d")
    make_video("no_audio_12.mp4", shots=[(12.0, BLUE)], audio=False, directory=layout.raw_videos_dir)
    run_segmentation(layout, _cfg(require_audio=False, shards=False))
    record = latest_records(layout)["no_audio_12"]
    assert record["status"] == "ok" and len(record["clips"]) == 1
    assert list_shards(layout.videos_dir, ".tar") == []


def test_no_clip_across_cuts_unless_the_original_rule_is_asked_for(make_video, tmp_path):
    from acav.clip_segmentation.runner import VideoTask, process_video

    # Red 5 s, green 6 s, red 5 s: both cuts have the same score, so every try either finds both
    # (no shot of 10 s) or none.
    path = make_video("red_green_red.mp4", shots=[(5.0, RED), (6.0, GREEN), (5.0, RED)])
    clips_dir = tmp_path / "clips"
    clips_dir.mkdir()
    ours = process_video(VideoTask("rgr", str(path), str(clips_dir), _cfg()))
    assert (ours["status"], ours["reason"], ours["clips"]) == ("rejected", "no_long_shot", [])
    assert ours["cuts"] == pytest.approx([5.0, 11.0]) and ours["threshold"] == 10.0
    assert "--shot-rule original" in ours["detail"] and not list(clips_dir.iterdir())

    original = process_video(VideoTask("rgr", str(path), str(clips_dir), _cfg(shot_rule="original")))
    assert original["status"] == "ok" and original["shot_rule"] == "original"
    assert original["fallback"] is True and original["long_shots"] == 0
    # The last try that found a cut gives the candidates (none long), not the cut-free tries after it.
    assert original["cuts"] == pytest.approx([5.0, 11.0]) and 14.0 < original["threshold"] < 17.0
    assert [(c["start"], c["end"]) for c in original["clips"]] == [(3.0, 13.0)]


def test_copy_and_smart_mode_clips_pass_the_clip_check(make_video, tmp_path):
    """``--cut-mode copy`` clips hold the GOP before their start (hidden by the edit list), ``smart``
    clips two parameter sets: they still count as 10 s clips, the same windows as a re-encoded cut."""
    from acav.clip_segmentation.runner import VideoTask, process_video

    path = make_video("two_shots.mp4", shots=[(13.0, RED), (12.0, BLUE)])
    records = {}
    for mode in ("copy", "smart", "accurate"):
        clips_dir = tmp_path / mode
        clips_dir.mkdir()
        records[mode] = process_video(VideoTask("two", str(path), str(clips_dir), _cfg(cut_mode=mode)))
        assert records[mode]["status"] == "ok" and "dropped" not in records[mode]
        assert all((clips_dir / c["filename"]).is_file() for c in records[mode]["clips"])
    assert records["copy"]["clips"] == records["smart"]["clips"] == records["accurate"]["clips"]
    assert [c["start"] for c in records["copy"]["clips"]] == pytest.approx([1.5, 14.0], abs=0.021)


def test_seeded_choice_is_deterministic_and_parallel_equals_serial(make_video, tmp_path):
    results = []
    for name, workers in (("a", 1), ("b", 2)):
        layout = DataLayout(tmp_path / name)
        make_video("multishot_1.mp4", shots=MULTI, directory=layout.raw_videos_dir)
        make_video(
            "centre_only.mp4", shots=[(5.0, RED), (6.0, GREEN), (5.0, BLUE)], directory=layout.raw_videos_dir
        )
        run_segmentation(layout, _cfg(workers=workers, seed=3))
        results.append({vid: r["clips"] for vid, r in latest_records(layout).items()})
        results[-1]["shards"] = [entries for _, _, entries in _shard_contents(layout)]
    assert results[0] == results[1]


def test_config_errors_name_the_option():
    with pytest.raises(ConfigError, match="threshold_factor"):
        SegmentConfig(threshold_factor=1.0)
    with pytest.raises(ConfigError, match="analysis_short_side"):
        SegmentConfig(analysis_short_side=63)


def test_cli_prints_summary(make_video, tmp_path, capsys):
    from acav.cli import main

    data = tmp_path / "d"
    make_video("short_clip7.mp4", shots=[(7.0, RED)], directory=DataLayout(data).raw_videos_dir)
    args = ["segment", "--data-dir", str(data), "--workers", "2", "--threads", "5", "--clips-per-shard", "5"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "1 videos" in out and "rejected:too_short=1" in out
    assert os.path.exists(DataLayout(data).segmentation_log)
    report = json.loads((DataLayout(data).clips_dir / "segmentation.report.json").read_text())
    assert (report["workers"], report["threads_per_worker"]) == (2, 2)  # 2 x 2 <= --threads 5


def test_clips_of_a_video_with_a_container_start_offset_stay_in_their_shots(make_video, tmp_path):
    # Timestamps starting at ~5 s (e.g. a remuxed stream): ffmpeg's -ss is relative to the
    # container start already, so the cut must not add the offset a second time.
    from acav.clip_segmentation.runner import VideoTask, process_video
    from acav.core.decode import read_video_frames
    from acav.core.media import run_ffmpeg

    source = make_video("plain.mp4", shots=[(12.0, RED), (14.0, BLUE), (11.0, GREEN)])
    shifted = tmp_path / "shifted.mp4"
    run_ffmpeg(["-loglevel", "error", "-y", "-i", str(source), "-c", "copy", "-output_ts_offset", "5",
                str(shifted)])  # fmt: skip
    clips_dir = tmp_path / "clips"
    clips_dir.mkdir()
    record = process_video(VideoTask("shifted", str(shifted), str(clips_dir), _cfg()))
    assert record["status"] == "ok", record
    assert len(record["clips"]) == 3
    for clip, colour in zip(record["clips"], (RED, BLUE, GREEN), strict=True):
        frames = read_video_frames(clips_dir / clip["filename"]).frames
        assert len(frames) == 250
        corners = frames[:, 2, 2, :].astype(int)  # the moving bar never reaches the corner
        assert np.abs(corners - np.asarray(colour)).max() < 12, clip  # one shot, first to last frame


def test_cli_refuses_an_unreadable_shard_json_without_a_traceback(make_video, tmp_path, capsys):
    from acav.cli import main

    layout = DataLayout(tmp_path / "d")
    make_video("short_clip7.mp4", shots=[(7.0, RED)], directory=layout.raw_videos_dir)
    layout.video_shard_tar(0).write_bytes(b"")
    layout.video_shard_json(0).write_text("{not json")
    assert main(["segment", "--data-dir", str(layout.root), "--workers", "1"]) == 1
    err = capsys.readouterr().err
    assert "shard-000000.json: unreadable shard index" in err and "Traceback" not in err
    assert not layout.segmentation_log.exists()  # refused before any video was processed
