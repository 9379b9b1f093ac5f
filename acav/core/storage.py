"""Data directories on object storage (``s3://bucket/prefix``, ``gs://``, any fsspec URL).

Stages work on local files; a URL data directory is *staged* around each ``acav`` command:

1. stage-in: the remote tree is mirrored into a local cache directory (only files whose size
   differs, or that are missing, are copied; ``ACAV_STAGE_DIR`` chooses the cache, default
   ``~/.cache/acav/staged/<bucket-prefix-hash>``);
2. the command runs on the cache exactly as on a local ``DATA_DIR`` (runners never see a URL);
3. stage-out: files the command created or changed are uploaded, files it removed are removed,
   temporary files (``.tmp`` names) and lock files never leave the machine; last, a completion
   marker ``_acav/<command>.done.json`` listing what was uploaded is written.

Atomic completion on object stores: a rename there is a copy, so nothing relies on it. Each
object is written by one PUT, which readers see whole or not at all; outputs are uploaded before
the indexes that point at them (logs and reports last) and the marker after everything. A stage-out
cut short leaves no marker; the next run of the command redoes it from the local cache (finished
outputs are skipped by each stage's own resume). Stage-out also runs when the command fails, so
finished shards survive the machine, but the marker is written only on success.

Credentials and endpoints come from the usual places of the backend (``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` / ``AWS_ENDPOINT_URL`` or ``~/.aws`` for s3fs; fsspec's
``FSSPEC_S3_*`` variables).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from acav.core.atomic import TMP_MARKER
from acav.core.config import ConfigError
from acav.core.logs import get_logger

log = get_logger(__name__)

MARKER_DIR = "_acav"
LOCK_SUFFIXES = (".lock",)
# Pushed last, in this order: indexes and logs that name other outputs, then reports.
LAST_SUFFIXES = (".jsonl", ".json")

Snapshot = dict[str, tuple[int, int]]  # relative path -> (size, mtime_ns)


def is_url(path: str | os.PathLike[str] | None) -> bool:
    """Whether ``path`` names a remote location (``scheme://``, not ``file://``)."""
    text = str(path or "")
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.isidentifier() and scheme.lower() not in ("file", "local")


def data_dir_url(argv: list[str]) -> str | None:
    """The ``--data-dir`` of ``argv`` (else ``$DATA_DIR``) when it is a URL; None for local paths."""
    value: str | None = None
    for i, arg in enumerate(argv):
        if arg == "--data-dir" and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--data-dir="):
            value = arg.split("=", 1)[1]
    if value is None:
        value = os.environ.get("DATA_DIR")
    return value.rstrip("/") if is_url(value) else None


def localize_args(argv: list[str], url: str) -> list[str]:
    """``argv`` with the data directory URL, and paths under it (``--source-dir URL/source_videos``,
    ``--opt=URL/x``), replaced by the local cache: a command's options name staged files."""
    local = str(cache_dir(url))

    def swap(text: str) -> str:
        if text.rstrip("/") == url:
            return local
        return local + text[len(url) :] if text.startswith(url + "/") else text

    out = []
    for arg in argv:
        option, sep, value = arg.partition("=")
        out.append(option + sep + swap(value) if sep and option.startswith("--") else swap(arg))
    return out


def cache_dir(url: str) -> Path:
    base = os.environ.get("ACAV_STAGE_DIR")
    if base:
        return Path(base)
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    return Path.home() / ".cache" / "acav" / "staged" / digest


def _filesystem(url: str) -> tuple[Any, str]:
    try:
        import fsspec
    except ImportError:  # pragma: no cover - fsspec comes with the runtime dependencies
        raise ConfigError("a URL data directory needs fsspec: pip install fsspec s3fs") from None
    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise ConfigError(f"data directory {url}: {exc} (for s3:// install s3fs)") from exc


def _staged(relative: str) -> bool:
    """Whether a file travels between the cache and the store."""
    name = relative.rsplit("/", 1)[-1]
    return TMP_MARKER not in name and not name.endswith(LOCK_SUFFIXES) and not relative.startswith(MARKER_DIR)


def snapshot(root: Path) -> Snapshot:
    found: Snapshot = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            relative = path.relative_to(root).as_posix()
            if _staged(relative) and not path.is_symlink():
                stat = path.stat()
                found[relative] = (stat.st_size, stat.st_mtime_ns)
    return found


def remote_listing(fs: Any, root: str) -> dict[str, int]:
    """``relative path -> size`` of the staged files under ``root`` on ``fs``."""
    if not fs.exists(root):
        return {}
    listing = {}
    for path, info in fs.find(root, detail=True).items():
        relative = path[len(root) :].lstrip("/")
        if relative and _staged(relative) and info.get("type", "file") == "file":
            listing[relative] = int(info.get("size") or 0)
    return listing


def stage_in(fs: Any, root: str, local: Path) -> int:
    """Copy remote files missing locally or of another size; returns how many were copied."""
    local.mkdir(parents=True, exist_ok=True)
    have = snapshot(local)
    copied = 0
    for relative, size in sorted(remote_listing(fs, root).items()):
        if have.get(relative, (-1, 0))[0] == size:
            continue
        target = local / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}{TMP_MARKER}stage-{os.getpid()}")
        fs.get_file(f"{root}/{relative}", str(partial))
        os.replace(partial, target)
        copied += 1
    return copied


