"""``acav export``: the selected clips (output.csv) as WebDataset shards, plus an optional random twin."""

from __future__ import annotations

import argparse
import json

from acav.core.config import ConfigError, add_config_arguments, load_config
from acav.core.layout import DataLayout
from acav.core.logs import get_logger
from acav.export.config import ExportConfig

log = get_logger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, ExportConfig)


def run(args: argparse.Namespace) -> int:
    from acav.clip_segmentation.shards import ShardIndexError
    from acav.export.runner import run_export
    from acav.export.sources import ExportInputError

    config = load_config(ExportConfig, "export", args)
    try:
        config.validate()
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    try:
        summary = run_export(DataLayout(args.data_dir), config)
    except (ExportInputError, ShardIndexError) as exc:
        log.error("%s", exc)
        return 1
    for subset in ("curated", "random"):
        if subset in summary:
            m = summary[subset]
            v = m["verification"]
            print(
                f"{subset}: {v['present']} of {m['clips']} clips in {m['shards']} shard(s) "
                f"({m['shards_written']} written, {m['shards_skipped']} already finished) -> "
                f"{summary['output_dir']}/{subset}; verification {'OK' if v['ok'] else 'FAILED'}"
            )
            if not v["ok"]:
                print(json.dumps(v, indent=2))
    if "deleted_clips" in summary:
        print(f"deleted {summary['deleted_clips']['deleted']} per-clip files already stored in shards")
    return 0 if summary["verified"] else 1
