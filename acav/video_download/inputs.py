"""Read the input list (``filtered.tsv``): one ``ID_OR_URL<TAB>JSON`` line per video.

Only the first field matters here. Lines are read as bytes and decoded leniently, so one bad byte
never stops the run: every line becomes an :class:`InputItem`, valid or with a reason why not.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from acav.core.ids import is_valid_youtube_id, split_id_or_url, watch_url
from acav.video_download.errors import INVALID_ID

ALLOWED_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class InputItem:
    line: int  # 1-based line number in the input file
    id: str  # the candidate id (possibly hostile when ``error`` is set; never used as a path then)
    url: str  # what we hand to yt-dlp (a watch URL for a bare id)
    error_class: str | None = None
    message: str | None = None

    @property
    def valid(self) -> bool:
        return self.error_class is None


def parse_field(field: str, line: int, allow_file_urls: bool = False) -> InputItem:
    """Turn the first field of one input line into an :class:`InputItem` (never raises)."""
    candidate, url = split_id_or_url(field)
    if url is not None:
        scheme = urlsplit(url).scheme.lower()
        allowed = ALLOWED_SCHEMES + (("file",) if allow_file_urls else ())
        if scheme not in allowed:
            hint = " (pass --allow-file-urls to accept local file URLs)" if scheme == "file" else ""
            return InputItem(line, candidate, url, INVALID_ID, f"refused URL scheme {scheme!r}{hint}")
    if not is_valid_youtube_id(candidate):
        shown = candidate if url is None else f"{candidate!r} (last 11 characters of the URL)"
        return InputItem(
            line,
            candidate,
            url or "",
            INVALID_ID,
            f"line {line}: id {shown} is not 11 characters of [A-Za-z0-9_-]",
        )
    return InputItem(line, candidate, url if url is not None else watch_url(candidate))


def read_items(path: str | os.PathLike[str], allow_file_urls: bool = False) -> Iterator[InputItem]:
    """Yield one item per non-empty line of ``path``, in file order (streamed, bounded memory)."""
    with open(Path(path), "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            raw = raw.rstrip(b"\r\n")
            if not raw.strip():
                continue  # blank lines are not videos (a trailing newline is normal)
            first = raw.split(b"\t", 1)[0]
            try:
                field = first.decode("utf-8")
            except UnicodeDecodeError:
                text = first.decode("utf-8", "replace")
                yield InputItem(
                    number, text.strip(), "", INVALID_ID, f"line {number}: first field is not valid UTF-8"
                )
                continue
            yield parse_field(field, number, allow_file_urls)


def count_lines(path: str | os.PathLike[str]) -> int:
    """Number of non-blank lines (for the progress bar's total), reading in large blocks."""
    count = 0
    with open(Path(path), "rb") as handle:
        for raw in handle:
            if raw.strip():
                count += 1
    return count
