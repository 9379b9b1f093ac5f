"""Unit tests: error classes, retry policy, option parsing, input lines, yt-dlp parameters, log."""

from __future__ import annotations

import _thread
import json
import random
import threading
from pathlib import Path

import pytest
from vd_helpers import records, write_input

from acav.core.config import ConfigError
from acav.video_download import errors
from acav.video_download.errors import Cancelled, DownloadFailure, classify, classify_message
from acav.video_download.inputs import parse_field, read_items
from acav.video_download.log import failed_ids, last_outcomes
from acav.video_download.options import DownloadConfig, parse_size, parse_ytdlp_options
from acav.video_download.retry import RetryPolicy, run_with_retries
from acav.video_download.runner import AlreadyRunning, DownloadRunner, directory_lock
from acav.video_download.ytdlp_backend import YtdlpFetcher, duration_filter


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "ERROR: [youtube] abcdefghijk: Private video. Sign in if you've been granted access",
            errors.PRIVATE,
        ),
        (
            "ERROR: [youtube] abcdefghijk: Sign in to confirm your age. This video may be inappropriate",
            errors.RESTRICTED,
        ),
        (
            "ERROR: [youtube] x: The uploader has not made this video available in your country",
            errors.RESTRICTED,
        ),
        (
            "ERROR: [youtube] x: Video unavailable. This video has been removed by the uploader",
            errors.UNAVAILABLE,
        ),
        ("ERROR: [generic] x: Unable to download webpage: HTTP Error 404: Not Found", errors.UNAVAILABLE),
        (
            "ERROR: [generic] x: Unable to download webpage: HTTP Error 429: Too Many Requests",
            errors.RATE_LIMITED,
        ),
        (
            "ERROR: [generic] x: Unable to download webpage: HTTP Error 503: Service Unavailable",
            errors.NETWORK,
        ),
        (
            "ERROR: [download] Got error: HTTPConnectionPool(host='h', port=1): Read timed out.",
            errors.NETWORK,
        ),
        ("ERROR: [Errno 104] Connection reset by peer", errors.NETWORK),
        ("ERROR: Postprocessing: Conversion failed!", errors.INVALID_FILE),
        ("ERROR: something nobody has seen before", errors.OTHER),
    ],
)
def test_classify_messages(message: str, expected: str) -> None:
    assert classify_message(message) == expected
    assert classify(RuntimeError(message)).error_class == expected


class FakeHTTPError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP Error {status}")
        self.status = status


def test_classify_uses_wrapped_http_status_and_transience() -> None:
    from yt_dlp.utils import DownloadError

    wrapped = DownloadError("ERROR: unable to download video data", exc_info=(None, FakeHTTPError(502), None))
    failure = classify(wrapped)
    assert failure.error_class == errors.NETWORK and failure.transient
    assert classify(FakeHTTPError(429)).error_class == errors.RATE_LIMITED
    assert not classify(FakeHTTPError(404)).transient
    assert classify(TimeoutError("timed out")).error_class == errors.NETWORK
    assert classify(RuntimeError("\x1b[0;31mERROR:\x1b[0m bad\nthing")).message == "bad thing"


def test_retry_delays_grow_exponentially_with_bounded_jitter() -> None:
    policy = RetryPolicy(retries=6, base_delay=1.0, max_delay=10.0, rng=random.Random(3))
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (6, 10.0)]:
        delays = [policy.delay(attempt) for _ in range(200)]
        assert ceiling / 2 <= min(delays) and max(delays) <= ceiling
        assert max(delays) - min(delays) > ceiling * 0.3  # really jittered


