"""The download stage with the real yt-dlp against a loopback HTTP server (never the internet)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from vd_helpers import LoopbackServer, Serve, Status, by_id, records

from acav.core.media import probe_media


@pytest.fixture
def server():
    with LoopbackServer() as srv:
        yield srv


def leftovers(output_dir: Path) -> list[str]:
    """Anything besides finished videos, the log, the summary, the lock and yt-dlp's cache dir."""
    keep = {"download.log.jsonl", "download.summary.json", ".download.lock", ".ytdlp-cache"}
    return sorted(p.name for p in output_dir.iterdir() if p.name not in keep and not p.name.endswith(".mp4"))


def test_downloads_ok_with_duplicate_and_remux(server, media, run_stage, out_dir) -> None:
    a = server.route("okvideo000A", Serve(media("ok").read_bytes()))
    b = server.route("okvideo000B", Serve(media("ok2").read_bytes()))
    c = server.route("mkvvideo00C", Serve(media("mkv").read_bytes(), content_type="video/x-matroska"))
    summary = run_stage([a, b, c, a])

    assert (out_dir / "okvideo000A.mp4").read_bytes() == media("ok").read_bytes()
    assert (out_dir / "okvideo000B.mp4").read_bytes() == media("ok2").read_bytes()
    remuxed = probe_media(out_dir / "mkvvideo00C.mp4")
    assert remuxed.has_video and remuxed.has_audio and remuxed.duration == pytest.approx(1.5, abs=0.2)
    assert (out_dir / "mkvvideo00C.mp4").read_bytes()[4:8] == b"ftyp"  # a real mp4 container now

    logged = by_id(out_dir)
    # Order between the workers and the reader is not fixed; the duplicate is logged on sight.
    assert sorted(r["status"] for r in logged["okvideo000A"]) == ["ok", "skipped"]
    dup = next(r for r in logged["okvideo000A"] if r["status"] == "skipped")
    assert dup["reason"] == "duplicate" and dup["line"] == 4 and "line 1" in dup["message"]
    ok = logged["okvideo000B"][0]
    assert ok["bytes"] == len(media("ok2").read_bytes()) and ok["attempt"] == 1 and ok["url"] == b
    assert ok["error_class"] is None and ok["seconds"] > 0 and ok["timestamp"].endswith("Z")
    assert "remuxed from mkv (copy)" == logged["mkvvideo00C"][0]["message"]
    # yt-dlp's generic extractor asks twice (page, then media); the duplicate costs nothing.
    assert server.hits_for("okvideo000A") == 2
    assert summary.status == {"ok": 3, "skipped": 1, "failed": 0} and summary.ids == 4
    assert leftovers(out_dir) == []

    # Resume: a finished file is never fetched again.
    again = run_stage()
    assert again.status == {"ok": 0, "skipped": 4, "failed": 0}
    assert server.hits_for("okvideo000A") == 2 and server.hits_for("mkvvideo00C") == 2
    reasons = [r["reason"] for r in records(out_dir)[-4:]]
    assert reasons.count("already present") == 3 and reasons.count("duplicate") == 1


def test_permanent_failures_are_classified_and_not_retried(server, media, run_stage, out_dir) -> None:
    missing = server.route("missing0001", Status(404))
    truncated = server.route("truncated01", Serve(media("truncated").read_bytes()))
    garbage = server.route("garbage0001", Serve(media("garbage").read_bytes()))
    silent = server.route("noaudio0001", Serve(media("noaudio").read_bytes()))
    summary = run_stage([missing, truncated, garbage, silent], retries=3)

    logged = by_id(out_dir)
    classes = {vid: [(r["status"], r["error_class"]) for r in recs] for vid, recs in logged.items()}
    assert classes == {
        "missing0001": [("failed", "unavailable")],
        "truncated01": [("failed", "invalid file")],
        "garbage0001": [("failed", "invalid file")],
        "noaudio0001": [("failed", "no audio")],
    }
    assert "404" in logged["missing0001"][0]["message"]
    assert "truncated" in logged["truncated01"][0]["message"]
    assert server.hits_for("missing0001") == 1  # not retried
    assert server.hits_for("noaudio0001") == 2  # one attempt (page + media)
    assert not list(out_dir.glob("*.mp4"))  # nothing invalid is kept under a final name
    assert leftovers(out_dir) == []
    assert summary.failed_by_class == {"invalid file": 2, "no audio": 1, "unavailable": 1}


