"""Error classes of a failed download, and how to tell them apart from yt-dlp's exceptions.

yt-dlp reports almost everything as ``DownloadError`` with a human message (and sometimes the
underlying exception in ``exc_info``), so classification reads the HTTP status when there is one
and falls back to well-known message fragments. The class decides whether we retry.
"""

from __future__ import annotations

import re

UNAVAILABLE = "unavailable"
PRIVATE = "private"
RESTRICTED = "age/geo restricted"
RATE_LIMITED = "rate limited"
BOT_CHECK = "bot check"  # YouTube: "Sign in to confirm you're not a bot" (the client/IP is blocked)
NETWORK = "network"
NO_AUDIO = "no audio"
INVALID_FILE = "invalid file"
OTHER = "other"
INVALID_ID = "invalid id"  # the input line itself is unusable (bad id, refused URL, undecodable)

ERROR_CLASSES = (
    UNAVAILABLE,
    PRIVATE,
    RESTRICTED,
    RATE_LIMITED,
    BOT_CHECK,
    NETWORK,
    NO_AUDIO,
    INVALID_FILE,
    OTHER,
    INVALID_ID,
)

# Worth another attempt later; everything else is permanent for this run.
TRANSIENT = frozenset({NETWORK, RATE_LIMITED, BOT_CHECK})
# YouTube refusing the client rather than one video: when these spike, the whole run backs off.
THROTTLING = frozenset({RATE_LIMITED, BOT_CHECK})

UPDATE_HINT = (
    "YouTube changes often and an old yt-dlp fails in these ways: update it with "
    "'.venv/bin/python -m pip install -U yt-dlp' (or 'pip install -U yt-dlp' in your environment)"
)
THROTTLING_HINT = (
    "give yt-dlp your browser's YouTube session (--cookies-from-browser firefox, or --cookies FILE), "
    "use fewer --workers and a --sleep-interval, or a --proxy"
)


class DownloadFailure(Exception):
    """One attempt at one video failed; ``error_class`` is one of the constants above."""

    def __init__(self, error_class: str, message: str) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.message = message

    @property
    def transient(self) -> bool:
        return self.error_class in TRANSIENT


class Cancelled(Exception):
    """The run is stopping (Ctrl-C); raised inside yt-dlp's progress hook to abort a transfer."""


# Ordered: the first match wins. Patterns are lower-case fragments of yt-dlp / YouTube messages.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (BOT_CHECK, re.compile(r"confirm you'?re not a bot|confirm that you'?re not a bot|not a robot")),
    (
        RATE_LIMITED,
        re.compile(
            r"request limit|rate-limited by youtube|session has been rate[- ]limited|"
            r"content isn'?t available,? try again later|this content isn'?t available.{0,20}try again"
        ),
    ),
    (PRIVATE, re.compile(r"private video|video is private|this video is private")),
    (
        RESTRICTED,
        re.compile(
            r"sign in to confirm your age|age[- ]restricted|inappropriate for some users|"
            r"not available in your country|geo[- ]?restrict|blocked it in your country|"
            r"not made this video available in your country|members-only|join this channel"
        ),
    ),
    (RATE_LIMITED, re.compile(r"http error 429|too many requests|rate[- ]limit")),
    (NETWORK, re.compile(r"http error 5\d\d")),
    (UNAVAILABLE, re.compile(r"http error 4(0[0-9]|1\d)|unsupported url")),
    (
        NETWORK,
        re.compile(
            r"timed out|timeout|connection (reset|refused|aborted)|connectionreseterror|remote end closed|"
            r"temporary failure in name resolution|name or service not known|network is unreachable|"
            r"incompleteread|bytes read|broken pipe|transporterror|ssl|eof occurred|"
            r"did not get any data blocks|unable to download video data"
        ),
    ),
    (
        UNAVAILABLE,
        re.compile(
            r"video unavailable|not available|has been removed|account .* terminated|does not exist|"
            r"no video formats found|requested format is not available|this video has been removed|"
            r"copyright|is no longer available|premiere|live event will begin"
        ),
    ),
    (
        INVALID_FILE,
        re.compile(r"invalid data|moov atom not found|corrupt|postprocessing|conversion failed"),
    ),
)


def http_status(exc: BaseException | None) -> int | None:
    """The HTTP status of a yt-dlp networking error (possibly wrapped in ``exc_info``/``__cause__``)."""
    seen = 0
    while exc is not None and seen < 5:
        status = getattr(exc, "status", None)
        if isinstance(status, int):
            return status
        code = getattr(exc, "code", None)
        if isinstance(code, int) and 100 <= code < 600:
            return code
        inner = getattr(exc, "exc_info", None)
        exc = (inner[1] if inner and len(inner) > 1 else None) or exc.__cause__
        seen += 1
    return None


def classify_status(status: int) -> str:
    """429 -> rate limited, 5xx -> network (both transient); other 4xx -> unavailable.

    YouTube answers 403 both to expired signed URLs and to blocked clients; we treat it as
    permanent for this run (``--retry-failed`` later, with cookies or a proxy, is the remedy).
    """
    if status == 429:
        return RATE_LIMITED
    if status >= 500:
        return NETWORK
    return UNAVAILABLE


def classify_message(message: str) -> str:
    # YouTube's messages use typographic apostrophes ("you’re"); compare on plain ones.
    lowered = message.lower().replace("\u2019", "'").replace("\u2018", "'")
    for error_class, pattern in _PATTERNS:
        if pattern.search(lowered):
            return error_class
    return OTHER


def classify(exc: BaseException) -> DownloadFailure:
    """Map any exception raised by an attempt to a :class:`DownloadFailure`."""
    if isinstance(exc, DownloadFailure):
        return exc
    message = clean_message(str(exc)) or type(exc).__name__
    status = http_status(exc)
    if status is not None:
        error_class = classify_status(status)
        # The message can still be more specific (YouTube's 403 "Private video" pages, etc.).
        by_text = classify_message(message)
        if by_text in (PRIVATE, RESTRICTED, RATE_LIMITED, BOT_CHECK):
            error_class = by_text
        return DownloadFailure(error_class, message)
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return DownloadFailure(NETWORK, message)
    return DownloadFailure(classify_message(message), message)


_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


def clean_message(message: str, limit: int = 500) -> str:
    """One line, no terminal colours, no ``ERROR:`` prefix, bounded length (it goes into the log)."""
    text = _ANSI_RE.sub("", message).replace("\r", " ").replace("\n", " ").strip()
    if text.startswith("ERROR:"):
        text = text[len("ERROR:") :].strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


class SkipItem(Exception):
    """Not a failure: the item is skipped on purpose (status ``skipped``, a ``reason``), e.g. too long."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
