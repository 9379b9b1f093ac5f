"""``acav extract``: stage 4, visual and audio layer features for every clip of the video shards."""

from __future__ import annotations

import argparse

from acav.core.config import add_config_arguments, load_config
from acav.core.layout import DataLayout
from acav.core.logs import get_logger
from acav.feature_extraction.options import CONFIG_SECTION, ExtractionConfig

log = get_logger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Reads DATA_DIR/videos/shard-*.tar (+ .json), writes DATA_DIR/features/shard-NNNNNN.pkl and appends "
        "to DATA_DIR/features/extract.log.jsonl. Finished shards are skipped. Offline / demo: "
        "--visual-extractor basic_visual --audio-extractor basic_audio (weight-free)."
    )
    add_config_arguments(parser, ExtractionConfig)


def run(args: argparse.Namespace) -> int:
    from acav.feature_extraction.runner import RUN_LOG_NAME, ExtractionError, run_extraction

    config = load_config(ExtractionConfig, CONFIG_SECTION, args)
    layout = DataLayout(args.data_dir)
    verbosity = -1 if getattr(args, "quiet", False) else int(getattr(args, "verbose", 0) or 0)
    try:
        summary = run_extraction(config, layout, verbosity=verbosity)
    except ExtractionError as exc:
        log.error("%s", exc)
        return 1
    except Exception as exc:
        # A weights error carries its own instructions: show it without a traceback.
        if type(exc).__name__ == "WeightsError":
            log.error("%s", exc)
            return 2
        raise
    output_dir = config.output_dir or layout.features_dir
    partial = [r["shard"] for r in summary.records if r["status"] == "partial"]
    print(
        f"extract: {len(summary.records)} shard(s) done, {summary.shards_skipped} skipped (already done), "
        f"{summary.clips_written} clip(s) written, {summary.clips_failed} failed, "
        f"{summary.seconds:.1f} s on {', '.join(summary.devices)}; log: {output_dir}/{RUN_LOG_NAME}"
    )
    if summary.clips_failed:
        print(
            f"extract: failed clips and their reasons are listed in {output_dir}/{RUN_LOG_NAME} ('failures')"
        )
    if partial:
        print(
            f"extract: truncated/corrupt tar(s), features written for the readable clips only: {', '.join(partial)}"
        )
    if summary.shards_failed:
        print(f"extract: unreadable shard(s), nothing written: {', '.join(summary.shards_failed)}")
        return 1
    return 0