def test_transient_errors_are_retried(server, media, run_stage, out_dir) -> None:
    flaky = server.route("flakyvideo1", Status(500), Serve(media("ok").read_bytes()))
    limited = server.route("ratelimit01", Status(429))
    data = media("ok").read_bytes()
    dropped = Serve(data, drop_after=3000)  # connection closed mid-transfer (both GETs of attempt 1)
    cut = server.route("droppedvid1", dropped, dropped, Serve(data))
    summary = run_stage([flaky, limited, cut], retries=2)

    logged = by_id(out_dir)
    assert [(r["status"], r["error_class"], r["attempt"]) for r in logged["flakyvideo1"]] == [
        ("failed", "network", 1),
        ("ok", None, 2),
    ]
    assert "will retry" in logged["flakyvideo1"][0]["message"]
    assert [(r["error_class"], r["attempt"]) for r in logged["ratelimit01"]] == [
        ("rate limited", 1),
        ("rate limited", 2),
        ("rate limited", 3),
    ]
    assert server.hits_for("ratelimit01") == 3
    assert [(r["status"], r["error_class"]) for r in logged["droppedvid1"]] == [
        ("failed", "network"),
        ("ok", None),
    ]
    assert (out_dir / "droppedvid1.mp4").read_bytes() == data
    assert (out_dir / "flakyvideo1.mp4").read_bytes() == media("ok").read_bytes()
    # Per id, only the final outcome counts in the summary; the retried attempts are counted apart.
    assert summary.status == {"ok": 2, "skipped": 0, "failed": 1}
    assert summary.attempts == 7 and summary.retried_attempts == 4


def test_stalled_server_hits_socket_timeout(server, media, run_stage, out_dir) -> None:
    data = media("ok").read_bytes()
    stalled = server.route("stalled0001", Serve(data, stall_after=2000, stall_s=5.0))
    run_stage([stalled], socket_timeout=0.5, retries=1)

    logged = by_id(out_dir)["stalled0001"]
    assert [(r["status"], r["error_class"]) for r in logged] == [("failed", "network"), ("failed", "network")]
    assert "timed out" in logged[-1]["message"].lower()
    assert all(r["seconds"] >= 0.4 for r in logged)  # waited for the timeout, not for the data
    assert not (out_dir / "stalled0001.mp4").exists() and leftovers(out_dir) == []


def test_retry_failed_reruns_only_the_last_failures(server, media, run_stage, out_dir) -> None:
    ok = server.route("goodvideo01", Serve(media("ok").read_bytes()))
    later = server.route("latervideo1", Status(404))
    broken = server.route("brokenvideo", Serve(media("garbage").read_bytes()))
    lines = [ok, later, broken]
    first = run_stage(lines)
    assert first.status == {"ok": 1, "skipped": 0, "failed": 2}
    count_before = len(records(out_dir))

    server.route("latervideo1", Serve(media("ok2").read_bytes()))  # the video came back
    second = run_stage(retry_failed=True)
    assert second.mode == "retry-failed" and second.ids == 2
    assert second.status == {"ok": 1, "skipped": 0, "failed": 1}
    new = records(out_dir)[count_before:]
    assert sorted(r["id"] for r in new) == ["brokenvideo", "latervideo1"]  # goodvideo01 untouched
    assert server.hits_for("goodvideo01") == 2
    assert (out_dir / "latervideo1.mp4").read_bytes() == media("ok2").read_bytes()

    third = run_stage(retry_failed=True)
    assert third.ids == 1 and [r["id"] for r in records(out_dir)[count_before + 2 :]] == ["brokenvideo"]


def test_hostile_ids_and_refused_urls(server, media, run_stage, tmp_path, out_dir) -> None:
    good = server.route("goodvideo02", Serve(media("ok").read_bytes()))
    hostile = [
        "../../x",
        "AAAAAAAAAAAA",  # 12 characters
        "ééééééééééé",  # 11 characters, not [A-Za-z0-9_-]
        "../../../../../../etc/passwd",
        "file://" + str(media("ok").with_name("goodvideo03")),
        "ftp://127.0.0.1/goodvideo04",
        "http://127.0.0.1/a/../../..",
        b"\xff\xfe\xfdbadbytes00\t{}",  # not UTF-8
        b"\t{}",  # empty first field
    ]
    summary = run_stage([*hostile, good])
    logged = records(out_dir)
    assert len(logged) == len(hostile) + 1  # every line accounted for
    failed = [r for r in logged if r["status"] == "failed"]
    assert len(failed) == len(hostile) and {r["error_class"] for r in failed} == {"invalid id"}
    assert sorted(r["line"] for r in failed) == list(range(1, len(hostile) + 1))
    file_record = next(r for r in failed if r["line"] == 5)
    assert "--allow-file-urls" in file_record["message"]
    assert summary.status == {"ok": 1, "skipped": 0, "failed": len(hostile)}
    # Nothing was written anywhere but the output directory.
    assert sorted(
        p.name for p in (tmp_path / "data").rglob("*") if p.is_file() and ".ytdlp-cache" not in str(p)
    ) == [
        ".download.lock",
        "download.log.jsonl",
        "download.summary.json",
        "goodvideo02.mp4",
    ]
    assert not (tmp_path / "x").exists() and not (tmp_path.parent / "x").exists()


