"""One ``YoutubeDL`` per worker thread, reused across items, with the real yt-dlp on a loopback server.

Each item must still get its own file, log prefix, progress counts and cookies, and a failure must
not leak into the next item.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.cookiejar import Cookie
from pathlib import Path
from typing import Any

import pytest
from vd_helpers import LoopbackServer, Serve, Status

from acav.video_download import errors
from acav.video_download.errors import DownloadFailure
from acav.video_download.inputs import InputItem
from acav.video_download.options import DownloadConfig
from acav.video_download.ytdlp_backend import (
    YtdlpFetcher,
    _thread_sessions,
    discard_sessions,
    duration_filter,
)

BACKEND_LOGGER = "acav.video_download.ytdlp_backend"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def fresh_thread_sessions() -> Iterator[None]:
    discard_sessions()
    yield
    discard_sessions()


class Counter:
    """``on_bytes`` of the fetcher: bytes reported per item (the test names the item before each)."""

    def __init__(self) -> None:
        self.item = ""
        self.counts: dict[str, int] = {}
        self.fail_on: str | None = None

    def __call__(self, count: int) -> None:
        if self.item == self.fail_on:
            raise RuntimeError("a bug in a progress callback")
        self.counts[self.item] = self.counts.get(self.item, 0) + count


def fetch(fetcher: YtdlpFetcher, counter: Counter, url: str, root: Path) -> Path:
    video_id = url[-11:]
    counter.item = video_id
    work_dir = root / f".{video_id}.part-dir"
    work_dir.mkdir(parents=True)
    return fetcher.fetch(InputItem(line=1, url=url, id=video_id), work_dir)


def session_ydl() -> Any:
    (session,) = _thread_sessions().values()
    return session.ydl


def test_one_youtubedl_per_thread_keeps_items_apart(server, media, tmp_path, caplog) -> None:
    data_a, data_c = media("ok").read_bytes(), media("ok2").read_bytes()
    url_a = server.route("reusevid00A", Serve(data_a))
    url_b = server.route("reusevid00B", Status(404))
    url_c = server.route("reusevid00C", Serve(data_c))
    url_d = server.route("reusevid00D", Serve(data_a))
    url_e = server.route("reusevid00E", Serve(data_c))
    counter = Counter()
    config = DownloadConfig(socket_timeout=2.0, max_duration=600)
    fetcher = YtdlpFetcher(config, tmp_path / "cache", threading.Event(), counter)
    root = tmp_path / "raw"
    caplog.set_level(logging.DEBUG, logger=BACKEND_LOGGER)

    got_a = fetch(fetcher, counter, url_a, root)
    ydl = session_ydl()
    lines_a = [r.getMessage() for r in caplog.records if r.name == BACKEND_LOGGER]
    caplog.clear()
    with pytest.raises(DownloadFailure) as failed:  # reported by yt-dlp: the object is kept
        fetch(fetcher, counter, url_b, root)
    assert failed.value.error_class == errors.UNAVAILABLE
    assert session_ydl() is ydl
    caplog.clear()
    got_c = fetch(fetcher, counter, url_c, root)
    lines_c = [r.getMessage() for r in caplog.records if r.name == BACKEND_LOGGER]

    # One object for the three items, each file at its own path with its own bytes.
    assert session_ydl() is ydl and _thread_sessions()[fetcher._key].items == 3
    assert got_a == root / ".reusevid00A.part-dir" / "video.mp4" and got_a.read_bytes() == data_a
    assert got_c == root / ".reusevid00C.part-dir" / "video.mp4" and got_c.read_bytes() == data_c
    # The progress hook and the log prefix were the item's own.
    assert counter.counts == {"reusevid00A": len(data_a), "reusevid00C": len(data_c)}
    assert lines_a and all(line.startswith("[reusevid00A] ") for line in lines_a)
    assert lines_c and all(line.startswith("[reusevid00C] ") for line in lines_c)
    assert any(url_c in line for line in lines_c) and not any("reusevid00A" in line for line in lines_c)
    current = _thread_sessions()[fetcher._key].current  # nothing of the last item stays behind
    assert current.video_id == "" and current.progress is None and current.match_filter is None

    # An unexpected error (here a bug in our callback) closes the object; the next item builds anew.
    counter.fail_on = "reusevid00D"
    with pytest.raises(DownloadFailure):
        fetch(fetcher, counter, url_d, root)
    assert fetcher._key not in _thread_sessions()
    got_e = fetch(fetcher, counter, url_e, root)
    assert got_e.read_bytes() == data_c and counter.counts["reusevid00E"] == len(data_c)
    assert session_ydl() is not ydl

    # The run's end closes what the fetcher built; a later fetch in this thread builds anew.
    last = _thread_sessions()[fetcher._key]
    fetcher.close()
    assert last.closed
    got_a = fetch(fetcher, counter, server.route("reusevid00F", Serve(data_a)), root)
    assert got_a.read_bytes() == data_a and _thread_sessions()[fetcher._key] is not last


def test_each_item_starts_from_the_users_cookies(server, media, tmp_path) -> None:
    cookies = tmp_path / "cookies.txt"
    text = "# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\tabc\n"
    cookies.write_text(text)
    data = media("ok").read_bytes()
    urls = [server.route(f"cookiereus{i}", Serve(data)) for i in range(2)]
    seen: list[dict[str, str]] = []

    def on_bytes(count: int) -> None:  # runs inside the download: the jar as the item sees it
        seen.append({cookie.name: str(cookie.value) for cookie in session_ydl().cookiejar})

    fetcher = YtdlpFetcher(
        DownloadConfig(socket_timeout=2.0, cookies=cookies), tmp_path / "cache", None, on_bytes
    )
    fetch(fetcher, Counter(), urls[0], tmp_path / "raw")
    # A cookie the first item's responses set (as a Set-Cookie header would) ...
    session_ydl().cookiejar.set_cookie(
        Cookie(
            0,
            "tracker",
            "xyz",
            None,
            False,
            "127.0.0.1",
            False,
            False,
            "/",
            False,
            False,
            None,
            True,
            None,
            None,
            {},
        )
    )
    fetch(fetcher, Counter(), urls[1], tmp_path / "raw")
    # ... is not there for the second item, which has the user's cookies, and only them.
    assert seen[0] == seen[-1] == {"session": "abc"}
    discard_sessions()  # closing never writes the jar back
    assert cookies.read_text() == text


def test_the_duration_filter_yt_dlp_calls_is_the_current_items(tmp_path) -> None:
    fetcher = YtdlpFetcher(DownloadConfig(max_duration=600), tmp_path / "cache")
    session = fetcher._session("filtervid01", tmp_path)
    call = session.ydl.params["match_filter"]  # what yt-dlp calls for every video
    rejected: list[str] = []
    session.begin("filtervid01", tmp_path / "a", lambda status: None, duration_filter(600, rejected))
    assert call({"duration": 601}) == rejected[0] == "duration 601s > --max-duration 600s"
    assert call({"duration": 599}) is None and len(rejected) == 1
    session.current.clear()  # as fetch does after each item
    assert call({"duration": 10**6}) is None and len(rejected) == 1
    assert session.ydl.params["outtmpl"]["default"] == str(tmp_path / "a" / "video.%(ext)s")
