"""Model and input configuration: ``full`` is the original recipe, ``small`` runs on 2 CPU cores."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace


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
    num_workers: int = field(default=2, metadata={"help": "decoding workers per process"})
    seed: int = field(default=0, metadata={"help": "seed of initialisation, data order and augmentation"})
    device: str = field(
        default="auto", metadata={"help": "auto, cpu, cuda (torchrun sets the GPU per process)"}
    )
    log_every: int = field(default=50, metadata={"help": "log the loss every N steps"})