def test_file_url_allowed_only_when_enabled(media, run_stage, out_dir, tmp_path) -> None:
    local = tmp_path / "files" / "filevideo01"
    local.parent.mkdir()
    local.write_bytes(media("ok").read_bytes())
    url = local.as_uri()
    run_stage([url])
    assert by_id(out_dir)["filevideo01"][0]["error_class"] == "invalid id"
    run_stage([url], allow_file_urls=True)
    last = by_id(out_dir)["filevideo01"][-1]
    assert last["status"] == "ok", last
    # No extension in the URL: yt-dlp names it "unknown_video", so it is remuxed into mp4.
    assert last["message"] == "remuxed from unknown_video (copy)"
    info = probe_media(out_dir / "filevideo01.mp4")
    assert info.has_video and info.has_audio and info.duration == pytest.approx(1.5, abs=0.2)


def test_max_duration_skips_long_videos(server, media, run_stage, out_dir) -> None:
    long = server.route("longvideo01", Serve(media("long").read_bytes()))
    short = server.route("shortvideo1", Serve(media("ok").read_bytes()))
    summary = run_stage([long, short], max_duration=2.0)
    logged = by_id(out_dir)
    assert (
        logged["longvideo01"][0]["status"] == "skipped" and logged["longvideo01"][0]["reason"] == "filtered"
    )
    assert "--max-duration" in logged["longvideo01"][0]["message"]
    assert not (out_dir / "longvideo01.mp4").exists() and (out_dir / "shortvideo1.mp4").exists()
    assert summary.skipped_by_reason == {"filtered": 1}


def test_crash_leftovers_are_cleaned_and_redownloaded(server, media, run_stage, out_dir) -> None:
    url = server.route("crashvideo1", Serve(media("ok").read_bytes()))
    # What a killed run leaves: a half-written work directory and an atomic temp file.
    work = out_dir / ".crashvideo1.part-dir"
    work.mkdir(parents=True)
    (work / "video.mp4.part").write_bytes(media("ok").read_bytes()[:500])
    (out_dir / "download.summary.json.tmp-abc").write_text("{")
    run_stage([url])
    assert (out_dir / "crashvideo1.mp4").read_bytes() == media("ok").read_bytes()
    assert leftovers(out_dir) == []
    os.sync()


def test_cookies_file_is_used_read_only(server, media, run_stage, out_dir, tmp_path) -> None:
    cookies = tmp_path / "cookies.txt"
    text = "# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\tabc\n"
    cookies.write_text(text)
    urls = [server.route(f"cookievid0{i}", Serve(media("ok").read_bytes())) for i in range(3)]
    summary = run_stage(urls, cookies=cookies, workers=3)
    assert summary.status["ok"] == 3
    assert cookies.read_text() == text  # yt-dlp saved its jar into a private copy, not here
    assert leftovers(out_dir) == []


def test_rate_limit_and_sleep_interval_slow_each_download(server, media, run_stage, out_dir) -> None:
    data = media("ok").read_bytes()
    assert len(data) > 8000
    limited = server.route("ratelimvid1", Serve(data))
    run_stage([limited], rate_limit="16K", workers=1)  # unthrottled this takes ~0.1 s
    first = by_id(out_dir)["ratelimvid1"][-1]
    assert first["status"] == "ok" and first["seconds"] >= (len(data) - 4096) / 16384 * 0.8
    sleepy = server.route("sleepyvid01", Serve(data))
    run_stage([sleepy], sleep_interval=0.5, workers=1)
    second = by_id(out_dir)["sleepyvid01"][-1]
    assert second["status"] == "ok" and second["seconds"] >= 0.5
