"""Shard bundling: tar members and json agree, shards are immutable, no clip is bundled twice."""

from __future__ import annotations

import json
import tarfile

from acav.clip_segmentation.shards import ClipEntry, bundle, complete_shards
from acav.core.layout import DataLayout


def _clips(layout: DataLayout, names: list[str]) -> list[ClipEntry]:
    layout.clips_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for i, name in enumerate(names):
        (layout.clips_dir / name).write_bytes(name.encode() * (i + 1))
        entries.append(ClipEntry(name, name.rsplit("_", 1)[0], float(i), float(i) + 10.0))
    return entries


def test_bundle_streams_clips_and_never_duplicates(tmp_path):
    layout = DataLayout(tmp_path)
    clips = _clips(layout, ["aaa_1.mp4", "aaa_20.mp4", "bbb_0.mp4"])
    assert bundle(layout, clips, 2) == ["shard-000000", "shard-000001"]
    with tarfile.open(layout.video_shard_tar(0)) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    assert list(members) == ["aaa_1.mp4", "aaa_20.mp4"]
    assert members["aaa_20.mp4"] == b"aaa_20.mp4" * 2
    assert json.loads(layout.video_shard_json(1).read_text()) == [
        {"filename": "bbb_0.mp4", "id": "bbb", "segment": [2.0, 12.0]}
    ]
    # Same clips again: nothing new. Plus one clip: a new shard; existing shards untouched.
    stamp = layout.video_shard_tar(1).stat().st_mtime_ns
    assert bundle(layout, clips, 2) == []
    more = clips + _clips(layout, ["ccc_5.mp4"])[0:1]
    assert bundle(layout, more, 2) == ["shard-000002"]
    assert layout.video_shard_tar(1).stat().st_mtime_ns == stamp
    assert complete_shards(layout) == {0: ["aaa_1.mp4", "aaa_20.mp4"], 1: ["bbb_0.mp4"], 2: ["ccc_5.mp4"]}


def test_tar_without_json_is_redone(tmp_path):
    layout = DataLayout(tmp_path)
    clips = _clips(layout, ["aaa_1.mp4", "bbb_0.mp4"])
    layout.videos_dir.mkdir(parents=True, exist_ok=True)
    layout.video_shard_tar(0).write_bytes(b"partial")  # an interrupted run's tar, no json
    assert bundle(layout, clips, 10) == ["shard-000000"]
    with tarfile.open(layout.video_shard_tar(0)) as tar:
        assert tar.getnames() == ["aaa_1.mp4", "bbb_0.mp4"]


def test_missing_clip_files_are_left_out(tmp_path):
    layout = DataLayout(tmp_path)
    clips = _clips(layout, ["aaa_1.mp4", "bbb_0.mp4"])
    (layout.clips_dir / "aaa_1.mp4").unlink()
    assert bundle(layout, clips, 10) == ["shard-000000"]
    assert [e["filename"] for e in json.loads(layout.video_shard_json(0).read_text())] == ["bbb_0.mp4"]