def test_run_with_retries_retries_only_transient_failures() -> None:
    policy = RetryPolicy(retries=3, base_delay=0.001)
    seen: list[tuple[int, str, bool]] = []

    def flaky(attempt: int) -> str:
        if attempt < 3:
            raise DownloadFailure(errors.NETWORK, "reset")
        return "done"

    assert run_with_retries(policy, flaky, lambda n, f, r: seen.append((n, f.error_class, r))) == "done"
    assert seen == [(1, "network", True), (2, "network", True)]

    seen.clear()

    def gone(attempt: int) -> str:
        raise DownloadFailure(errors.UNAVAILABLE, "404")

    assert run_with_retries(policy, gone, lambda n, f, r: seen.append((n, f.error_class, r))) is None
    assert seen == [(1, "unavailable", False)]

    seen.clear()

    def always_down(attempt: int) -> str:
        raise DownloadFailure(errors.RATE_LIMITED, "429")

    assert run_with_retries(policy, always_down, lambda n, f, r: seen.append((n, f.error_class, r))) is None
    assert [s[0] for s in seen] == [1, 2, 3, 4] and seen[-1][2] is False

    stop = threading.Event()
    slow = RetryPolicy(retries=3, base_delay=30.0)

    def stop_then_fail(attempt: int) -> str:
        threading.Timer(0.05, stop.set).start()
        raise DownloadFailure(errors.NETWORK, "down")

    with pytest.raises(Cancelled):  # the 15-30 s backoff wait is cut short by the stop event
        run_with_retries(slow, stop_then_fail, lambda *a: None, stop)


def test_sizes_and_extra_options() -> None:
    assert parse_size("1000") == 1000 and parse_size("500K") == 512000
    assert parse_size("2M") == 2 * 1024**2 and parse_size("1.5MiB") == int(1.5 * 1024**2)
    with pytest.raises(ConfigError, match="rate-limit"):
        parse_size("fast")
    assert parse_ytdlp_options(
        ["concurrent-fragment-downloads=4", "geo_bypass=true", "player=web", 'x={"a": [1]}']
    ) == {
        "concurrent_fragment_downloads": 4,
        "geo_bypass": True,
        "player": "web",
        "x": {"a": [1]},
    }
    for bad in (["outtmpl=%(title)s.%(ext)s"], ["paths={}"], ["enable_file_urls=true"], ["novalue"]):
        with pytest.raises(ConfigError):
            parse_ytdlp_options(bad)
    with pytest.raises(ConfigError, match="workers"):
        DownloadConfig(workers=-1)  # 0 = auto, as in every stage (docs/OPTIONS.md)
    with pytest.raises(ConfigError, match="rate-limit"):
        DownloadConfig(rate_limit="lots")


def test_parse_input_fields() -> None:
    bare = parse_field("dQw4w9WgXcQ", 1)
    assert bare.valid and bare.url == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    url = parse_field("https://www.youtube.com/watch?v=NgI3xyMX1Ss", 2)
    assert url.valid and url.id == "NgI3xyMX1Ss" and url.url.endswith("NgI3xyMX1Ss")
    refused = parse_field("file:///srv/videos/NgI3xyMX1Ss", 3)
    assert refused.error_class == errors.INVALID_ID and "--allow-file-urls" in (refused.message or "")
    assert parse_field("file:///srv/videos/NgI3xyMX1Ss", 3, allow_file_urls=True).valid
    assert not parse_field("javascript://x/NgI3xyMX1Ss", 4, allow_file_urls=True).valid
    assert not parse_field("../../x", 5).valid and not parse_field("NgI3xyMX1S", 6).valid


def test_read_items_streams_lines_leniently(tmp_path: Path) -> None:
    path = write_input(tmp_path / "f.tsv", ["dQw4w9WgXcQ", b"", b"\xff\xfe\t{}", "NgI3xyMX1Ss", b"  \r"])
    items = list(read_items(path))
    assert [(i.line, i.valid) for i in items] == [(1, True), (3, False), (4, True)]
    assert "UTF-8" in (items[1].message or "")


