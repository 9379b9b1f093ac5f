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

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(i?[bB])?\s*$")
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


@dataclass
class DownloadConfig:
    workers: int = field(default=4, metadata={"help": "parallel downloads (threads)"})
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
        if self.workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {self.workers}")
        if self.max_height < 1:
            raise ConfigError(f"--max-height must be >= 1, got {self.max_height}")
        if self.retries < 0:
            raise ConfigError(f"--retries must be >= 0, got {self.retries}")
        for name in ("sleep_interval", "socket_timeout", "retry_base_delay", "retry_max_delay"):
            if getattr(self, name) < 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        if self.max_duration is not None and self.max_duration <= 0:
            raise ConfigError(f"--max-duration must be > 0 seconds, got {self.max_duration}")
        # Parse eagerly so a bad value fails before any download starts.
        self.rate_limit_bytes()
        self.extra_ytdlp_options()

    def format_selector(self) -> str:
        """Best video at or below ``max_height`` plus best audio, else the best single file at that height."""
        if self.format:
            return self.format
        h = self.max_height
        return f"bv*[height<={h}]+ba/b[height<={h}]/bv*[height<={h}]/b"

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
