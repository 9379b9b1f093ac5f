"""Fetch one video with yt-dlp used as a library, into a private work directory.

We own the file name (``video.<ext>`` inside the id's work directory; the id decides the final
name), so nothing a video's title or metadata says can steer where a file is written. yt-dlp's own
retries are set low on purpose: the stage's retry policy (:mod:`retry`) is the one that counts,
and it logs every attempt.
"""

from __future__ import annotations

import contextlib
import copy
import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from http.cookiejar import Cookie
from pathlib import Path
from typing import Any

from acav.core.logs import get_logger
from acav.core.media import ffmpeg_binary
from acav.video_download.errors import OTHER, Cancelled, DownloadFailure, SkipItem, classify, clean_message
from acav.video_download.inputs import InputItem
from acav.video_download.log import FILTERED
from acav.video_download.options import DownloadConfig

log = get_logger(__name__)

COOKIES_COPY = "cookies.txt"

# Files yt-dlp leaves while working; never a finished download.
_TEMP_SUFFIXES = (".part", ".ytdl", ".temp", ".tmp")


class _Current:
    """The item a reused ``YoutubeDL`` works on now.

    The object's logger, progress hook and match filter are registered once and ask this for the
    item's own ones; between items everything here is reset, so nothing of one item reaches the next.
    """

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.video_id = ""
        self.progress: Callable[[dict[str, Any]], None] | None = None
        self.match_filter: Callable[..., str | None] | None = None

    def on_progress(self, status: dict[str, Any]) -> None:
        if self.progress is not None:
            self.progress(status)

    def filter(self, info: dict[str, Any], *, incomplete: bool = False) -> str | None:
        return self.match_filter(info, incomplete=incomplete) if self.match_filter is not None else None


class _YtdlpLogger:
    """Route yt-dlp's chatter to our logger at debug level; failures are logged once, by the runner."""

    def __init__(self, current: _Current) -> None:
        self.current = current

    def debug(self, message: str) -> None:
        log.debug("[%s] %s", self.current.video_id, message)

    info = debug

    def warning(self, message: str) -> None:
        log.debug("[%s] warning: %s", self.current.video_id, message)

    def error(self, message: str) -> None:
        log.debug("[%s] %s", self.current.video_id, message)


def duration_filter(max_duration: float | None, rejected: list[str]) -> Callable[..., str | None]:
    """A yt-dlp ``match_filter``: reject (and remember why) videos whose known duration is too long.

    An unknown duration passes; the runner checks the probed duration after the download too.
    """

    def match_filter(info: dict[str, Any], *, incomplete: bool = False) -> str | None:
        duration = info.get("duration")
        if max_duration is not None and isinstance(duration, (int, float)) and duration > max_duration:
            reason = f"duration {duration:.0f}s > --max-duration {max_duration:g}s"
            rejected.append(reason)
            return reason
        return None

    return match_filter


@dataclass
class _Session:
    """One reusable ``YoutubeDL`` (building one costs ~60 ms of CPU: ~1,900 extractors registered,
    CA certificates loaded into a new SSL context on its first request) and what varies per item."""

    ydl: Any
    current: _Current
    cookies: list[Cookie] | None  # the jar as first loaded; every item starts from a copy of it
    private_cookies: bool = False  # the jar was loaded from our copy of --cookies (never saved)
    items: int = 0
    closed: bool = False

    def begin(
        self,
        video_id: str,
        work_dir: Path,
        progress: Callable[[dict[str, Any]], None],
        match_filter: Callable[..., str | None] | None,
    ) -> None:
        self.current.video_id, self.current.progress = video_id, progress
        self.current.match_filter = match_filter
        # yt-dlp reads the template at each file name it makes (nothing compiled is kept).
        self.ydl.params["outtmpl"]["default"] = str(work_dir / "video.%(ext)s")
        if self.cookies is not None:
            jar = self.ydl.cookiejar
            jar.clear()  # drop what the previous item's responses set
            for cookie in self.cookies:
                jar.set_cookie(copy.copy(cookie))
        self.items += 1

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.private_cookies:  # our copy is gone with its work directory: nothing to save into
            self.ydl.params["cookiefile"] = None
        with contextlib.suppress(Exception):
            self.ydl.close()


