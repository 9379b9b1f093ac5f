"""``acav cluster``: stage 5, k-means per (model, layer) over the feature shards.

Heavy imports (torch, faiss) happen inside :func:`run`, so building the parser stays cheap.
"""

from __future__ import annotations

import argparse

from acav.clustering.config import ClusteringConfig
from acav.core.config import add_config_arguments, load_config
from acav.core.logs import get_logger

log = get_logger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Reads DATA/features/shard-*.pkl; writes DATA/clusters/shard-*.pkl, DATA/clusters/log_*.json "
        "(one per partition), DATA/clusters/centroids/*.npz and DATA/clusters/skipped.jsonl. "
        "Re-running resumes: finished partitions are skipped."
    )
    add_config_arguments(parser, ClusteringConfig)


def run(args: argparse.Namespace) -> int:
    from acav.clustering.centroids import CentroidFileError
    from acav.clustering.faiss_backend import FaissUnavailableError
    from acav.clustering.features import ClusteringInputError
    from acav.clustering.stage import run_clustering

    config = load_config(ClusteringConfig, "clustering", args)
    try:
        report = run_clustering(args.data_dir, config)
    except (ClusteringInputError, CentroidFileError, FaissUnavailableError) as exc:
        log.error("%s", exc)
        return 1
    for part in report.partitions:
        inertia = ", ".join(f"{k}={v:.4g}" for k, v in part.inertia.items())
        print(
            f"partition {part.name}: {len(part.shards)} shard(s), {part.clips} clip(s) assigned"
            + (f" ({part.resumed_shards} shard(s) done before)" if part.resumed_shards else "")
            + (f", {part.skipped_clips} skipped" if part.skipped_clips else "")
            + (f", {len(part.failed_shards)} unreadable shard(s)" if part.failed_shards else "")
            + (f"; log {part.log}" if part.log else "; no log written")
            + (f"\n  inertia: {inertia}" if inertia else "")
        )
    if report.already_done and not report.partitions:
        print(f"nothing to do: {report.already_done} shard(s) already clustered")
    for error in report.errors:
        log.error("%s", error)
    return 1 if report.errors else 0
