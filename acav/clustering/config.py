"""Options of stage 5 (config section ``clustering``; every field is also a ``--flag``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from acav.core.memory import available_memory

BACKENDS = ("torch", "faiss")


@dataclass
class ClusteringConfig:
    ncentroids: int = field(
        default=32, metadata={"help": "clusters per (model, layer) clustering (paper: 32)"}
    )
    epochs: int = field(
        default=2, metadata={"help": "passes of mini-batch SGD over the partition (release: 2)"}
    )
    batch_size: int = field(default=1024, metadata={"help": "clips per mini-batch; bounds training memory"})
    backend: str = field(
        default="torch",
        metadata={
            "help": "torch: our streaming mini-batch SGD k-means; faiss: faiss k-means (k-means++ seeds) on the sample",
            "choices": BACKENDS,
        },
    )
    device: str = field(
        default="auto", metadata={"help": "auto (first visible GPU, else CPU), cpu, cuda or cuda:N"}
    )
    seed: int = field(
        default=0, metadata={"help": "random seed; the same seed and input give the same clusters"}
    )
    centroids: Path | None = field(
        default=None,
        metadata={
            "help": "assign with this existing centroid file (.npz written by this stage) instead of training"
        },
    )
    shards_per_partition: int = field(
        default=0,
        metadata={
            "help": "cluster the shards in groups of this many, one clustering and one log per group (0: all at once)"
        },
    )
    normalize: str = field(
        default="none",
        metadata={
            "help": "feature normalisation before k-means: none (as the paper), l2 (unit rows) or standardize (per-dim z-score)",
            "choices": ("none", "l2", "standardize"),
        },
    )
    lr_schedule: str = field(
        default="count",
        metadata={
            "help": "count: per-centre rate 1/count (Sculley); constant: the release's rate",
            "choices": ("count", "constant"),
        },
    )
    learning_rate: float = field(
        default=0.01, metadata={"help": "base rate of --lr-schedule constant (x0.1 every 5 epochs)"}
    )
    count_decay: float = field(
        default=0.1,
        metadata={
            "help": "count schedule: counts are multiplied by this at each epoch start (1.0: never forget)"
        },
    )
    reseed_fraction: float = field(
        default=0.05,
        metadata={
            "help": "re-seed a centre that got less than this fraction of its fair share of points (0: never)"
        },
    )
    reseed_every: int = field(default=20, metadata={"help": "batches between under-used-centre checks"})
    underused: str = field(
        default="reseed",
        metadata={
            "help": "under-used centres: reseed (move them onto badly served points) or discount (the release's "
            "rule: distances to a centre with fewer than (points/k)**discount_power points divided by "
            "discount_factor, in training and in the final assignment)",
            "choices": ("reseed", "discount"),
        },
    )
    discount_power: float = field(
        default=0.7, metadata={"help": "--underused discount: the power p (release: 0.7)"}
    )
    discount_factor: float = field(
        default=5.0, metadata={"help": "--underused discount: the divisor r (release: 5.0)"}
    )
    sample_size: int = field(
        default=0,
        metadata={
            "help": "reservoir sample for initialisation (torch) / training (faiss); 0: 64 x ncentroids (torch), 256 x ncentroids (faiss)"
        },
    )
    train_on_sample: bool = field(
        default=False,
        metadata={
            "help": "torch: run the k-means epochs on the reservoir sample (default 256 x ncentroids, faiss's "
            "default) instead of streaming every clip: several times faster, slightly higher inertia "
            "(benchmarks/clustering.py); every clip is still assigned"
        },
    )
    init_iters: int = field(
        default=10, metadata={"help": "Lloyd iterations on the sample after k-means++ seeding (torch)"}
    )
    faiss_iters: int = field(default=20, metadata={"help": "k-means iterations for --backend faiss"})
    faiss_threads: int = field(
        default=1,
        metadata={
            "help": "OpenMP threads for faiss (1 is fastest on small shared machines; 0: OpenMP's default)"
        },
    )
    cache_mb: int = field(
        default=0,
        metadata={
            "help": "memory (MiB) for keeping a partition's feature shards between its passes (scan, epochs, "
            "assignment) instead of reading them again; 0: auto (a quarter of the available memory, at "
            "most 4096), -1: off"
        },
    )
    cpu_threads: int = field(
        default=0,
        metadata={
            "help": "torch CPU threads when running on the CPU (0: torch's default; 1 is often fastest on small shared machines)"
        },
    )
    checkpoint: bool = field(
        default=True, metadata={"help": "save the centres after every epoch so an interrupted run resumes"}
    )

    def validate(self) -> None:
        from acav.core.config import ConfigError

        checks = [
            (self.ncentroids >= 1, "ncentroids must be >= 1"),
            (self.epochs >= 1, "epochs must be >= 1"),
            (self.batch_size >= 1, "batch_size must be >= 1"),
            (self.shards_per_partition >= 0, "shards_per_partition must be >= 0"),
            (0.0 <= self.count_decay <= 1.0, "count_decay must be in [0, 1]"),
            (0.0 <= self.reseed_fraction < 1.0, "reseed_fraction must be in [0, 1)"),
            (self.sample_size >= 0, "sample_size must be >= 0"),
            (self.cache_mb >= -1, "cache_mb must be >= -1 (0: auto, -1: off)"),
            (self.cpu_threads >= 0, "cpu_threads must be >= 0"),
            (self.faiss_threads >= 0, "faiss_threads must be >= 0 (0: OpenMP's default)"),
            (self.faiss_iters >= 1, "faiss_iters must be >= 1"),
            (self.init_iters >= 0, "init_iters must be >= 0"),
            (self.reseed_every >= 1, "reseed_every must be >= 1"),
            (self.underused in ("reseed", "discount"), "underused must be reseed or discount"),
            (self.discount_factor >= 1.0, "discount_factor must be >= 1"),
            (self.discount_power > 0, "discount_power must be > 0"),
            (self.learning_rate > 0, "learning_rate must be > 0"),
            (self.backend in BACKENDS, f"backend must be one of {BACKENDS}"),
            (self.normalize in ("none", "l2", "standardize"), "normalize must be none, l2 or standardize"),
            (self.lr_schedule in ("count", "constant"), "lr_schedule must be count or constant"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    def cache_bytes(self) -> int:
        """The feature cache's budget in bytes (see ``cache_mb``)."""
        if self.cache_mb < 0:
            return 0
        if self.cache_mb > 0:
            return self.cache_mb * 1024 * 1024
        return min(4096 * 1024 * 1024, available_memory() // 4)

    def effective_sample_size(self) -> int:
        if self.sample_size:
            return self.sample_size
        return (256 if self.backend == "faiss" or self.train_on_sample else 64) * self.ncentroids
