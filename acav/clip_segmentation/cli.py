"""``acav segment``: stage 3, shot-based 10 s clips and WebDataset shards (see clip_segmentation/README.md)."""

from __future__ import annotations

import argparse
import sys

from acav.clip_segmentation.config import SECTION, SegmentConfig
from acav.core.config import add_config_arguments, load_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, SegmentConfig)


def format_summary(summary: dict) -> str:
    lines = [
        f"clip segmentation: {summary['videos']} videos ({summary['processed_now']} processed now, "
        f"{summary['skipped_done']} already done), {summary['clips']} clips",
        f"  status: {', '.join(f'{k}={v}' for k, v in sorted(summary['status'].items())) or '-'}",
        f"  clips per ok video: {', '.join(f'{k}: {v}' for k, v in summary['clips_per_video'].items()) or '-'}"
        f" (fallback centre clip: {summary['fallback_videos']})",
    ]
    if summary["reasons"]:
        lines.append(
            f"  no clips because: {', '.join(f'{k}={v}' for k, v in sorted(summary['reasons'].items()))}"
        )
    shards = summary["new_shards"]
    lines.append(f"  new shards: {', '.join(shards) if shards else 'none'}")
    lines.append(f"  {summary['seconds']:.1f} s with {summary['workers']} worker(s)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from acav.clip_segmentation.runner import run_segmentation
    from acav.clip_segmentation.shards import ShardIndexError
    from acav.core.layout import DataLayout

    cfg = load_config(SegmentConfig, SECTION, args)
    layout = DataLayout(args.data_dir)
    try:
        summary = run_segmentation(layout, cfg)
    except ShardIndexError as exc:  # checked before any video is processed
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(format_summary(summary))
    print(f"  per-video records: {layout.segmentation_log}")
    print(f"  report: {layout.clips_dir / 'segmentation.report.json'}")
    if summary["videos"] == 0:
        # Nothing to segment is a broken pipeline, not a success: stop ./run.sh here.
        print(
            f"error: no videos in {layout.raw_videos_dir}; run stage 2 (video_download) first",
            file=sys.stderr,
        )
        return 1
    return 0
