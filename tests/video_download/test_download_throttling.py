"""YouTube refusing the client (bot check, request limit, "try again later") is classified, backs
off the whole run when it spikes, and the user is told the remedies (cookies from a browser,
updating yt-dlp)."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from vd_helpers import LoopbackServer, Status, by_id
from yt_dlp.utils import DownloadError

from acav.core.config import ConfigError
from acav.video_download.errors import (
    BOT_CHECK,
    NETWORK,
    RATE_LIMITED,
    RESTRICTED,
    UNAVAILABLE,
    Cancelled,
    classify,
    classify_message,
)
from acav.video_download.options import DownloadConfig, parse_cookies_from_browser
from acav.video_download.retry import RunThrottle

BOT = (
    "ERROR: [youtube] dQw4w9WgXcQ: Sign in to confirm you\u2019re not a bot. Use --cookies-from-browser or "
    "--cookies for the authentication. See  https://github.com/yt-dlp/yt-dlp/wiki/FAQ#how-do-i-pass-cookies-to-yt-dlp"
)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (BOT, BOT_CHECK),
        (
            "ERROR: [youtube] abc: Sign in to confirm you're not a bot. This helps protect our community.",
            BOT_CHECK,
        ),
        (
            "ERROR: [youtube] abc: Sign in to confirm your age. This video may be inappropriate for some users.",
            RESTRICTED,
        ),
        (
            "ERROR: [youtube] abc: This content isn\u2019t available, try again later. The current session has "
            "been rate-limited by YouTube for up to an hour.",
            RATE_LIMITED,
        ),
        ("ERROR: [youtube] abc: This content isn't available, try again later.", RATE_LIMITED),
        ("ERROR: [youtube] abc: You have exceeded the request limit, please try again later", RATE_LIMITED),
        ("ERROR: unable to download video data: HTTP Error 429: Too Many Requests", RATE_LIMITED),
        ("ERROR: [youtube] abc: Video unavailable. This video is not available", UNAVAILABLE),
        ("ERROR: unable to download video data: HTTP Error 503: Service Unavailable", NETWORK),
    ],
)
def test_youtube_refusals_are_classified(message: str, expected: str) -> None:
    assert classify_message(message) == expected
    failure = classify(DownloadError(message))  # yt-dlp's own exception type
    assert failure.error_class == expected


def test_a_403_with_the_bot_message_is_a_bot_check_and_transient() -> None:
    class HTTPError(Exception):
        status = 403

    error = DownloadError(BOT, exc_info=(HTTPError, HTTPError(), None))
    failure = classify(error)
    assert failure.error_class == BOT_CHECK and failure.transient


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_run_throttle_pauses_on_a_spike_and_doubles_in_a_row() -> None:
    clock = FakeClock()
    pauses: list[tuple[float, dict[str, int]]] = []
    throttle = RunThrottle(3, 5, 10.0, 25.0, on_pause=lambda s, c: pauses.append((s, c)), clock=clock)
    for error_class in (RATE_LIMITED, NETWORK, None, BOT_CHECK):
        throttle.record(error_class)
    assert pauses == []  # 2 refusals among the last attempts: below the threshold
    throttle.record(RATE_LIMITED)
    assert pauses == [(10.0, {RATE_LIMITED: 2, BOT_CHECK: 1})] and throttle.resume_at == 110.0
    for _ in range(5):  # during the pause: nothing more
        throttle.record(RATE_LIMITED)
    assert len(pauses) == 1
    clock.now = 111.0
    for _ in range(3):
        throttle.record(BOT_CHECK)
    assert [p for p, _ in pauses] == [10.0, 20.0]
    clock.now = 200.0
    for _ in range(3):
        throttle.record(BOT_CHECK)
    assert pauses[-1][0] == 25.0  # capped
    throttle.record(None)  # a success: the next spike starts from the first pause again
    clock.now = 300.0
    for _ in range(3):
        throttle.record(RATE_LIMITED)
    assert pauses[-1][0] == 10.0 and throttle.pauses == 4 and throttle.paused_seconds == 65.0
    off = RunThrottle(0, 5, 10.0, 10.0, clock=clock)
    for _ in range(10):
        off.record(BOT_CHECK)
    assert off.pauses == 0


def test_a_stop_interrupts_a_pause() -> None:
    throttle = RunThrottle(1, 1, 60.0, 60.0)
    throttle.record(BOT_CHECK)
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        throttle.wait(stop)


def _time(record: dict) -> float:
    return dt.datetime.strptime(record["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def test_spike_of_429_pauses_the_whole_run(run_stage, out_dir: Path, caplog) -> None:
    with LoopbackServer() as server:
        urls = [server.route(f"limited{i:04d}", Status(429)) for i in range(5)]
        with caplog.at_level("WARNING", logger="acav"):
            summary = run_stage(
                urls, workers=1, retries=0, backoff_threshold=2, backoff_window=3, backoff_pause=0.6
            )
    logged = by_id(out_dir)
    order = sorted((r for records in logged.values() for r in records), key=_time)
    assert [r["error_class"] for r in order] == [RATE_LIMITED] * 5
    gaps = [_time(b) - _time(a) for a, b in zip(order, order[1:], strict=False)]
    assert gaps[1] >= 0.5  # after the 2nd refusal every download waited
    assert summary.pauses >= 1 and summary.paused_seconds >= 0.6
    assert "pausing all downloads" in caplog.text and "pip install -U yt-dlp" in caplog.text
    text = summary.text()
    assert (
        "the whole run paused" in text
        and "--cookies-from-browser" in text
        and "pip install -U yt-dlp" in text
    )


def test_cookies_from_browser_option(tmp_path: Path) -> None:
    assert parse_cookies_from_browser("firefox") == ("firefox", None, None, None)
    assert parse_cookies_from_browser("chrome+gnomekeyring:Profile 1") == (
        "chrome",
        "Profile 1",
        "GNOMEKEYRING",
        None,
    )
    assert parse_cookies_from_browser("firefox:default::work") == ("firefox", "default", None, "work")
    with pytest.raises(ConfigError, match="unknown browser 'netscape'"):
        DownloadConfig(cookies_from_browser="netscape")
    with pytest.raises(ConfigError, match="unknown keyring"):
        parse_cookies_from_browser("chrome+wallet")
    from acav.video_download.ytdlp_backend import YtdlpFetcher

    config = DownloadConfig(cookies_from_browser="chrome:Profile 1")
    fetcher = YtdlpFetcher(config, tmp_path / "cache", threading.Event(), lambda n: None)
    assert fetcher.options("abcdefghijk", tmp_path)["cookiesfrombrowser"] == (
        "chrome",
        "Profile 1",
        None,
        None,
    )
    assert "cookiesfrombrowser" not in YtdlpFetcher(
        DownloadConfig(), tmp_path / "cache", threading.Event(), lambda n: None
    ).options("abcdefghijk", tmp_path)


def test_cookies_from_browser_reaches_ytdlp(
    run_stage, media, out_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    """With the real yt-dlp: a browser with no profile on this machine fails clearly, per video."""
    from vd_helpers import Serve

    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no browser profile anywhere
    with LoopbackServer() as server:
        url = server.route("cookiesvid1", Serve(media("ok").read_bytes()))
        summary = run_stage([url], cookies_from_browser="firefox", retries=0)
        assert server.hits_for("cookiesvid1") == 0  # refused before any request
    record = by_id(out_dir)["cookiesvid1"][-1]
    assert record["status"] == "failed" and "firefox" in record["message"].lower()
    assert summary.status["failed"] == 1
