"""Stage 3 under unusual sources: every cut clip is checked before it counts, odd sizes are cut,
and a source replaced after bundling never makes clips, log and shard disagree."""

from __future__ import annotations

import io
import json
import logging
import os
import tarfile
from pathlib import Path

import pytest

from acav.clip_segmentation.config import SegmentConfig
from acav.clip_segmentation.runner import latest_records, run_segmentation
from acav.clip_segmentation.validate import stream_spans
from acav.core.encode import write_wav
from acav.core.layout import DataLayout
from acav.core.media import probe_media, run_ffmpeg

RED, BLUE = (200, 30, 30), (30, 30, 200)


def _cfg(**kwargs) -> SegmentConfig:
    kwargs.setdefault("workers", 1)
    kwargs.setdefault("clips_per_shard", 4)
    return SegmentConfig(**kwargs)


def _lavfi_source(path: Path, size: str, seconds: float, pix_fmt: str = "yuv420p") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(
        ["-f", "lavfi", "-i", f"testsrc=size={size}:rate=25:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=16000:duration={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", pix_fmt, "-c:a", "aac", "-shortest",
         "-f", "mp4", str(path)]
    )  # fmt: skip
    return path


def test_odd_width_and_height_are_cut(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path / "data")
    source = _lavfi_source(layout.raw_videos_dir / "oddsize0001.mp4", "161x121", 12, pix_fmt="yuv444p")
    assert (probe_media(source).width, probe_media(source).height) == (161, 121)
    run_segmentation(layout, _cfg())
    record = latest_records(layout)["oddsize0001"]
    assert record["status"] == "ok", record
    clip = layout.clips_dir / record["clips"][0]["filename"]
    info = probe_media(clip)
    assert (info.width, info.height) == (160, 120) and info.has_audio


def test_clips_past_the_end_of_the_sound_do_not_count(tmp_path: Path, make_video) -> None:
    layout = DataLayout(tmp_path / "data")
    picture = make_video("picture.mp4", shots=[(11.0, RED), (14.0, BLUE)], audio=False)
    sound = tmp_path / "sound.wav"
    write_wav(sound, 0.3 * __import__("numpy").ones(16000 * 3, dtype="float32"), 16000)
    layout.raw_videos_dir.mkdir(parents=True)
    source = layout.raw_videos_dir / "shortsound1.mp4"
    run_ffmpeg(["-i", str(picture), "-i", str(sound), "-map", "0:v", "-map", "1:a", "-c:v", "copy",
                "-c:a", "aac", "-f", "mp4", str(source)])  # fmt: skip
    run_segmentation(layout, _cfg(max_clips=2))
    record = latest_records(layout)["shortsound1"]
    # The first window (from 0 s) holds 3 s of sound, the second (after 11 s) none: neither is a clip.
    assert record["status"] == "failed" and record["reason"] == "bad_clip", record
    assert len(record["dropped"]) == 2 and record["clips"] == []
    assert "audio" in record["dropped"][0]["reason"]
    assert not list(layout.clips_dir.glob("shortsound1_*.mp4"))
    assert not list(layout.videos_dir.glob("shard-*.tar"))


def test_a_very_sparse_video_gives_no_overlong_clip(tmp_path: Path) -> None:
    # One frame every 20 s: a cut at 0 s keeps the first frame, which lasts until 20 s.
    layout = DataLayout(tmp_path / "data")
    layout.raw_videos_dir.mkdir(parents=True)
    source = layout.raw_videos_dir / "sparse00001.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc=size=160x120:rate=1:duration=40",
                "-f", "lavfi", "-i", "sine=sample_rate=16000:duration=40",
                "-vf", "select='not(mod(n\\,20))'", "-fps_mode", "vfr", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-f", "mp4", str(source)])  # fmt: skip
    run_segmentation(layout, _cfg(max_clips=3))
    record = latest_records(layout)["sparse00001"]
    assert record["status"] in ("ok", "failed"), record
    for clip in record["clips"]:
        spans = stream_spans(layout.clips_dir / clip["filename"])
        assert abs(spans["video"] - 10.0) <= 0.5 and abs(spans["audio"] - 10.0) <= 0.5, (clip, spans)
    assert record.get("dropped"), record
    assert any("video lasts 20.00 s" in d["reason"] or "no video" in d["reason"] for d in record["dropped"])


