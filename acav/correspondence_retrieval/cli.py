"""``acav retrieval``: run the correspondence-retrieval experiments, or download the real data sets."""

from __future__ import annotations

import argparse
from pathlib import Path

ACTIONS = ("run", "download", "report")
DEFAULT_EXPERIMENTS = ("exp1", "exp2", "exp3", "exp5")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", default="run", choices=ACTIONS,
                        help="run experiments (default), download the public data sets, or rebuild tables/plots")  # fmt: skip
    parser.add_argument("--experiment", "-e", action="append", default=None,
                        help="exp1..exp6, sweep, or a YAML file; repeatable (default: exp1 exp2 exp3 exp5)")  # fmt: skip
    parser.add_argument(
        "--datasets", nargs="+", default=None, help="data sets to run (default: the config's)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="the config's quick overrides (exp1 offline in minutes)"
    )
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (default: the config's, 5)")
    parser.add_argument("--methods", nargs="+", default=None, help="methods to run (default: the config's)")
    parser.add_argument("--root", type=Path, default=None,
                        help="directory of the real data sets (default: DATA_DIR/correspondence_retrieval/datasets)")  # fmt: skip
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results directory (default: DATA_DIR/correspondence_retrieval)",
    )
    parser.add_argument("--image-extractor", default="weightfree_image", choices=("weightfree_image", "resnet50"),
                        help="5-layer image features: weight-free (offline) or ImageNet ResNet-50 (needs --resnet-weights)")  # fmt: skip
    parser.add_argument("--resnet-weights", type=Path, default=None, help="torchvision resnet50 .pth file")
    parser.add_argument(
        "--demo-videos",
        type=int,
        default=160,
        help="demo videos for the demo_av data set (about 2 clips each)",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: runs are small)")


def run(args: argparse.Namespace) -> int:
    import torch

    from acav.core.config import ConfigError
    from acav.core.logs import get_logger
    from acav.correspondence_retrieval.config import load_experiment
    from acav.correspondence_retrieval.methods import METHODS
    from acav.correspondence_retrieval.report import write_index, write_reports
    from acav.correspondence_retrieval.runner import Outputs, Runner, read_rows, write_rows
    from acav.correspondence_retrieval.sources import OFFLINE_SOURCES, REAL_SOURCES
    from acav.correspondence_retrieval.synthetic import synthetic_rows

    log = get_logger("retrieval")
    torch.set_num_threads(max(1, args.threads))
    out = Outputs(args.out or Path(args.data_dir) / "correspondence_retrieval")
    root = args.root or out.root / "datasets"
    if args.action == "download":
        from urllib.error import URLError

        from acav.correspondence_retrieval.loaders import download

        try:
            download(root, args.datasets)
        except (URLError, OSError) as exc:
            log.error("download failed: %s (re-run to resume; finished files are kept)", exc)
            return 1
        return 0
    options = {"image_extractor": args.image_extractor, "root": str(root), "demo_videos": args.demo_videos}
    if args.resnet_weights:
        options["resnet_weights"] = str(args.resnet_weights)
    for name in args.experiment or list(DEFAULT_EXPERIMENTS):
        experiment = load_experiment(name, args.quick)
        if args.seeds is not None:
            if args.seeds < 1:
                raise ConfigError(f"--seeds must be >= 1 (got {args.seeds})")
            experiment.seeds = args.seeds
        if args.methods:
            experiment.methods = args.methods
        if args.datasets:
            experiment.datasets = args.datasets
        _check_names(experiment.datasets, OFFLINE_SOURCES + REAL_SOURCES, "data set")
        _check_names(experiment.methods, METHODS, "method")
        rows = read_rows(out.csv_path(experiment.name))
        if args.action == "run":
            rows = Runner(experiment, out, options).run()
            if experiment.synthetic and not any(r["dataset"] == "synthetic" for r in rows):
                rows += synthetic_rows(experiment.name, experiment.synthetic,
                                       experiment.settings.get("batch_size", 100), experiment.settings.get("topk", 25))  # fmt: skip
                write_rows(out.csv_path(experiment.name), rows)
        files = write_reports(rows, experiment, out.experiment_dir(experiment.name))
        log.info("%s: %d result rows; %s", experiment.name, len(rows), ", ".join(str(f) for f in files[:3]))
    log.info("index: %s", write_index(out.root))
    return 0


def _check_names(names: list[str], known: tuple[str, ...], what: str) -> None:
    from acav.core.config import ConfigError

    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"unknown {what}(s) {', '.join(unknown)}; choose from {', '.join(known)}")
