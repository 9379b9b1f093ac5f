"""``acav demo generate`` and ``acav demo report`` (used by ``bash ./run.sh --demo``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from acav.core.config import add_config_arguments, load_config
from acav.core.logs import get_logger
from acav.demo.plan import DemoConfig

log = get_logger(__name__)


def default_demo_dir() -> Path:
    """``$DATA_DIR`` when set, else ``data/demo``: the demo never lands in the real ``data/`` by default.

    The same rule as ``run.sh --demo`` (which switches the default ``data/`` to ``data/demo``).
    """
    return Path(os.environ.get("DATA_DIR") or Path("data") / "demo")


def _common_options(parser: argparse.ArgumentParser) -> None:
    """The acav-wide options again, so they also work after the subcommand (acav demo generate -q).

    SUPPRESS defaults keep a value given before the subcommand (acav demo --data-dir D generate).
    """
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help="demo data directory (default: $DATA_DIR, else data/demo)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        help="YAML file with one section per stage (this command reads section 'demo')",
    )
    parser.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help="more log output")
    parser.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="warnings and errors only"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # Overrides acav's general default (./data) for this command only.
    parser.set_defaults(data_dir=default_demo_dir())
    sub = parser.add_subparsers(dest="demo_command", metavar="{generate,report}")
    sub.required = True
    gen = sub.add_parser(
        "generate",
        help="write metadata.tsv, source_videos/*.mp4 and ground_truth.json under the data directory",
        description="Generate the deterministic offline demo: metadata rows that pass and that fail each "
        "stage-1 rule, one synthetic source video (H.264 + AAC, several shots) per passing row, with visual "
        "and audio classes that match in a known fraction of videos, and the ground truth.",
    )
    _common_options(gen)
    gen.add_argument(
        "--force",
        action="store_true",
        help="regenerate even when the directory already holds this demo (removes stale outputs)",
    )
    gen.add_argument(
        "--workers",
        type=int,
        default=0,
        help="videos rendered and encoded at a time; 0 = auto (the available cores, at most 4); "
        "does not change the output",
    )
    add_config_arguments(gen, DemoConfig)
    rep = sub.add_parser(
        "report",
        help="precision of the selection (output.csv) in matching clips against the base rate",
        description="Compare the pipeline's selection with the demo ground truth; writes demo_report.json.",
    )
    _common_options(rep)


def run(args: argparse.Namespace) -> int:
    from acav.demo.generator import DemoError

    try:
        if args.demo_command == "generate":
            from acav.demo.generator import generate

            config = load_config(DemoConfig, "demo", args)
            result = generate(args.data_dir, config, force=args.force, workers=args.workers)
            print(result.summary())
            return 0
        from acav.demo.report import format_report, write_report

        report, path = write_report(args.data_dir)
        print(format_report(report))
        print(f"  written to {path}")
        return 0
    except DemoError as exc:
        print(f"acav demo {args.demo_command}: {exc}", file=sys.stderr)
        return 1
