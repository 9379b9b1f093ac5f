"""Model and input configuration: ``full`` is the original recipe, ``small`` runs on 2 CPU cores."""

from __future__ import annotations

from dataclasses import InitVar, asdict, dataclass, field, replace

from acav.core.config import ConfigError, deprecated
from acav.core.threads import ThreadPlan, decoding_workers, plan_threads, thread_budget


@dataclass(frozen=True)
class ModelConfig:
    # visual encoder: slow-only 3D ResNet (bottleneck blocks)
    visual_width: int = 64  # channels of the stem; stage outputs are 4, 8, 16, 32 x this
    visual_blocks: tuple[int, int, int, int] = (3, 4, 6, 3)  # ResNet-50
    # audio encoder: 2D ResNet on log-mel spectrograms
    audio_width: int = 32
    audio_blocks: tuple[int, int, int, int] = (3, 4, 6, 3)
    projection: int = 128
    temperature: float = 0.1
    # visual input
    num_frames: int = 32
    sampling_rate: int = 2  # take every 2nd frame at target_fps
    target_fps: float = 30.0
    crop: int = 224
    jitter: tuple[int, int] = (256, 320)  # short side, chosen uniformly per clip at training
    test_short_side: int = 256
    mean: float = 0.45
    std: float = 0.225
    # audio input
    sample_rate: int = 44100
    mel_bins: int = 80
    audio_time: int = 128
    frequency_mask_rate: float = 0.05
    time_mask_rate: float = 0.05

    @property
    def visual_dim(self) -> int:
        return self.visual_width * 32

    @property
    def audio_dim(self) -> int:
        return self.audio_width * 32

    @property
    def clip_seconds(self) -> float:
        """Length of the visual window (the audio window is the same span)."""
        return self.num_frames * self.sampling_rate / self.target_fps

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ModelConfig:
        tuples = {k: tuple(v) for k, v in values.items() if isinstance(v, list)}
        return cls(**{**values, **tuples})


FULL = ModelConfig()
# Same code, scaled down: one block per stage, narrow, 8 frames of 64x64, 40 mel bands x 64 steps.
SMALL = replace(
    FULL,
    visual_width=8,
    visual_blocks=(1, 1, 1, 1),
    audio_width=8,
    audio_blocks=(1, 1, 1, 1),
    projection=32,
    num_frames=8,
    sampling_rate=2,
    target_fps=15.0,
    crop=64,
    jitter=(72, 88),
    test_short_side=72,
    sample_rate=16000,
    mel_bins=40,
    audio_time=64,
)
PRESETS = {"full": FULL, "small": SMALL}


@dataclass
class PretrainConfig:
    """Options of ``acav evaluate pretrain`` (config section ``evaluation``)."""

    model: str = field(default="full", metadata={"help": "model size: full (the paper's) or small (CPU)"})
    steps: int = field(default=50000, metadata={"help": "optimiser steps in total"})
    batch_size: int = field(default=64, metadata={"help": "global batch size (split over the processes)"})
    lr: float = field(default=1e-3, metadata={"help": "peak learning rate (AdamW, amsgrad)"})
    weight_decay: float = field(
        default=1e-5, metadata={"help": "weight decay (none on BatchNorm and biases)"}
    )
    warmup_steps: int = field(default=2000, metadata={"help": "linear warm-up steps, then linear decay to 0"})
    checkpoint_every: int = field(default=500, metadata={"help": "save a checkpoint every N steps"})
    shuffle_buffer: int = field(default=256, metadata={"help": "samples in the shuffle buffer"})
    workers: int = field(
        default=0,
        metadata={
            "help": "decoding processes (DataLoader workers) per training process; 0 = auto (as acav extract: "
            "half the process's --threads on a CPU, all of it on a GPU, at most 8); -1 decodes in the training process",
            # the former --num-workers: 0 was the training process (now -1)
            **deprecated("num_workers", lambda old: {0: -1}.get(int(old), int(old))),
        },
    )
    threads: int = field(
        default=0,
        metadata={
            "help": "CPU threads in all (0: every available core), divided by the training processes on this "
            "machine, then shared by the decoding workers and, on a CPU, the model (docs/OPTIONS.md)"
        },
    )
    seed: int = field(default=0, metadata={"help": "seed of initialisation, data order and augmentation"})
    device: str = field(
        default="auto", metadata={"help": "auto, cpu, cuda (torchrun sets the GPU per process)"}
    )
    log_every: int = field(default=50, metadata={"help": "log the loss every N steps"})
    # the deprecated keyword of the constructor (PretrainConfig(num_workers=0)); see ``workers``
    num_workers: InitVar[int | None] = None

    def __post_init__(self, num_workers: int | None = None) -> None:
        if num_workers is not None:
            self.workers = {0: -1}.get(int(num_workers), int(num_workers))
        if self.threads < 0:
            raise ConfigError(
                f"evaluation.threads must be >= 0 (0: every available core), got {self.threads}"
            )

    def thread_plan(self, processes: int, on_cpu: bool) -> ThreadPlan:
        """Decoding workers and threads of one of ``processes`` training processes on this machine
        (:func:`acav.core.threads.plan_threads`; auto workers as stage 4's)."""
        budget = max(1, thread_budget(self.threads) // max(1, processes))
        if self.workers < 0:
            workers = 0
        else:
            workers = self.workers or decoding_workers(budget, main_computes=on_cpu)
        # auto at --threads 1 on a CPU still decodes in 1 worker (2 threads; --workers -1 for 1)
        return plan_threads(budget, workers, main_computes=on_cpu, warn=self.workers != 0)
