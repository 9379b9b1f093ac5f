"""Options of the download stage (one dataclass; flags, YAML section ``video_download`` and defaults).

Every field becomes a ``--flag`` through :func:`acav.core.config.add_config_arguments`. Parsing of
values that need more than a type cast (``--rate-limit 1M``, ``--ytdlp-option KEY=VALUE``) lives
here too, so the CLI, the YAML file and library callers share one interpretation.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acav.core.config import ConfigError

# yt-dlp options a user may not override with --ytdlp-option: we own the file names (the id,
# never the title), the log plumbing and the file:// switch (use --allow-file-urls for that).
RESERVED_YTDLP_KEYS = frozenset(
    {
        "outtmpl",
        "paths",
        "outtmpl_na_placeholder",
        "logger",
        "progress_hooks",
        "postprocessor_hooks",
        "enable_file_urls",
        "download_archive",
    }
)

AUTO_WORKERS = 4  # --workers 0: parallel downloads when the user leaves it to us
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(i?[bB])?\s*$")
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


@dataclass
class DownloadConfig:
    workers: int = field(
        default=4, metadata={"help": "parallel downloads (threads); 0 = auto (4: polite towards YouTube)"}
    )
    max_height: int = field(
        default=360, metadata={"help": "best video stream at or below this height (pixels)"}
    )
    format: str | None = field(
        default=None,
        metadata={
            "help": "yt-dlp format selector; overrides --max-height; when unset: built from --max-height"
        },
    )
    rate_limit: str | None = field(
        default=None, metadata={"help": "per-download bandwidth limit in bytes/s, e.g. 500K or 2M"}
    )
    sleep_interval: float = field(
        default=0.0, metadata={"help": "seconds each worker sleeps before every download (politeness)"}
    )
    cookies: Path | None = field(
        default=None, metadata={"help": "Netscape-format cookies file given to yt-dlp"}
    )
    cookies_from_browser: str | None = field(
        default=None,
        metadata={
            "help": "take YouTube cookies from a browser profile on this machine, as yt-dlp's "
            "BROWSER[+KEYRING][:PROFILE][::CONTAINER], e.g. firefox or chrome:Profile 1 "
            "(the remedy for 'Sign in to confirm you're not a bot')"
        },
    )
    proxy: str | None = field(default=None, metadata={"help": "proxy URL, e.g. socks5://127.0.0.1:1080"})
    max_duration: float | None = field(
        default=None,
        metadata={"help": "skip videos longer than this many seconds (logged as skipped, reason filtered)"},
    )
    socket_timeout: float = field(default=20.0, metadata={"help": "network read timeout in seconds"})
    retries: int = field(
        default=3, metadata={"help": "extra attempts after a transient failure (network, rate limited)"}
    )
    retry_base_delay: float = field(
        default=5.0, metadata={"help": "first retry delay in seconds; doubles per attempt, with jitter"}
    )
    retry_max_delay: float = field(
        default=300.0, metadata={"help": "upper bound of one retry delay in seconds"}
    )
    backoff_threshold: int = field(
        default=5,
        metadata={
            "help": "pause ALL downloads when this many of the last --backoff-window attempts were "
            "refused by YouTube (rate limited, bot check); 0: never"
        },
    )
    backoff_window: int = field(default=20, metadata={"help": "attempts looked at for --backoff-threshold"})
    backoff_pause: float = field(
        default=120.0, metadata={"help": "first run-wide pause in seconds; doubles for each spike in a row"}
    )
    backoff_max_pause: float = field(default=1800.0, metadata={"help": "longest run-wide pause in seconds"})
    ytdlp_option: list[str] = field(
        default_factory=list,
        metadata={
            "help": "extra yt-dlp option KEY=VALUE (VALUE parsed as JSON, else a string); repeatable",
            "cli": False,  # added by the stage CLI with action=append so it can be repeated
        },
    )
    allow_file_urls: bool = field(
        default=False, metadata={"help": "accept file:// URLs in the input (refused by default)"}
    )
    source_dir: Path | None = field(
        default=None,
        metadata={
            "help": "take DIR/{id}.* files already on disk instead of downloading (validated, linked/remuxed)"
        },
    )
    retry_failed: bool = field(
        default=False, metadata={"help": "only rerun the ids whose last attempt in download.log.jsonl failed"}
    )
    input: Path | None = field(
        default=None, metadata={"help": "input list; when unset: DATA_DIR/filtered.tsv"}
    )
    output_dir: Path | None = field(
        default=None, metadata={"help": "where {id}.mp4 and the log go; when unset: DATA_DIR/videos/raw"}
    )

    def __post_init__(self) -> None:
        if self.workers < 0:
            raise ConfigError(f"--workers must be >= 0 (0 = auto), got {self.workers}")
        if self.workers == 0:  # auto, as --workers 0 means in every stage
            self.workers = AUTO_WORKERS
        if self.max_height < 1:
            raise ConfigError(f"--max-height must be >= 1, got {self.max_height}")
        if self.retries < 0:
            raise ConfigError(f"--retries must be >= 0, got {self.retries}")
        if self.backoff_threshold < 0 or self.backoff_window < 1:
            raise ConfigError(
                f"--backoff-threshold must be >= 0 and --backoff-window >= 1, got "
                f"{self.backoff_threshold} and {self.backoff_window}"
            )
        for name in (
            "sleep_interval",
            "socket_timeout",
            "retry_base_delay",
            "retry_max_delay",
            "backoff_pause",
            "backoff_max_pause",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        if self.max_duration is not None and self.max_duration <= 0:
            raise ConfigError(f"--max-duration must be > 0 seconds, got {self.max_duration}")
        # Parse eagerly so a bad value fails before any download starts.
        self.rate_limit_bytes()
        self.extra_ytdlp_options()
        self.browser_cookies()

    def format_selector(self) -> str:
        """Best video at or below ``max_height`` plus best audio, else the best single file at that height."""
        if self.format:
            return self.format
        h = self.max_height
        return f"bv*[height<={h}]+ba/b[height<={h}]/bv*[height<={h}]/b"

    def browser_cookies(self) -> tuple[str, str | None, str | None, str | None] | None:
        """yt-dlp's ``cookiesfrombrowser`` tuple ``(browser, profile, keyring, container)``."""
        return parse_cookies_from_browser(self.cookies_from_browser) if self.cookies_from_browser else None

    def rate_limit_bytes(self) -> int | None:
        return parse_size(self.rate_limit) if self.rate_limit else None

    def extra_ytdlp_options(self) -> dict[str, Any]:
        return parse_ytdlp_options(self.ytdlp_option)


