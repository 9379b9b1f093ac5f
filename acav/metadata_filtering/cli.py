"""``acav filter``: stage 1, metadata filtering (see metadata_filtering/README.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from acav.core.config import ConfigError, add_config_arguments, load_config
from acav.core.errors import check_output_file
from acav.core.layout import DataLayout
from acav.core.logs import get_logger
from acav.metadata_filtering.config import CONFIG_SECTION, FilterConfig

log = get_logger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input",
        type=Path,
        default=None,
        help="metadata to filter: ID<TAB>JSON TSV, or CSV / JSONL / parquet (see --input-format, --columns); "
        "default: DATA_DIR/metadata.tsv",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="kept lines (default: DATA_DIR/filtered.tsv); rejects and report go beside it as "
        "<name>.rejects.tsv and <name>.report.json",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="only count: write the report, not the kept/rejected lines",
    )
    add_config_arguments(parser, FilterConfig)


def run(args: argparse.Namespace) -> int:
    from acav.metadata_filtering.keywords import KeywordListError
    from acav.metadata_filtering.language import LanguageModelError
    from acav.metadata_filtering.report import format_report
    from acav.metadata_filtering.runner import derived_paths, filter_file

    config = load_config(FilterConfig, CONFIG_SECTION, args)
    config.validate()
    layout = DataLayout(args.data_dir)
    input_path = args.input or layout.metadata_tsv
    if args.output is None:
        kept, rejects, report_path = (
            layout.filtered_tsv,
            layout.filtered_rejects_tsv,
            layout.filter_report_json,
        )
    else:
        kept = args.output
        rejects, report_path = derived_paths(kept)
    if not args.report_only:
        check_output_file(kept, "--output")
    if not input_path.is_file():
        log.error("input not found: %s (put the metadata there or pass --input FILE)", input_path)
        return 1
    try:
        report = filter_file(
            input_path, kept, rejects, report_path, config, write_outputs=not args.report_only
        )
    except (KeywordListError, LanguageModelError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        log.error("%s", exc)
        return 1
    # The final summary is the CLI's output (library code only logs).
    print(format_report(report))
    print(f"{report['lines_per_s']} lines/s with {config.workers} worker(s); report: {report_path}")
    if not args.report_only:
        print(f"kept: {kept}\nrejects: {rejects}")
    return 0
