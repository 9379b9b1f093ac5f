"""The ``acav`` command: one subcommand per stage, plus the demo and model tools.

Each subcommand lives in its stage subpackage as a module with ``add_arguments(parser)`` and
``run(args) -> int``. Only the chosen subcommand's module is imported, so ``acav filter`` never
loads torch. Stage modules must keep heavy imports inside ``run``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from pathlib import Path

from acav import __version__
from acav.core.config import ConfigError
from acav.core.errors import UserError, describe_os_error
from acav.core.layout import default_data_dir
from acav.core.logs import get_logger, setup_logging
from acav.core.storage import data_dir_url, localize_args, staged_data_dir

# command -> (module, one-line description). Order is pipeline order.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("acav.demo.cli", "generate the offline demo data set, or report the demo selection's precision"),
    "filter": (
        "acav.metadata_filtering.cli",
        "stage 1: filter metadata.tsv by duration, language, category, keywords",
    ),
    "download": (
        "acav.video_download.cli",
        "stage 2: download the filtered videos with yt-dlp (or take local files)",
    ),
    "segment": (
        "acav.clip_segmentation.cli",
        "stage 3: detect shots, cut 10 s clips, write WebDataset shards",
    ),
    "extract": ("acav.feature_extraction.cli", "stage 4: extract 5-layer visual and audio features per clip"),
    "models": (
        "acav.feature_extraction.models_cli",
        "list or prefetch pretrained weights for the extractors",
    ),
    "cluster": ("acav.clustering.cli", "stage 5: k-means per (model, layer) over the feature shards"),
    "select": (
        "acav.subset_selection.cli",
        "stage 6: choose the clips that maximise audio-visual mutual information",
    ),
    "rebuild": (
        "acav.rebuild.cli",
        "rebuild a published clip list: download its videos, cut its segments, write shards",
    ),
    "export": ("acav.export.cli", "write the selected clips (and a random twin) as WebDataset shards"),
    "evaluate": (
        "acav.evaluation.cli",
        "pretrain on an exported subset; linear evaluation; the offline proof",
    ),
    "report": ("acav.report.cli", "write the run report: one offline HTML file (DATA_DIR/report.html)"),
    "retrieval": (
        "acav.correspondence_retrieval.cli",
        "correspondence-retrieval experiments (the paper's section 4.1): tables and plots",
    ),
}


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="data directory all stages read and write (default: $DATA_DIR, else ./data)",
    )
    common.add_argument("--config", type=Path, default=None, help="YAML file with one section per stage")
    common.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    common.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    return common


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="acav",
        description="Curate audio-visual video datasets (ACAV100M pipeline).",
    )
    parser.add_argument("--version", action="version", version=f"acav {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = _common_options()
    for name, (module_name, help_text) in COMMANDS.items():
        if command is not None and name == command:
            module = importlib.import_module(module_name)
            stage_parser = sub.add_parser(name, help=help_text, description=help_text, parents=[common])
            module.add_arguments(stage_parser)
            stage_parser.set_defaults(_module=module)
        else:
            sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and argv[0] in COMMANDS else None
    url = data_dir_url(argv)  # s3://... : the command runs on a staged local copy (acav/core/storage.py)
    if url is not None:
        argv = localize_args(argv, url)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if command is None:
        parser.print_help()
        return 0 if not argv else 2
    setup_logging(-1 if args.quiet else args.verbose)
    if args.data_dir is None:
        args.data_dir = default_data_dir()
    try:
        with contextlib.ExitStack() as stack:
            if url is not None:
                staging = stack.enter_context(staged_data_dir(url, command))
                args.data_dir = staging.local
                os.environ["DATA_DIR"] = str(staging.local)
            code = int(args._module.run(args) or 0)
            if url is not None:
                staging.succeeded = code == 0
            return code
    except ConfigError as exc:
        get_logger("cli").error("configuration error: %s", exc)
        return 2
    except UserError as exc:  # e.g. another run holds the data directory's lock
        get_logger("cli").error("%s", exc)
        return exc.exit_code
    except OSError as exc:  # full disk, read-only directory, a directory where a file goes ...
        message = describe_os_error(exc)
        if message is None:
            raise
        get_logger("cli").error("%s", message)
        return 1
    except KeyboardInterrupt:
        get_logger("cli").error("interrupted; re-run the same command to resume")
        return 130


if __name__ == "__main__":
    sys.exit(main())
