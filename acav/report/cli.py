"""``acav report``: write the run report, one static HTML file (DATA_DIR/report.html)."""

from __future__ import annotations

import argparse

from acav.core.config import add_config_arguments, load_config
from acav.report.config import SECTION, ReportConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Reads whatever the stages wrote under DATA_DIR (parts whose files are missing say so) and "
        "writes one offline HTML file with every image inline: the funnel with reasons per stage, "
        "shots and clip placement, cluster galleries, the selection curve, cluster co-occurrence and, "
        "for the demo, precision against the ground truth."
    )
    add_config_arguments(parser, ReportConfig)


def run(args: argparse.Namespace) -> int:
    from acav.report.build import format_summary, write_report

    config = load_config(ReportConfig, SECTION, args)
    summary = write_report(args.data_dir, config)
    print(format_summary(summary))
    return 0
