"""Fetch one video with yt-dlp used as a library, into a private work directory.

We own the file name (``video.<ext>`` inside the id's work directory; the id decides the final
name), so nothing a video's title or metadata says can steer where a file is written. yt-dlp's own
retries are set low on purpose: the stage's retry policy (:mod:`retry`) is the one that counts,
and it logs every attempt.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
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


class _YtdlpLogger:
    """Route yt-dlp's chatter to our logger at debug level; failures are logged once, by the runner."""

    def __init__(self, video_id: str) -> None:
        self.prefix = f"[{video_id}] "

    def debug(self, message: str) -> None:
        log.debug("%s%s", self.prefix, message)

    info = debug

    def warning(self, message: str) -> None:
        log.debug("%swarning: %s", self.prefix, message)

    def error(self, message: str) -> None:
        log.debug("%s%s", self.prefix, message)


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


class YtdlpFetcher:
    """Download ``item.url`` into ``work_dir``; return the produced file (not yet validated)."""

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

    def options(self, video_id: str, work_dir: Path) -> dict[str, Any]:
        """The yt-dlp parameters for one download (exposed for tests and debugging)."""
        cfg = self.config
        opts: dict[str, Any] = {
            "format": cfg.format_selector(),
            "merge_output_format": "mp4",
            "ffmpeg_location": ffmpeg_binary(),
            "outtmpl": {"default": str(work_dir / "video.%(ext)s")},
            "noplaylist": True,
            "playlistend": 1,
            "quiet": True,
            "no_warnings": False,
            "noprogress": True,
            "logger": _YtdlpLogger(video_id),
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
        if cfg.cookies:
            # yt-dlp writes the jar back on close: give it a private copy (see fetch), so parallel
            # downloads never race on, or rewrite, the user's own cookies file.
            opts["cookiefile"] = str(work_dir / COOKIES_COPY)
        if cfg.cookies_from_browser:
            opts["cookiesfrombrowser"] = cfg.browser_cookies()
        if cfg.proxy:
            opts["proxy"] = cfg.proxy
        opts.update(self._extra)
        return opts

    def fetch(self, item: InputItem, work_dir: Path) -> Path:
        import yt_dlp
        from yt_dlp.utils import DownloadCancelled

        rejected: list[str] = []
        match_filter = duration_filter(self.config.max_duration, rejected)

        seen: dict[str, int] = {}

        def progress_hook(status: dict[str, Any]) -> None:
            if self.stop.is_set():
                raise DownloadCancelled("acav download is stopping")
            name = str(status.get("filename") or status.get("tmpfilename") or "")
            done = status.get("downloaded_bytes")
            if isinstance(done, int) and done > seen.get(name, 0):
                self.on_bytes(done - seen.get(name, 0))
                seen[name] = done

        opts = self.options(item.id, work_dir)
        if self.config.cookies:
            shutil.copyfile(self.config.cookies, work_dir / COOKIES_COPY)
        opts["progress_hooks"] = [progress_hook]
        if self.config.max_duration is not None:
            opts["match_filter"] = match_filter
        try:
            with yt_dlp.YoutubeDL(opts) as ydl:
                info = ydl.extract_info(item.url, download=True)
        except DownloadCancelled as exc:
            raise Cancelled(str(exc)) from exc
        except Exception as exc:  # yt-dlp raises DownloadError and friends; classify them all
            raise classify(exc) from exc
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