# Reused objects, per thread (``YoutubeDL`` is not thread-safe), keyed by the options that stay the
# same across items. Module-level, so an engine worker process reuses one across its tasks too.
_THREAD = threading.local()
_SESSIONS_PER_THREAD = 2


def _thread_sessions() -> OrderedDict[str, _Session]:
    sessions: OrderedDict[str, _Session] | None = getattr(_THREAD, "sessions", None)
    if sessions is None:
        sessions = _THREAD.sessions = OrderedDict()
    return sessions


def discard_sessions() -> int:
    """Close this thread's reused ``YoutubeDL`` objects (the next fetch builds anew); returns how many."""
    sessions = _thread_sessions()
    count = len(sessions)
    while sessions:
        sessions.popitem()[1].close()
    return count


class YtdlpFetcher:
    """Download ``item.url`` into ``work_dir``; return the produced file (not yet validated).

    Each worker thread reuses one ``YoutubeDL`` across items (see :class:`_Session`); per item it
    gets its own output template, log prefix, progress hook, duration filter and a fresh copy of
    the user's cookies. A failure yt-dlp reported (``DownloadError``: what its own command line
    goes on after) keeps the object; any other exception closes it and the next item builds anew.
    """

    name = "yt-dlp"

    def __init__(
        self,
        config: DownloadConfig,
        cache_dir: Path,
        stop: threading.Event | None = None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        self.config = config
        self.cache_dir = cache_dir
        self.stop = stop or threading.Event()
        self.on_bytes = on_bytes or (lambda n: None)
        self._extra = config.extra_ytdlp_options()
        self._shared = self.shared_options()
        self._built: list[_Session] = []  # closed by close(), once the run's threads are done
        self._built_lock = threading.Lock()
        self._key = repr(
            (sorted(self._shared.items()), self._cookies_identity(), config.max_duration is not None)
        )

    def _cookies_identity(self) -> tuple[str, int, int] | None:
        """The cookies file as it is now: a changed file must not reuse a jar loaded from the old one."""
        if not self.config.cookies:
            return None
        try:
            stat = Path(self.config.cookies).stat()
        except OSError:
            return (str(self.config.cookies), -1, -1)
        return (str(self.config.cookies), stat.st_mtime_ns, stat.st_size)

    def shared_options(self) -> dict[str, Any]:
        """The yt-dlp parameters that are the same for every item of the run."""
        cfg = self.config
        opts: dict[str, Any] = {
            "format": cfg.format_selector(),
            "merge_output_format": "mp4",
            "ffmpeg_location": ffmpeg_binary(),
            "noplaylist": True,
            "playlistend": 1,
            "quiet": True,
            "no_warnings": False,
            "noprogress": True,
            "socket_timeout": cfg.socket_timeout,
            # Our retry policy counts; yt-dlp's internal loops would hide attempts and slow tests.
            "retries": 0,
            "fragment_retries": 1,
            "extractor_retries": 0,
            "file_access_retries": 1,
            # Each attempt starts clean in an emptied work directory.
            "overwrites": True,
            "continuedl": False,
            # yt-dlp caches YouTube player code; keep that cache inside the output directory.
            "cachedir": str(self.cache_dir),
            "enable_file_urls": cfg.allow_file_urls,
        }
        if cfg.rate_limit:
            opts["ratelimit"] = cfg.rate_limit_bytes()
        if cfg.sleep_interval > 0:
            opts["sleep_interval"] = cfg.sleep_interval
        if cfg.cookies_from_browser:
            opts["cookiesfrombrowser"] = cfg.browser_cookies()
        if cfg.proxy:
            opts["proxy"] = cfg.proxy
        opts.update(self._extra)
        return opts

    def options(self, video_id: str, work_dir: Path, current: _Current | None = None) -> dict[str, Any]:
        """The yt-dlp parameters a ``YoutubeDL`` is built with for this item (exposed for tests and
        debugging); a reused one changes only the output template per item (see :class:`_Session`)."""
        opts: dict[str, Any] = {
            **self._shared,
            "outtmpl": {"default": str(work_dir / "video.%(ext)s")},
            "logger": _YtdlpLogger(current or _Current()),
        }
        if self.config.cookies:
            # yt-dlp writes the jar back on close: give it a private copy (see _session), so
            # parallel downloads never race on, or rewrite, the user's own cookies file.
            opts["cookiefile"] = str(work_dir / COOKIES_COPY)
        opts.update(self._extra)
        return opts

    def _session(self, video_id: str, work_dir: Path) -> _Session:
        """This thread's ``YoutubeDL`` for this run's options; built (and the cookies loaded) once."""
        import yt_dlp

        sessions = _thread_sessions()
        session = sessions.get(self._key)
        if session is not None and not session.closed:
            sessions.move_to_end(self._key)
            return session
        current = _Current()
        opts = self.options(video_id, work_dir, current)
        opts["progress_hooks"] = [current.on_progress]
        if self.config.max_duration is not None:
            opts["match_filter"] = current.filter
        cookies = None
        if self.config.cookies:
            shutil.copyfile(self.config.cookies, work_dir / COOKIES_COPY)
        ydl = yt_dlp.YoutubeDL(opts)
        session = _Session(ydl, current, None, private_cookies=bool(self.config.cookies))
        try:
            if self.config.cookies or self.config.cookies_from_browser:
                cookies = [copy.copy(cookie) for cookie in ydl.cookiejar]  # loads them now, once
        except BaseException:
            session.close()
            raise
        session.cookies = cookies
        with self._built_lock:
            self._built.append(session)
        sessions[self._key] = session
        while len(sessions) > _SESSIONS_PER_THREAD:
            sessions.popitem(last=False)[1].close()
        return session

    def close(self) -> None:
        """Close the objects this fetcher built (call it once its worker threads are done)."""
        with self._built_lock:
            built, self._built = self._built, []
        for session in built:
            session.close()

    def _discard(self) -> None:
        session = _thread_sessions().pop(self._key, None)
        if session is not None:
            session.close()

    def fetch(self, item: InputItem, work_dir: Path) -> Path:
        from yt_dlp.utils import DownloadCancelled, DownloadError

        rejected: list[str] = []
        seen: dict[str, int] = {}

        def progress_hook(status: dict[str, Any]) -> None:
            if self.stop.is_set():
                raise DownloadCancelled("acav download is stopping")
            name = str(status.get("filename") or status.get("tmpfilename") or "")
            done = status.get("downloaded_bytes")
            if isinstance(done, int) and done > seen.get(name, 0):
                self.on_bytes(done - seen.get(name, 0))
                seen[name] = done

        match_filter = duration_filter(self.config.max_duration, rejected)
        session: _Session | None = None
        try:
            session = self._session(item.id, work_dir)
            session.begin(item.id, work_dir, progress_hook, match_filter)
            info = session.ydl.extract_info(item.url, download=True)
        except DownloadError as exc:  # reported by yt-dlp, which goes on after it: keep the object
            raise classify(exc) from exc
        except DownloadCancelled as exc:
            self._discard()
            raise Cancelled(str(exc)) from exc
        except Exception as exc:  # yt-dlp raises DownloadError and friends; classify them all
            self._discard()
            raise classify(exc) from exc
        except BaseException:
            self._discard()
            raise
        finally:
            if session is not None:
                session.current.clear()
        if rejected:
            raise SkipItem(FILTERED, rejected[0])
        return self._produced_file(info, work_dir)

    @staticmethod
    def _produced_file(info: dict[str, Any] | None, work_dir: Path) -> Path:
        for download in (info or {}).get("requested_downloads") or []:
            path = download.get("filepath")
            if path and Path(path).is_file() and Path(path).parent == work_dir:
                return Path(path)
        candidates = [
            p
            for p in work_dir.iterdir()
            if p.is_file() and not p.name.endswith(_TEMP_SUFFIXES) and p.stem == "video"
        ]
        if len(candidates) == 1:
            return candidates[0]
        names = ", ".join(sorted(p.name for p in work_dir.iterdir())) or "nothing"
        raise DownloadFailure(
            OTHER, clean_message(f"yt-dlp finished but left no single output file (found: {names})")
        )
