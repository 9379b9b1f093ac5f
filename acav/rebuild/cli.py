"""``acav rebuild LIST``: download the videos of a published clip list, cut exactly its segments,
and write WebDataset shards plus a per-row status file (see docs/REBUILD.md)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from acav.clip_segmentation.config import SECTION as SEGMENT_SECTION
from acav.clip_segmentation.config import SegmentConfig
from acav.core.config import add_config_arguments, load_config
from acav.core.logs import get_logger
from acav.rebuild.config import DOWNLOAD_OPTIONS_NOT_USED, SECTION, SEGMENT_OPTIONS_NOT_USED, RebuildConfig
from acav.video_download.cli import SECTION as DOWNLOAD_SECTION
from acav.video_download.cli import add_download_arguments, check_paths
from acav.video_download.options import DownloadConfig

log = get_logger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "list",
        type=Path,
        metavar="LIST",
        help="clip list: output.csv (headerless), the same columns as CSV with a header, JSONL or parquet",
    )
    parser.add_argument(
        "--print-summary-json",
        action="store_true",
        help="print the summary as JSON on stdout instead of text",
    )
    add_config_arguments(parser, RebuildConfig)
    add_download_arguments(parser, DOWNLOAD_OPTIONS_NOT_USED)
    add_config_arguments(parser, SegmentConfig, skip=SEGMENT_OPTIONS_NOT_USED)


def run(args: argparse.Namespace) -> int:
    from acav.clip_segmentation.shards import ShardIndexError
    from acav.core.layout import DataLayout
    from acav.core.tables import TableError
    from acav.rebuild.runner import format_summary, run_rebuild, status_path, summary_path
    from acav.video_download.runner import AlreadyRunning

    rcfg = load_config(RebuildConfig, SECTION, args)
    dcfg = load_config(DownloadConfig, DOWNLOAD_SECTION, args)
    scfg = load_config(SegmentConfig, SEGMENT_SECTION, args)
    check_paths(dcfg)
    layout = DataLayout(args.data_dir)
    try:
        summary = run_rebuild(args.list, layout, rcfg, dcfg, scfg)
    except (FileNotFoundError, AlreadyRunning, TableError, ShardIndexError) as exc:
        log.error("%s", exc)
        return 2
    if args.print_summary_json:
        print(json.dumps(summary, indent=2))
    else:
        print(format_summary(summary))
        print(f"status: {status_path(layout)}\nsummary: {summary_path(layout)}")
    return 0