def test_replaced_source_never_disagrees_with_its_shard(tmp_path: Path, make_video) -> None:
    layout = DataLayout(tmp_path / "data")
    make_video("replaced001.mp4", shots=[(12.0, RED)], directory=layout.raw_videos_dir)
    make_video("unchanged01.mp4", shots=[(12.0, BLUE)], directory=layout.raw_videos_dir)
    run_segmentation(layout, _cfg())
    (tar_path,) = layout.videos_dir.glob("shard-*.tar")
    shard_bytes = tar_path.read_bytes()
    log_lines = layout.segmentation_log.read_text()
    # The user downloads the video again: other content, new size and mtime.
    source = layout.raw_videos_dir / "replaced001.mp4"
    other = make_video("other.mp4", shots=[(6.0, BLUE), (7.0, RED)])
    os.replace(other, source)
    messages: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("acav").addHandler(handler)
    try:
        summary = run_segmentation(layout, _cfg())
    finally:
        logging.getLogger("acav").removeHandler(handler)
    err = "\n".join(messages)
    assert "replaced001.mp4 changed after its clips were bundled into shard-000000" in err
    assert summary["replaced_after_bundling"] == {"replaced001": ["shard-000000"]}
    assert tar_path.read_bytes() == shard_bytes and layout.segmentation_log.read_text() == log_lines
    with tarfile.open(tar_path) as tar:
        for member in tar.getmembers():
            data = tar.extractfile(member).read()
            assert (layout.clips_dir / member.name).read_bytes() == data, member.name
    entries = json.loads(tar_path.with_suffix(".json").read_text())
    assert sorted(e["filename"] for e in entries) == sorted(
        m for m in os.listdir(layout.clips_dir) if m.endswith(".mp4")
    )


@pytest.mark.parametrize("size", [(161, 120), (160, 121)])
def test_scale_filter_makes_even_sizes(size: tuple[int, int]) -> None:
    from acav.clip_segmentation.cutter import scale_filter

    assert scale_filter(*size, short_side=256) == "scale=w=trunc(iw/2)*2:h=trunc(ih/2)*2"
    assert scale_filter(160, 120, short_side=256) is None


def test_stage4_takes_only_the_members_the_json_lists(tmp_path: Path, make_video) -> None:
    from acav.core.safe_pickle import safe_load
    from acav.feature_extraction.options import ExtractionConfig
    from acav.feature_extraction.runner import RUN_LOG_NAME, run_extraction

    layout = DataLayout(tmp_path / "data")
    clip = make_video("abcdefghijk_0.mp4", shots=[(10.0, RED)])
    other = make_video("other.mp4", shots=[(10.0, BLUE)])
    layout.videos_dir.mkdir(parents=True)
    tar_path = layout.video_shard_tar(0)
    with tarfile.open(tar_path, "w") as tar:
        tar.add(clip, arcname="abcdefghijk_0.mp4")
        data = other.read_bytes()
        for name in ("../abcdefghijk_0.mp4", "/tmp/abs_0.mp4", "unlisted000_0.mp4", "sub/abcdefghijk_0.mp4"):
            info = tarfile.TarInfo(name)  # set by hand: tar.add() would strip the leading "/"
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    entries = [{"filename": "abcdefghijk_0.mp4", "id": "abcdefghijk", "segment": [0.0, 10.0]}]
    layout.video_shard_json(0).write_text(json.dumps(entries))
    config = ExtractionConfig(visual_extractor="basic_visual", audio_extractor="basic_audio", device="cpu")
    run_extraction(config, layout)
    rows = safe_load(layout.feature_shard("shard-000000"))
    assert [r["filename"] for r in rows] == ["abcdefghijk_0.mp4"]
    # The listed clip's features are those of the listed member, not of a same-named impostor.
    shard_records = [
        json.loads(line) for line in (layout.features_dir / RUN_LOG_NAME).read_text().splitlines()
        if '"event": "shard"' in line
    ]  # fmt: skip
    failures = {f["filename"]: f["reason"] for f in shard_records[-1]["failures"]}
    assert set(failures) == {
        "../abcdefghijk_0.mp4",
        "/tmp/abs_0.mp4",
        "unlisted000_0.mp4",
        "sub/abcdefghijk_0.mp4",
    }
    assert all("not listed in the shard json" in reason for reason in failures.values())


def test_shards_are_byte_identical_whatever_the_clip_file_times(tmp_path: Path) -> None:
    from acav.clip_segmentation.shards import ClipEntry, bundle

    tars = []
    for run, stamp in (("a", 1_600_000_000), ("b", 1_700_000_000)):
        layout = DataLayout(tmp_path / run)
        layout.clips_dir.mkdir(parents=True)
        entries = []
        for i in range(3):
            name = f"abcdefghijk_{i}.mp4"
            (layout.clips_dir / name).write_bytes(bytes([i]) * 1000)
            os.utime(layout.clips_dir / name, (stamp + i, stamp + i))
            entries.append(ClipEntry(name, "abcdefghijk", float(i), i + 10.0))
        assert bundle(layout, entries, 8) == ["shard-000000"]
        tars.append(layout.video_shard_tar(0).read_bytes())
    assert tars[0] == tars[1]
