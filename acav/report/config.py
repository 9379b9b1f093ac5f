"""Options of ``acav report`` (YAML section ``report``; every field is also a ``--flag``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from acav.core.config import ConfigError

SECTION = "report"


@dataclass
class ReportConfig:
    output: Path | None = field(
        default=None, metadata={"help": "the HTML file to write (default: DATA_DIR/report.html)"}
    )
    sample_videos: int = field(
        default=8, metadata={"help": "videos whose shots and clip placement are drawn"}
    )
    clusterings: int = field(
        default=1,
        metadata={"help": "clusterings per modality with a gallery (the deepest layers of each model first)"},
    )
    max_clusters: int = field(default=10, metadata={"help": "largest clusters shown per gallery"})
    thumbs_per_cluster: int = field(default=5, metadata={"help": "clip thumbnails per cluster"})
    pairs: int = field(
        default=3, metadata={"help": "audio-visual clustering pairs whose co-occurrence is drawn"}
    )
    partitions: int = field(
        default=3,
        metadata={
            "help": "selection partitions read (the first ones; galleries and co-occurrence use the first)"
        },
    )
    curve_points: int = field(default=20, metadata={"help": "subset sizes on the selection curve"})
    random_subsets: int = field(
        default=5, metadata={"help": "random subsets averaged per size for the curve's baseline"}
    )
    max_wrong_clips: int = field(
        default=24, metadata={"help": "wrongly chosen clips listed when ground truth exists (the demo)"}
    )
    seed: int = field(
        default=0, metadata={"help": "seed of the samples (videos, thumbnails, random subsets)"}
    )

    def __post_init__(self) -> None:
        for name in (
            "sample_videos",
            "clusterings",
            "max_clusters",
            "thumbs_per_cluster",
            "pairs",
            "random_subsets",
            "max_wrong_clips",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"report.{name} must be >= 0, got {getattr(self, name)}")
        if self.partitions < 1:
            raise ConfigError(f"report.partitions must be >= 1, got {self.partitions}")
        if self.curve_points < 2:
            raise ConfigError(f"report.curve_points must be >= 2, got {self.curve_points}")
