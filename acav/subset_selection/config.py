"""Options of stage 6 (config section ``subset_selection``; every field is also a ``--flag``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from acav.subset_selection.greedy import ALGORITHMS
from acav.subset_selection.pairings import PAIRINGS

BACKENDS = ("auto", "numpy", "torch")


@dataclass
class SelectConfig:
    ratio: float = field(
        default=0.2, metadata={"help": "fraction of each partition to select (size = round(ratio * N))"}
    )
    size: int | None = field(
        default=None, metadata={"help": "clips to select from each partition; overrides --ratio"}
    )
    batch_size: int = field(default=20, metadata={"help": "candidates drawn per batch-greedy step (B)"})
    topk: int = field(default=4, metadata={"help": "best candidates of each batch added per step (k)"})
    pairing: str = field(
        default="combination",
        metadata={"help": "which clustering pairs the MI is averaged over", "choices": PAIRINGS},
    )
    algorithm: str = field(
        default="batch_greedy",
        metadata={
            "help": "batch_greedy (the paper's) or greedy (exact, k=1 over the whole pool; small data)",
            "choices": ALGORITHMS,
        },
    )
    seed: int = field(default=0, metadata={"help": "random seed (start clip, batches, random baseline)"})
    starts: int = field(
        default=1,
        metadata={
            "help": "independent selections per partition with seeds seed, seed+1, ...; the highest "
            "objective is kept (robust to unlucky first picks on small pools; CPU backend)"
        },
    )
    device: str = field(
        default="auto", metadata={"help": "torch device for --backend torch: auto, cpu, cuda, cuda:N"}
    )
    backend: str = field(
        default="auto",
        metadata={
            "help": "numpy (fast CPU loop, one partition at a time), torch (partitions batched; GPU), auto (torch if a GPU is visible)",
            "choices": BACKENDS,
        },
    )
    ncentroids: int | None = field(
        default=None,
        metadata={"help": "clusters per clustering (default: max cluster id + 1 in each partition)"},
    )
    clusters_dir: Path | None = field(
        default=None, metadata={"help": "cluster shards + log_*.json (default: DATA/clusters)"}
    )
    videos_dir: Path | None = field(
        default=None, metadata={"help": "video shard .json metadata (default: DATA/videos)"}
    )
    output: Path | None = field(default=None, metadata={"help": "output CSV (default: DATA/output.csv)"})
    selection_log: Path | None = field(
        default=None, metadata={"help": "selection log JSON (default: DATA/selection.log.json)"}
    )
    log_points: int = field(
        default=1000, metadata={"help": "at most this many per-step records per partition in the log"}
    )
    max_batch_clips: int = field(
        default=50_000_000, metadata={"help": "torch backend: most clips of partitions processed together"}
    )

    def validate(self) -> None:
        if self.starts < 1:
            raise ValueError(f"--starts must be >= 1, got {self.starts}")
        if not 0.0 <= self.ratio <= 1.0:
            raise ValueError(f"--ratio must be in [0, 1], got {self.ratio}")
        if self.size is not None and self.size < 0:
            raise ValueError(f"--size must be >= 0, got {self.size}")
        if self.ncentroids is not None and self.ncentroids < 1:
            raise ValueError(f"--ncentroids must be >= 1, got {self.ncentroids}")
