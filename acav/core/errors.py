"""Errors that end a command with a one-line message instead of a traceback.

:class:`UserError` carries a message that already says what happened and what to do; ``acav``
prints it on one line and exits with :attr:`UserError.exit_code`. :func:`describe_os_error` turns the
operating-system errors a user can fix (full disk, read-only or missing directory, a directory
where a file is expected) into such a line.
"""

from __future__ import annotations

import errno
from pathlib import Path


class UserError(RuntimeError):
    """A failure the user can fix; the message names the path or value and what to do."""

    exit_code = 1


_ADVICE = {
    errno.ENOSPC: "the disk is full: free space (or point --data-dir / --output elsewhere) and re-run",
    errno.EDQUOT: "the disk quota is exceeded: free space and re-run",
    errno.EROFS: "the file system is read-only: use a writable --data-dir / --output",
    errno.EACCES: "permission denied: make it writable for this user, or use another --data-dir / --output",
    errno.EPERM: "operation not permitted: make it writable for this user, or use another --data-dir / --output",
    errno.EISDIR: "it is a directory: pass a file path (e.g. .../output.csv)",
    errno.ENOTDIR: "a part of the path is a file, not a directory: fix the path",
    errno.ENOENT: "a folder on the path does not exist: create it or fix the path",
}


def describe_os_error(exc: OSError) -> str | None:
    """One line for an OS error a user can fix, or None for others (those keep their traceback)."""
    advice = _ADVICE.get(exc.errno or -1)
    if advice is None:
        return None
    where = exc.filename if exc.filename is not None else "?"
    if exc.filename2 is not None:
        where = f"{exc.filename} -> {exc.filename2}"
    return f"{where}: {exc.strerror or exc}; {advice}. Earlier outputs are unchanged."


def check_output_file(path: Path, option: str) -> None:
    """Refuse an output path that is a directory or whose folder does not exist (before any work)."""
    if path.is_dir():
        raise UserError(
            f"{option} {path} is a directory; pass a file path inside it, e.g. {path / 'output.csv'}"
        )
    if not path.parent.is_dir():
        raise UserError(
            f"{option} {path}: the folder {path.parent} does not exist; create it (mkdir -p {path.parent}) "
            "or choose another path"
        )
