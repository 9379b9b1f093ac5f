"""``acav models``: list the pretrained weights the extractors use, or prefetch them.

    acav models list [--weights-dir D] [--verify]
    acav models download [NAME ...] [--weights-dir D] [--force] [--url URL]

Weights live in ``--weights-dir``, else ``$ACAV_WEIGHTS_DIR``, else ``~/.cache/acav/weights``.
For machines without internet: run ``download`` elsewhere and copy the directory over (or fetch
the URLs that ``list`` prints by any means and put the files in the weights dir).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from acav.core.logs import get_logger

log = get_logger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from acav.feature_extraction.models.weights import WEIGHTS

    sub = parser.add_subparsers(dest="models_action", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--weights-dir",
        type=Path,
        default=None,
        help="directory holding the weight files (default: $ACAV_WEIGHTS_DIR, else ~/.cache/acav/weights)",
    )
    listing = sub.add_parser(
        "list", parents=[common], help="show each checkpoint, its URL and whether it is present"
    )
    listing.add_argument("--verify", action="store_true", help="also check the SHA-256 of the files present")
    fetch = sub.add_parser(
        "download", parents=[common], help="download checkpoints (checksum-checked, atomic)"
    )
    fetch.add_argument("names", nargs="*", metavar="NAME", help=f"any of {', '.join(WEIGHTS)} (default: all)")
    fetch.add_argument("--force", action="store_true", help="download again even if a valid file is present")
    fetch.add_argument(
        "--url", default=None, help="download from this mirror URL instead (needs exactly one NAME)"
    )
    fetch.add_argument("--timeout", type=float, default=60.0, help="network timeout in seconds (default: 60)")


def _list(args: argparse.Namespace) -> int:
    from acav.feature_extraction.models.weights import (
        WEIGHTS,
        WeightsError,
        check_digest,
        sha256_of,
        weights_dir,
    )

    directory = weights_dir(args.weights_dir)
    print(f"weights dir: {directory}")
    status_code = 0
    for spec in WEIGHTS.values():
        path = directory / spec.filename
        if not path.is_file():
            status = "missing"
        elif not args.verify:
            status = f"present ({path.stat().st_size / 2**20:.1f} MiB)"
        else:
            digest = sha256_of(path)
            try:
                status = (
                    "ok"
                    if check_digest(spec, digest, str(path))
                    else f"present, sha256 {digest} (no reference)"
                )
            except WeightsError:
                status = f"BAD CHECKSUM (sha256 {digest}); delete it and download again"
                status_code = 1
        check = spec.expected_sha256() or (
            f"{spec.sha256_prefix}... (prefix)" if spec.sha256_prefix else "unknown"
        )
        print(
            f"{spec.name:14s} {status}\n  file:   {path}\n  url:    {spec.url}\n  sha256: {check}\n  {spec.description}"
        )
    return status_code


def _download(args: argparse.Namespace) -> int:
    from acav.feature_extraction.models.weights import WEIGHTS, WeightsError, download, weights_dir

    names = list(dict.fromkeys(args.names)) or list(WEIGHTS)
    unknown = [n for n in names if n not in WEIGHTS]
    if unknown:
        log.error("unknown weights %s; known: %s", ", ".join(unknown), ", ".join(WEIGHTS))
        return 2
    if args.url and len(names) != 1:
        log.error("--url needs exactly one NAME (got %s)", ", ".join(names))
        return 2
    failed = 0
    for name in names:
        try:
            path = download(name, args.weights_dir, force=args.force, url=args.url, timeout=args.timeout)
        except (WeightsError, OSError) as exc:
            log.error("%s: download failed: %s", name, exc)
            failed += 1
            continue
        print(f"{name}: {path}")
    if failed:
        log.error(
            "%d of %d downloads failed; weights dir: %s", failed, len(names), weights_dir(args.weights_dir)
        )
    return 1 if failed else 0


def run(args: argparse.Namespace) -> int:
    if args.models_action == "list":
        return _list(args)
    return _download(args)