def parse_size(text: str) -> int:
    """``"500K"`` -> 512000, ``"2M"`` -> 2097152, ``"1.5MiB"`` -> 1572864, ``"1000"`` -> 1000 (bytes)."""
    match = _SIZE_RE.match(str(text))
    if not match:
        raise ConfigError(
            f"--rate-limit: cannot read {text!r} as bytes per second (examples: 500K, 2M, 1000000)"
        )
    number, unit, _ = match.groups()
    value = int(float(number) * _SIZE_UNITS[unit.lower()])
    if value <= 0:
        raise ConfigError(f"--rate-limit must be > 0 bytes/s, got {text!r}")
    return value


_BROWSER_RE = re.compile(
    r"^(?P<name>[^+:]+)(?:\+(?P<keyring>[^:]+))?(?::(?P<profile>.+?))?(?:::(?P<container>.+))?$"
)


def parse_cookies_from_browser(text: str) -> tuple[str, str | None, str | None, str | None]:
    """``"firefox"`` -> ``("firefox", None, None, None)``; ``"chrome+gnomekeyring:Profile 1"`` ->
    ``("chrome", "Profile 1", "GNOMEKEYRING", None)`` (yt-dlp's order: browser, profile, keyring, container)."""
    match = _BROWSER_RE.match(text.strip())
    if not match:
        raise ConfigError(
            f"--cookies-from-browser: cannot read {text!r}; expected BROWSER[+KEYRING][:PROFILE][::CONTAINER]"
        )
    name = match.group("name").lower()
    keyring = match.group("keyring").upper() if match.group("keyring") else None
    try:
        from yt_dlp.cookies import SUPPORTED_BROWSERS, SUPPORTED_KEYRINGS
    except ImportError:  # very old yt-dlp: let it judge
        SUPPORTED_BROWSERS, SUPPORTED_KEYRINGS = {name}, {keyring}
    if name not in SUPPORTED_BROWSERS:
        raise ConfigError(
            f"--cookies-from-browser: unknown browser {name!r}; yt-dlp supports {', '.join(sorted(SUPPORTED_BROWSERS))}"
        )
    if keyring is not None and keyring not in SUPPORTED_KEYRINGS:
        raise ConfigError(
            f"--cookies-from-browser: unknown keyring {keyring!r}; yt-dlp supports {', '.join(sorted(SUPPORTED_KEYRINGS))}"
        )
    return name, match.group("profile"), keyring, match.group("container")


def parse_ytdlp_options(items: list[str]) -> dict[str, Any]:
    """``["concurrent_fragment_downloads=4", "geo_bypass=true"]`` -> ``{..: 4, ..: True}``.

    The value is JSON when it parses as JSON, else the raw string (so ``player_client=web`` works).
    """
    options: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ConfigError(f"--ytdlp-option expects KEY=VALUE, got {item!r}")
        if key in RESERVED_YTDLP_KEYS:
            raise ConfigError(
                f"--ytdlp-option {key} is managed by acav (file names are always the video id; "
                "use --allow-file-urls for file:// URLs) and cannot be overridden"
            )
        try:
            options[key] = json.loads(raw)
        except json.JSONDecodeError:
            options[key] = raw
    return options
