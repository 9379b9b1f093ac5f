"""``--source-dir``: videos already on disk are validated, then hard-linked, copied or remuxed."""

from __future__ import annotations

import json
import shutil

import pytest
from vd_helpers import by_id

from acav.core.media import probe_media, run_ffmpeg
from acav.video_download.local_source import index_source_dir


@pytest.fixture
def source_dir(media, tmp_path):
    src = tmp_path / "source_videos"
    src.mkdir()
    shutil.copyfile(media("ok"), src / "linkvideo01.mp4")
    shutil.copyfile(media("mkv"), src / "mkvvideo001.mkv")
    shutil.copyfile(media("noaudio"), src / "silentvideo.mp4")
    shutil.copyfile(media("garbage"), src / "garbagevid1.webm")
    shutil.copyfile(media("ok2"), src / "bothformats.mp4")
    shutil.copyfile(media("mkv"), src / "bothformats.mkv")
    # h264 + mu-law audio in Matroska: the mp4 muxer refuses mu-law, so a stream copy fails -> re-encode.
    run_ffmpeg(
        ["-loglevel", "error", "-y", "-i", str(media("ok")), "-c:v", "copy", "-c:a", "pcm_mulaw",
         str(src / "pcmvideo001.mkv")]
    )  # fmt: skip
    # A Matroska file cut in half: no per-stream durations, so the container duration is the check.
    long_mkv = tmp_path / "long.mkv"
    run_ffmpeg(["-loglevel", "error", "-y", "-i", str(media("long")), "-c", "copy", str(long_mkv)])
    (src / "truncmkv001.mkv").write_bytes(long_mkv.read_bytes()[: long_mkv.stat().st_size // 2])
    (src / "notanid.mp4").write_bytes(b"x")  # ignored: not an 11-character id
    return src


def test_index_prefers_mp4_and_ignores_other_names(source_dir) -> None:
    index = index_source_dir(source_dir)
    assert index["bothformats"].name == "bothformats.mp4"
    assert "notanid" not in index and len(index) == 7


def test_source_dir_link_remux_and_failures(source_dir, run_stage, out_dir) -> None:
    ids = [
        "linkvideo01",
        "mkvvideo001",
        "pcmvideo001",
        "missingvid1",
        "silentvideo",
        "garbagevid1",
        "bothformats",
        "truncmkv001",
    ]
    summary = run_stage(ids, source_dir=source_dir)
    logged = {vid: recs[-1] for vid, recs in by_id(out_dir).items()}

    assert logged["linkvideo01"]["message"] == "hard-linked"
    assert (out_dir / "linkvideo01.mp4").stat().st_ino == (source_dir / "linkvideo01.mp4").stat().st_ino
    assert logged["bothformats"]["message"] == "hard-linked"
    assert logged["mkvvideo001"]["message"] == "remuxed from mkv (copy)"
    assert logged["pcmvideo001"]["message"] == "remuxed from mkv (reencode)"
    for vid in ("mkvvideo001", "pcmvideo001"):
        info = probe_media(out_dir / f"{vid}.mp4")
        assert info.has_video and info.has_audio and info.duration == pytest.approx(1.5, abs=0.2)
    assert probe_media(out_dir / "pcmvideo001.mp4").audio_codec == "aac"
    assert (source_dir / "mkvvideo001.mkv").exists()  # the user's files are never moved

    assert logged["missingvid1"]["error_class"] == "unavailable"
    assert logged["silentvideo"]["error_class"] == "no audio"
    assert logged["garbagevid1"]["error_class"] == "invalid file"
    assert (
        logged["truncmkv001"]["error_class"] == "invalid file"
        and "truncated" in logged["truncmkv001"]["message"]
    )
    assert all(r["source"] == "local" and r["url"].endswith(vid) for vid, r in logged.items())
    assert summary.status == {"ok": 4, "skipped": 0, "failed": 4}
    assert sorted(p.name for p in out_dir.glob("*.mp4")) == [
        "bothformats.mp4", "linkvideo01.mp4", "mkvvideo001.mp4", "pcmvideo001.mp4",
    ]  # fmt: skip

    # Re-run: finished ids are skipped; failed ones are tried again and fail the same way.
    again = run_stage(source_dir=source_dir)
    assert again.status == {"ok": 0, "skipped": 4, "failed": 4}


def test_cli_with_data_dir_config_file_and_json_summary(source_dir, tmp_path, capsys) -> None:
    from vd_helpers import write_input

    from acav.cli import main

    data = tmp_path / "cli_data"
    data.mkdir()
    write_input(
        data / "filtered.tsv", ["linkvideo01", "https://www.youtube.com/watch?v=mkvvideo001", "../../etc"]
    )
    config = tmp_path / "acav.yaml"
    config.write_text(f"video_download:\n  workers: 1\n  source-dir: {source_dir}\n  max_height: 240\n")
    argv = ["download", "--data-dir", str(data), "--config", str(config), "--print-summary-json"]
    argv += ["--ytdlp-option", "geo_bypass=true", "--ytdlp-option", "player=web"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == {"ok": 2, "skipped": 0, "failed": 1} and summary["source"] == "local"
    raw = data / "videos" / "raw"
    assert (raw / "linkvideo01.mp4").is_file() and (raw / "mkvvideo001.mp4").is_file()
    assert json.loads((raw / "download.summary.json").read_text())["failed_by_class"] == {"invalid id": 1}

    assert main(["download", "--data-dir", str(tmp_path / "empty")]) == 2  # no filtered.tsv: clear error
    assert main(["download", "--data-dir", str(data), "--ytdlp-option", "outtmpl=x"]) == 2  # refused key


def test_symlinked_source_files_are_stored_as_real_files(media, tmp_path, run_stage, out_dir) -> None:
    # Source directories are often farms of symlinks; the stored video must be a real file,
    # not a copy of the link (a relative one would dangle inside videos/raw).
    src = tmp_path / "linked_sources"
    (src / "real").mkdir(parents=True)
    shutil.copyfile(media("ok"), src / "real" / "clip.mp4")
    (src / "relativelnk.mp4").symlink_to("real/clip.mp4")
    (src / "absolutelnk.mp4").symlink_to(src / "real" / "clip.mp4")
    summary = run_stage(["relativelnk", "absolutelnk"], source_dir=src)
    assert summary.status == {"ok": 2, "skipped": 0, "failed": 0}
    for vid in ("relativelnk", "absolutelnk"):
        stored = out_dir / f"{vid}.mp4"
        assert not stored.is_symlink()
        assert stored.stat().st_ino == (src / "real" / "clip.mp4").stat().st_ino
        assert probe_media(stored).has_audio


def test_symlinks_leading_out_of_the_output_dir_fail_one_id_not_the_run(
    media, tmp_path, run_stage, out_dir
) -> None:
    src = tmp_path / "plain_sources"
    src.mkdir()
    for vid in ("outsidelnk1", "outsidelnk2", "normalvideo"):
        shutil.copyfile(media("ok"), src / f"{vid}.mp4")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    out_dir.mkdir(parents=True)
    (out_dir / "outsidelnk1.mp4").symlink_to(src / "outsidelnk1.mp4")  # as an old copy left it
    (out_dir / ".outsidelnk2.part-dir").symlink_to(outside)  # a work directory leading out
    summary = run_stage(["outsidelnk1", "outsidelnk2", "normalvideo"], source_dir=src)
    logged = {vid: recs[-1] for vid, recs in by_id(out_dir).items()}
    assert summary.status == {"ok": 1, "skipped": 0, "failed": 2}
    for vid in ("outsidelnk1", "outsidelnk2"):
        assert logged[vid]["status"] == "failed" and logged[vid]["error_class"] == "other"
        assert "outside" in logged[vid]["message"]
    assert logged["normalvideo"]["status"] == "ok"
    assert list(outside.iterdir()) == []  # nothing written through the link
