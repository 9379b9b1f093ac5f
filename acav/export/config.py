"""Options of ``acav export`` (config section ``export``; every field is also a ``--flag``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ExportConfig:
    output_dir: Path | None = field(
        default=None, metadata={"help": "where the exported shards go (default: DATA_DIR/export)"}
    )
    clips_per_shard: int = field(default=1000, metadata={"help": "clips per exported shard"})
    curated: bool = field(default=True, metadata={"help": "export the selected clips (output.csv)"})
    random_subset: bool = field(
        default=False,
        metadata={"help": "also export a random subset of the whole pool of the same size (a baseline)"},
    )
    seed: int = field(default=0, metadata={"help": "seed of the random subset"})
    delete_clips: bool = field(
        default=False,
        metadata={
            "help": "after a verified export, delete the per-clip files under videos/clips/ that are "
            "stored (same size) in a complete stage-3 shard"
        },
    )

    def validate(self) -> None:
        if self.clips_per_shard < 1:
            raise ValueError(f"--clips-per-shard must be >= 1 (got {self.clips_per_shard})")
        if not (self.curated or self.random_subset):
            raise ValueError("nothing to export: both --no-curated and no --random-subset")
