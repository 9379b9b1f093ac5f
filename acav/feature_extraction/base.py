"""The extractor interface and the registry of named extractors.

An extractor turns one decoded clip into five pooled feature vectors (``layer_0`` .. ``layer_4``).
Its work is split in two so that the heavy, per-clip CPU work runs in the DataLoader worker
processes and only the batched model call runs in the main process:

* :meth:`Extractor.input_spec` says what the decoder must deliver (frames at which size, or audio
  at which rate). It is a small picklable value that the worker processes read.
* :meth:`Extractor.prepare` runs in a worker on one decoded clip (e.g. VGGish log-mel examples, or
  all of a weight-free extractor's features). Raise :class:`ClipError` to reject the clip.
* :meth:`Extractor.load` builds the model on a device (main process only, once).
* :meth:`Extractor.forward` runs on a batch of prepared clips and returns, per layer, a float32
  array ``[batch, width]``.

Extractor objects are pickled into the worker processes before any model is loaded, and
``__getstate__`` drops a loaded model anyway, so a worker never holds (or touches) GPU memory.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from acav.core.decode import endpoint_indices, uniform_indices

SAMPLING_CHOICES = ("linspace", "midpoint")  # see VisualInput.sampling
CROP_CHOICES = ("center", "start")  # see VisualInput.crop_position
VISUAL = "visual"
AUDIO = "audio"


class ClipError(ValueError):
    """One clip cannot be used (no audio, too short, ...). The run records the reason and goes on."""


@dataclass(frozen=True)
class VisualInput:
    """What a visual extractor wants from the decoder.

    ``num_frames`` frames sampled uniformly over the clip, each resized so its short side is
    ``short_side`` and centre-cropped to ``crop`` x ``crop`` (when set), or resized to exactly
    ``size`` = (width, height) (aspect ratio not kept). Frames are uint8 RGB ``[T, H, W, 3]``.
    With ``pair_offset`` = k > 0, each sampled frame is followed by the frame k later, so
    ``T = 2 * num_frames`` (sampled, its successor, sampled, ...): short-term motion at a known
    frame distance, which widely spaced samples cannot show.

    ``sampling``: ``"midpoint"`` takes the middle frame of ``num_frames`` equal segments;
    ``"linspace"`` spreads them from the first frame to the last, both included (the original
    release's SlowFast input). ``crop_position``: ``"center"``, or ``"start"`` for the top/left
    crop (PySlowFast's ``spatial_idx=0``, what the original release used).
    """

    num_frames: int
    short_side: int | None = None
    crop: int | None = None
    size: tuple[int, int] | None = None
    pair_offset: int = 0
    sampling: str = "midpoint"
    crop_position: str = "center"

    def __post_init__(self) -> None:
        if self.sampling not in SAMPLING_CHOICES:
            raise ValueError(f"sampling must be one of {SAMPLING_CHOICES}, got {self.sampling!r}")
        if self.crop_position not in CROP_CHOICES:
            raise ValueError(f"crop_position must be one of {CROP_CHOICES}, got {self.crop_position!r}")

    def frame_indices(self, available: int) -> np.ndarray:
        """Which of ``available`` decoded frames fill the output, in output order."""
        spread = endpoint_indices if self.sampling == "linspace" else uniform_indices
        if self.pair_offset <= 0:
            return spread(available, self.num_frames)
        base = spread(max(1, available - self.pair_offset), self.num_frames)
        following = np.minimum(base + self.pair_offset, available - 1)
        return np.stack([base, following], axis=1).reshape(-1)


@dataclass(frozen=True)
class AudioInput:
    """Mono float32 audio resampled on decode to ``sample_rate``; clips shorter than ``min_seconds`` fail."""

    sample_rate: int
    min_seconds: float = 0.0


InputSpec = VisualInput | AudioInput


@dataclass
class ExtractorOptions:
    """Run-time options shared by all extractors (from the stage config)."""

    weights_dir: Path | None = None
    allow_random_weights: bool = False
    autocast: bool = True  # bf16 autocast on CUDA devices
    extra: dict[str, Any] = field(default_factory=dict)


class Extractor(ABC):
    """Base class; subclasses set the class attributes and implement ``input_spec`` and ``forward``."""

    key: ClassVar[str]  # registry name, e.g. "basic_visual"
    modality: ClassVar[str]  # VISUAL or AUDIO
    model_key: ClassVar[str]  # FORMATS.md "model_key", e.g. "layer_slow_fast"
    extractor_name: ClassVar[str]  # FORMATS.md "extractor_name"
    dataset: ClassVar[str]  # what the weights were trained on ("none" for weight-free)
    layer_widths: ClassVar[tuple[int, ...]]
    weight_free: ClassVar[bool] = False

    def __init__(self, options: ExtractorOptions | None = None) -> None:
        self.options = options or ExtractorOptions()
        self.device: Any = None
        self._model: Any = None

    # --- worker side -------------------------------------------------------------------------
    @abstractmethod
    def input_spec(self) -> InputSpec: ...

    def prepare(self, data: np.ndarray) -> Any:
        """Per-clip CPU work in a DataLoader worker; the default passes the decoded data through."""
        return data

    # --- main process ------------------------------------------------------------------------
    def check_ready(self) -> None:
        """Fail early (before any worker or device process starts) if :meth:`load` cannot work."""
        return None

    def load(self, device: Any) -> None:
        """Build the model on ``device`` (a ``torch.device``). Weight-free extractors only note it."""
        self.device = device

    @abstractmethod
    def forward(self, prepared: list[Any]) -> list[np.ndarray]:
        """Features of a batch: one float32 array ``[len(prepared), width]`` per layer."""

    # --- helpers -----------------------------------------------------------------------------
    @property
    def layer_names(self) -> list[str]:
        return [f"layer_{i}" for i in range(len(self.layer_widths))]

    def describe(self) -> dict[str, str]:
        """The per-model fields of a feature record (FORMATS.md section 4)."""
        return {"model_key": self.model_key, "extractor_name": self.extractor_name, "dataset": self.dataset}

    def use_autocast(self) -> bool:
        return bool(self.options.autocast) and getattr(self.device, "type", "cpu") == "cuda"

    def __getstate__(self) -> dict[str, Any]:
        # Never ship a loaded model (possibly on a GPU) to a worker process.
        state = dict(self.__dict__)
        state["_model"] = None
        state["device"] = None
        return state


class WeightFreeExtractor(Extractor):
    """An extractor whose features are computed entirely in :meth:`prepare` (no model, no weights).

    ``prepare`` returns the list of per-layer 1-D vectors; ``forward`` only stacks them, so all the
    work is spread over the DataLoader workers.
    """

    weight_free = True
    dataset = "none"

    @abstractmethod
    def compute(self, data: np.ndarray) -> list[np.ndarray]:
        """The five feature vectors of one decoded clip."""

    def prepare(self, data: np.ndarray) -> list[np.ndarray]:
        layers = self.compute(data)
        if len(layers) != len(self.layer_widths):
            raise AssertionError(f"{self.key}: {len(layers)} layers, expected {len(self.layer_widths)}")
        out = []
        for i, (vec, width) in enumerate(zip(layers, self.layer_widths, strict=True)):
            vec = np.asarray(vec, dtype=np.float32).reshape(-1)
            if vec.shape[0] != width:
                raise AssertionError(f"{self.key}: layer_{i} has width {vec.shape[0]}, expected {width}")
            # Degenerate input (e.g. an all-black clip) must not leak NaN into clustering.
            out.append(np.nan_to_num(vec, nan=0.0, posinf=0.0, neginf=0.0))
        return out

    def forward(self, prepared: list[list[np.ndarray]]) -> list[np.ndarray]:
        return [np.stack([clip[i] for clip in prepared]) for i in range(len(self.layer_widths))]


def check_weights_present(key: str, weights_name: str, options: ExtractorOptions) -> None:
    """Raise ``WeightsError`` with download instructions when the checkpoint file is missing.

    Only presence is checked here (cheap); the checksum is verified when the model loads.
    """
    from acav.feature_extraction.models.weights import (
        WeightsError,
        get_spec,
        how_to_get,
        resolve_path,
        weights_dir,
    )

    spec = get_spec(weights_name)
    path = resolve_path(spec, None, options.weights_dir)
    if not path.is_file() and not options.allow_random_weights:
        raise WeightsError(
            f"{key}: pretrained weights not found at {path}. {how_to_get(spec, weights_dir(options.weights_dir))}"
        )


# registry name -> (modality, module, class). Modules are imported only when chosen, so the
# weight-free pipeline never imports the model code.
REGISTRY: dict[str, tuple[str, str, str]] = {
    "slowfast_r50": (VISUAL, "acav.feature_extraction.slowfast_extractor", "SlowFastExtractor"),
    "basic_visual": (VISUAL, "acav.feature_extraction.basic_visual", "BasicVisualExtractor"),
    "vggish": (AUDIO, "acav.feature_extraction.vggish_extractor", "VGGishExtractor"),
    "basic_audio": (AUDIO, "acav.feature_extraction.basic_audio", "BasicAudioExtractor"),
}
VISUAL_EXTRACTORS = tuple(name for name, (mod, _, _) in REGISTRY.items() if mod == VISUAL)
AUDIO_EXTRACTORS = tuple(name for name, (mod, _, _) in REGISTRY.items() if mod == AUDIO)


def extractor_class(name: str) -> type[Extractor]:
    try:
        _, module_name, class_name = REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown extractor {name!r}; known: {', '.join(REGISTRY)}") from None
    return getattr(importlib.import_module(module_name), class_name)


def create_extractor(
    name: str, options: ExtractorOptions | None = None, modality: str | None = None
) -> Extractor:
    """A (not yet loaded) extractor by registry name; ``modality`` checks it is a visual/audio one."""
    cls = extractor_class(name)
    if modality is not None and cls.modality != modality:
        raise ValueError(f"extractor {name!r} is a {cls.modality} extractor, not a {modality} one")
    return cls(options)