def test_ytdlp_parameters_follow_the_options(tmp_path: Path) -> None:
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n")
    config = DownloadConfig(
        max_height=240,
        rate_limit="1M",
        sleep_interval=2.5,
        cookies=cookies,
        proxy="socks5://127.0.0.1:1080",
        socket_timeout=7,
        ytdlp_option=["concurrent_fragment_downloads=3", "retries=5"],
    )
    work = tmp_path / "raw" / ".abcdefghijk.part-dir"
    opts = YtdlpFetcher(config, tmp_path / "raw" / ".ytdlp-cache").options("abcdefghijk", work)
    assert opts["format"] == "bv*[height<=240]+ba/b[height<=240]/bv*[height<=240]/b"
    assert opts["merge_output_format"] == "mp4" and Path(opts["ffmpeg_location"]).name.startswith("ffmpeg")
    assert opts["outtmpl"] == {"default": str(work / "video.%(ext)s")}  # our name, never the title
    assert opts["ratelimit"] == 1024**2 and opts["sleep_interval"] == 2.5 and opts["socket_timeout"] == 7
    assert opts["proxy"] == "socks5://127.0.0.1:1080"
    assert opts["cookiefile"] == str(work / "cookies.txt")  # a private copy, not the user's file
    assert opts["cachedir"] == str(tmp_path / "raw" / ".ytdlp-cache") and opts["enable_file_urls"] is False
    assert opts["concurrent_fragment_downloads"] == 3 and opts["retries"] == 5  # pass-through wins
    assert DownloadConfig(format="18").format_selector() == "18"


def test_duration_filter() -> None:
    rejected: list[str] = []
    keep_short = duration_filter(600, rejected)
    assert keep_short({"duration": 599}) is None and keep_short({}) is None
    assert "601s > --max-duration 600s" in (keep_short({"duration": 601}) or "")
    assert rejected and duration_filter(None, [])({"duration": 10**6}) is None


def test_last_outcomes_ignore_skipped_records(tmp_path: Path) -> None:
    log = tmp_path / "download.log.jsonl"
    lines = [
        {"id": "a", "status": "failed"},
        {"id": "a", "status": "skipped", "reason": "duplicate"},
        {"id": "b", "status": "failed"},
        {"id": "b", "status": "ok"},
    ]
    log.write_text("\n".join(json.dumps(x) for x in lines) + '\n{"id": "c", "sta')  # torn last line
    outcomes = last_outcomes(log)
    assert {k: v["status"] for k, v in outcomes.items()} == {"a": "failed", "b": "ok"}
    assert failed_ids(log) == {"a"}
    assert failed_ids(tmp_path / "no_log_yet.jsonl") == set()


def test_one_run_per_output_directory(tmp_path: Path) -> None:
    with directory_lock(tmp_path):
        runner = DownloadRunner(DownloadConfig(), write_input(tmp_path / "f.tsv", ["dQw4w9WgXcQ"]), tmp_path)
        with pytest.raises(AlreadyRunning, match="another"):
            runner.run()


class InterruptingFetcher:
    """The first fetch presses Ctrl-C (in the main thread) and then behaves like a download that
    honours the stop event; later ids must never be fetched."""

    name = "fake"

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.fetched: list[str] = []

    def fetch(self, item, work_dir: Path) -> Path:
        self.fetched.append(item.id)
        (work_dir / "video.mp4.part").write_bytes(b"partial")
        _thread.interrupt_main()
        if not self.stop.wait(10):
            raise AssertionError("the runner never set its stop event")
        raise Cancelled("stopping")


def test_ctrl_c_stops_cancels_queued_ids_and_logs_the_running_one(tmp_path: Path, ctrl_c_handled) -> None:
    ids = [f"video{i:06d}" for i in range(6)]
    out = tmp_path / "raw"
    runner = DownloadRunner(DownloadConfig(workers=1), write_input(tmp_path / "f.tsv", ids), out)
    fetcher = InterruptingFetcher(runner.stop)
    runner._fetcher = fetcher
    with pytest.raises(KeyboardInterrupt):
        runner.run()
    assert fetcher.fetched == ["video000000"]
    logged = records(out)
    assert [(r["id"], r["status"], r["error_class"]) for r in logged] == [("video000000", "failed", "other")]
    assert not list(out.glob(".*.part-dir")) and not list(out.glob("*.mp4"))
    summary = json.loads((out / "download.summary.json").read_text())
    assert summary["interrupted"] is True and summary["status"]["failed"] == 1
