"""ACAV: curate audio-visual video datasets (a reproduction of the ACAV100M pipeline).

The Python API (see :mod:`acav.api`; loaded on first use, so ``import acav`` stays light)::

    import acav
    acav.filter_metadata("data", min_duration=60)   # stage 1 .. 6, each with the CLI's options
    acav.download_videos("data"); acav.segment_clips("data"); acav.extract_features("data")
    acav.cluster_features("data", ncentroids=64); acav.select_subset("data", ratio=0.2)
    acav.write_report("data")                       # DATA/report.html
    acav.run_pipeline("data", clustering={"ncentroids": 64})   # all of it, as bash ./run.sh
"""

from typing import Any

__version__ = "0.1.0"

API = (
    "filter_metadata",
    "download_videos",
    "segment_clips",
    "extract_features",
    "cluster_features",
    "select_subset",
    "write_report",
    "generate_demo",
    "run_pipeline",
    "StageSummary",
    "PipelineSummary",
)
__all__ = ["__version__", *API]


def __getattr__(name: str) -> Any:
    if name in API:
        from acav import api

        return getattr(api, name)
    raise AttributeError(f"module 'acav' has no attribute {name!r}")
