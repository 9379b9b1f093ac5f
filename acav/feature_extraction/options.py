"""The stage's options (config section ``feature_extraction``; every field is also a CLI flag)."""

from __future__ import annotations

from dataclasses import InitVar, dataclass, field
from pathlib import Path

from acav.core.config import ConfigError, deprecated
from acav.core.threads import ThreadPlan, decoding_workers, plan_threads, thread_budget
from acav.feature_extraction.base import AUDIO_EXTRACTORS, CROP_CHOICES, SAMPLING_CHOICES, VISUAL_EXTRACTORS

CONFIG_SECTION = "feature_extraction"
DTYPE_CHOICES = ("float32", "float16")
POOLING_CHOICES = ("mean", "acav100m")


@dataclass
class ExtractionConfig:
    visual_extractor: str = field(
        default="slowfast_r50",
        metadata={
            "help": "visual extractor (basic_visual: weight-free, for offline runs)",
            "choices": VISUAL_EXTRACTORS,
        },
    )
    audio_extractor: str = field(
        default="vggish",
        metadata={
            "help": "audio extractor (basic_audio: weight-free, for offline runs)",
            "choices": AUDIO_EXTRACTORS,
        },
    )
    weights_dir: Path | None = field(
        default=None,
        metadata={
            "help": "directory holding the pretrained weights; when unset: $ACAV_WEIGHTS_DIR, else ~/.cache/acav/weights"
        },
    )
    allow_random_weights: bool = field(
        default=False,
        metadata={
            "help": "run the real models with RANDOM weights when the pretrained ones are missing (features are meaningless; for tests and benchmarks)"
        },
    )
    batch_size: int = field(default=16, metadata={"help": "clips per model call"})
    workers: int = field(
        default=0,
        metadata={
            "help": "decoding processes (DataLoader workers) per device; 0 = auto (--threads per device, at most 8, "
            "on a GPU; on a CPU none with SlowFast/VGGish: the models get every thread; half of it with only "
            "the weight-free extractors); -1 decodes in the main process",
            # the former --num-workers counted the other way: -1 was auto and 0 the main process
            **deprecated("num_workers", lambda old: {-1: 0, 0: -1}.get(int(old), int(old))),
        },
    )
    threads: int = field(
        default=0,
        metadata={
            "help": "CPU threads the stage may use in all (0: every available core), divided by the devices; on a CPU device the decoding workers and the models share it as equal parts, the models taking the rest; on a GPU the workers share it (docs/OPTIONS.md)"
        },
    )
    device: str = field(
        default="auto", metadata={"help": "auto (all visible GPUs, else CPU), cpu, cuda or cuda:N"}
    )
    dtype: str = field(
        default="float32", metadata={"help": "storage dtype of the features", "choices": DTYPE_CHOICES}
    )
    autocast: bool = field(default=True, metadata={"help": "bf16 autocast for the models on CUDA devices"})
    slowfast_pooling: str = field(
        default="mean",
        metadata={
            "help": "SlowFast layer pooling: mean over time and space, or acav100m (the original release's head pooling)",
            "choices": POOLING_CHOICES,
        },
    )
    slowfast_sampling: str = field(
        default="linspace",
        metadata={
            "help": "SlowFast's 32 frames: linspace (first to last frame, both included; the original release's and "
            "pytorchvideo's sampling) or midpoint (middle frames of 32 equal segments)",
            "choices": SAMPLING_CHOICES,
        },
    )
    slowfast_crop: str = field(
        default="center",
        metadata={
            "help": "SlowFast's 256x256 crop after the short side is scaled to 256: center (the model's single-crop "
            "test view) or start (top/left, PySlowFast spatial_idx 0, as the original release)",
            "choices": CROP_CHOICES,
        },
    )
    shards: list[str] = field(
        default_factory=list,
        metadata={
            "help": "shards to process: names, file names or braceexpand patterns like 'shard-{000000..000009}'; empty: all"
        },
    )
    input_dir: Path | None = field(
        default=None, metadata={"help": "where the video shards are; when unset: DATA_DIR/videos"}
    )
    output_dir: Path | None = field(
        default=None,
        metadata={"help": "where the feature shards and the run log go; when unset: DATA_DIR/features"},
    )
    overwrite: bool = field(
        default=False,
        metadata={"help": "recompute shards whose output already exists instead of skipping them"},
    )
    # the deprecated keyword of the constructor (ExtractionConfig(num_workers=0)); see ``workers``
    num_workers: InitVar[int | None] = None

    def __post_init__(self, num_workers: int | None = None) -> None:
        if num_workers is not None:
            self.workers = {-1: 0, 0: -1}.get(int(num_workers), int(num_workers))
        # The YAML section bypasses argparse's choices, so check them here too.
        checks = {
            "visual_extractor": VISUAL_EXTRACTORS,
            "audio_extractor": AUDIO_EXTRACTORS,
            "dtype": DTYPE_CHOICES,
            "slowfast_pooling": POOLING_CHOICES,
            "slowfast_sampling": SAMPLING_CHOICES,
            "slowfast_crop": CROP_CHOICES,
        }
        for name, allowed in checks.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(
                    f"feature_extraction.{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}"
                )
        if self.threads < 0:
            raise ConfigError(f"feature_extraction.threads must be >= 0, got {self.threads}")
        if self.batch_size < 1:
            raise ConfigError(f"feature_extraction.batch_size must be >= 1, got {self.batch_size}")

    def weight_free(self) -> bool:
        """Whether both chosen extractors are weight-free (cheap next to decoding)."""
        from acav.feature_extraction.base import extractor_class

        try:
            return all(
                extractor_class(name).weight_free for name in (self.visual_extractor, self.audio_extractor)
            )
        except ValueError:  # an unknown name: reported by the stage's own check
            return False

    def thread_plan(self, devices: int = 1, on_cpu: bool = True) -> ThreadPlan:
        """Decoding workers (DataLoader ``num_workers``, 0: decode in the main process) and threads
        of one device process: ``--threads`` divided by the devices, then shared by the workers and,
        on a CPU device, the models (:func:`acav.core.threads.plan_threads`).

        Auto (``--workers 0``): on a GPU the whole budget decodes (at most 8 workers). On a CPU
        with a network (SlowFast, VGGish) the main process decodes and the models get the whole
        budget: decoding is a few percent of a network's CPU time, and a network on fewer threads
        loses more than overlapping the decoding wins (benchmarks/README.md, "Threads under load":
        4 clips on 2 cores, 12.9 s wall with in-process decoding vs 17.2 s with a decoding worker).
        On a CPU with only weight-free extractors (decoding is most of the work) half the budget
        decodes in workers."""
        budget = max(1, thread_budget(self.threads) // max(1, devices))
        if self.workers < 0:
            workers = 0
        elif self.workers > 0:
            workers = self.workers
        elif on_cpu and not self.weight_free():
            workers = 0
        else:
            workers = decoding_workers(budget, main_computes=on_cpu)
        # auto at --threads 1 on a CPU still decodes in 1 worker (2 threads; --workers -1 for 1)
        return plan_threads(budget, workers, main_computes=on_cpu, warn=self.workers != 0)