def _push_order(relative: str) -> tuple[int, str]:
    return (1 if relative.endswith(LAST_SUFFIXES) else 0, relative)


def stage_out(fs: Any, root: str, local: Path, before: Snapshot) -> dict[str, list[str]]:
    """Upload what changed since ``before`` (data first, indexes last); remove what disappeared."""
    after = snapshot(local)
    remote = remote_listing(fs, root)
    changed = [r for r, facts in after.items() if before.get(r) != facts or remote.get(r) != facts[0]]
    removed = [r for r in before if r not in after and r in remote]
    for relative in sorted(changed, key=_push_order):
        fs.put_file(str(local / relative), f"{root}/{relative}")
    for relative in sorted(removed):
        fs.rm_file(f"{root}/{relative}")
    return {"uploaded": sorted(changed, key=_push_order), "removed": sorted(removed)}


def write_marker(fs: Any, root: str, command: str, moved: dict[str, list[str]], seconds: float) -> str:
    path = f"{root}/{MARKER_DIR}/{command}.done.json"
    record = {"command": command, "hostname": socket.gethostname(), "pid": os.getpid(),
              "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "seconds": round(seconds, 3), **moved}  # fmt: skip
    with fs.open(path, "w") as handle:  # one PUT: the marker exists whole or not at all
        handle.write(json.dumps(record, indent=1))
    return path


class Staging:
    """A staged data directory: ``local`` is where the command works; set ``succeeded`` at its end."""

    def __init__(self, url: str, local: Path) -> None:
        self.url = url
        self.local = local
        self.succeeded = False


@contextlib.contextmanager
def staged_data_dir(url: str, command: str) -> Iterator[Staging]:
    """Run a command's body on a local mirror of ``url`` (see the module docstring); the completion
    marker is written only when the body set ``succeeded``."""
    fs, root = _filesystem(url)
    root = root.rstrip("/")
    staging = Staging(url, cache_dir(url))
    began = time.time()
    copied = stage_in(fs, root, staging.local)
    log.info("data directory %s staged in %s (%d file(s) copied)", url, staging.local, copied)
    before = snapshot(staging.local)
    try:
        yield staging
    finally:
        moved = stage_out(fs, root, staging.local, before)
        log.info(
            "staged out to %s: %d uploaded, %d removed", url, len(moved["uploaded"]), len(moved["removed"])
        )
        if staging.succeeded:
            write_marker(fs, root, command, moved, time.time() - began)
