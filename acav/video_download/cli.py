"""``acav download``: stage 2, fetch the videos listed in filtered.tsv (or take them from --source-dir)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from acav.core.config import ConfigError, add_config_arguments, config_to_dict, load_config
from acav.core.layout import DataLayout
from acav.core.logs import get_logger
from acav.video_download.options import DownloadConfig

SECTION = "video_download"
log = get_logger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_download_arguments(parser)
    parser.add_argument(
        "--print-summary-json",
        action="store_true",
        help="print the end-of-run summary as JSON on stdout instead of text",
    )


def add_download_arguments(parser: argparse.ArgumentParser, skip: frozenset[str] = frozenset()) -> None:
    """The download options (also used by ``acav rebuild``), except the fields named in ``skip``."""
    add_config_arguments(parser, DownloadConfig, skip)
    parser.add_argument(
        "--ytdlp-option",
        dest="ytdlp_option",
        action="append",
        default=argparse.SUPPRESS,
        metavar="KEY=VALUE",
        help="extra yt-dlp option (VALUE parsed as JSON, else taken as a string); repeatable, "
        "e.g. --ytdlp-option concurrent_fragment_downloads=4 --ytdlp-option geo_bypass=true",
    )


def resolve_paths(config: DownloadConfig, data_dir: Path) -> tuple[Path, Path]:
    layout = DataLayout(data_dir)
    input_path = Path(config.input) if config.input else layout.filtered_tsv
    output_dir = Path(config.output_dir) if config.output_dir else layout.raw_videos_dir
    return input_path, output_dir


def check_paths(config: DownloadConfig) -> None:
    """Paths the options name must exist before any download starts (CLI and Python API)."""
    if config.source_dir is not None and not Path(config.source_dir).is_dir():
        raise ConfigError(f"--source-dir {config.source_dir} is not a directory")
    if config.cookies is not None and not Path(config.cookies).is_file():
        raise ConfigError(f"--cookies {config.cookies} is not a file")


def run(args: argparse.Namespace) -> int:
    from acav.video_download.runner import AlreadyRunning, DownloadRunner

    config = load_config(DownloadConfig, SECTION, args)
    input_path, output_dir = resolve_paths(config, Path(args.data_dir))
    log.info(
        "download: %s -> %s (%s)", input_path, output_dir, json.dumps(config_to_dict(config), default=str)
    )
    check_paths(config)
    runner = DownloadRunner(config, input_path, output_dir)
    try:
        summary = runner.run()
    except (FileNotFoundError, AlreadyRunning) as exc:
        log.error("%s", exc)
        return 2
    if getattr(args, "print_summary_json", False):
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        # The summary is the command's output: stdout, as in every stage (logs go to stderr).
        print(summary.text())
        print(f"log: {runner.log_path}\nsummary: {runner.summary_path}")
    return 0
