"""``acav select``: stage 6, choose the clips that maximise audio-visual mutual information."""

from __future__ import annotations

import argparse

from acav.core.config import ConfigError, add_config_arguments, load_config
from acav.core.layout import DataLayout
from acav.core.logs import get_logger
from acav.subset_selection.config import SelectConfig

log = get_logger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, SelectConfig)


def run(args: argparse.Namespace) -> int:
    from acav.subset_selection.runner import EmptySelectionError, NoInputError, run_selection

    config = load_config(SelectConfig, "subset_selection", args)
    try:
        config.validate()
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    layout = DataLayout(args.data_dir)
    try:
        summary = run_selection(layout, config)
    except (NoInputError, EmptySelectionError) as exc:
        log.error("%s", exc)
        return 1
    except ValueError as exc:  # e.g. a pairing that has no pairs for these clusterings
        log.error("%s", exc)
        return 2
    for entry in summary["partitions"]:
        print(
            f"{entry['partition']}: selected {entry['selected']} of {entry['clips']} clips; "
            f"objective {entry['objective']:.4f} vs random subset {entry['random_objective']:.4f}"
        )
    print(
        f"wrote {summary['selected']} clips to {summary['output']} "
        f"({summary['without_metadata']} without metadata, {len(summary['problems'])} problem(s) logged) "
        f"in {summary['seconds']:.2f} s; log: {config.selection_log or layout.selection_log}"
    )
    return 0
