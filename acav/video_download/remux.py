"""Make an mp4 out of any container ffmpeg reads: stream copy first, re-encode only if copy fails."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from acav.core.logs import get_logger
from acav.core.media import X264_REPRODUCIBLE, MediaError, run_ffmpeg
from acav.video_download.errors import INVALID_FILE, DownloadFailure

log = get_logger(__name__)

# Generous: a re-encode of a long video on a busy machine; a hung ffmpeg must still end.
REMUX_TIMEOUT_S = 3 * 3600


def _ffmpeg_to_mp4(src: Path, dst: Path, codec_args: list[str]) -> None:
    # Absolute paths, so no argument can ever start with "-" (ids may) and read as an option.
    src, dst = src.absolute(), dst.absolute()
    args = ["-loglevel", "error", "-y", "-i", str(src), "-map", "0:v:0", "-map", "0:a:0?", "-sn", "-dn"]
    args += codec_args + ["-movflags", "+faststart", "-f", "mp4", str(dst)]
    run_ffmpeg(args, timeout=REMUX_TIMEOUT_S)


def remux_to_mp4(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> str:
    """Write ``dst`` (mp4) from ``src``; returns ``"copy"`` or ``"reencode"`` (what it had to do)."""
    src, dst = Path(src), Path(dst)
    try:
        _ffmpeg_to_mp4(src, dst, ["-c", "copy"])
        return "copy"
    except MediaError as exc:
        # e.g. a codec the mp4 muxer refuses to carry; re-encoding costs CPU but keeps the video.
        log.debug("stream copy of %s into mp4 failed (%s); re-encoding", src.name, exc)
        with contextlib.suppress(FileNotFoundError):
            dst.unlink()
    try:
        _ffmpeg_to_mp4(
            src,
            dst,
            [
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-crf",
                "23",
                "-pix_fmt",
                "yuv420p",
                *X264_REPRODUCIBLE,
                "-c:a",
                "aac",
                "-b:a",
                "128k",
            ],
        )
        return "reencode"
    except MediaError as exc:
        with contextlib.suppress(FileNotFoundError):
            dst.unlink()
        raise DownloadFailure(INVALID_FILE, f"{src.name}: cannot convert to mp4 ({exc})") from exc
