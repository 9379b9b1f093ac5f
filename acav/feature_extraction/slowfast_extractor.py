"""``slowfast_r50``: SlowFast 8x8 ResNet-50 (Kinetics-400) layer features, the paper's visual extractor.

32 frames from the first to the last frame of the clip (``linspace``, as the original release;
``--slowfast-sampling midpoint`` takes segment midpoints), short side resized to 256 and
centre-cropped to 256 x 256 (``--slowfast-crop start``: the top/left crop of the original) in the
decoding workers; the model code (``models/slowfast.py``) normalises, builds the
slow pathway (alpha = 4) and returns stages s1..s5 pooled over time and space, both pathways
concatenated: widths 88, 352, 704, 1408, 2304.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from acav.feature_extraction.base import VISUAL, ClipError, Extractor, VisualInput, check_weights_present
from acav.feature_extraction.models.slowfast import (
    SLOWFAST_CROP,
    SLOWFAST_LAYER_WIDTHS,
    SLOWFAST_NUM_FRAMES,
    build_slowfast,
    slowfast_preprocess,
)


def stage_batch(tensors: list[torch.Tensor], device: torch.device) -> torch.Tensor:
    """Stack uint8 clips and move them to ``device``; through a pinned buffer (async copy) on CUDA."""
    if device.type == "cuda":
        staging = torch.empty((len(tensors), *tensors[0].shape), dtype=tensors[0].dtype, pin_memory=True)
        torch.stack(tensors, out=staging)
        return staging.to(device, non_blocking=True)
    return torch.stack(tensors).to(device)


class SlowFastExtractor(Extractor):
    key = "slowfast_r50"
    modality = VISUAL
    model_key = "layer_slow_fast"
    extractor_name = "SLOWFAST_8x8_R50"
    dataset = "kinetics-400"
    layer_widths = tuple(SLOWFAST_LAYER_WIDTHS)

    def input_spec(self) -> VisualInput:
        return VisualInput(
            num_frames=SLOWFAST_NUM_FRAMES,
            short_side=SLOWFAST_CROP,
            crop=SLOWFAST_CROP,
            sampling=self.options.extra.get("slowfast_sampling", "linspace"),
            crop_position=self.options.extra.get("slowfast_crop", "center"),
        )

    def prepare(self, data: np.ndarray) -> torch.Tensor:
        expected = (SLOWFAST_NUM_FRAMES, SLOWFAST_CROP, SLOWFAST_CROP, 3)
        if tuple(data.shape) != expected:
            raise ClipError(f"frames of shape {tuple(data.shape)}, expected {expected}")
        # A tensor crosses from the worker process through shared memory instead of a pipe.
        return torch.from_numpy(np.ascontiguousarray(data))

    def check_ready(self) -> None:
        check_weights_present(self.key, "slowfast_r50", self.options)

    def load(self, device: Any) -> None:
        self.device = torch.device(device)
        if self.device.type == "cuda":
            # Fixed input shapes: let cuDNN pick the fastest 3D convolution algorithms once.
            torch.backends.cudnn.benchmark = True
        self._model = build_slowfast(
            None,
            bool(self.options.allow_random_weights),
            self.device,
            weights_dir=self.options.weights_dir,
            pooling=self.options.extra.get("slowfast_pooling", "mean"),
        )

    @torch.inference_mode()
    def forward(self, prepared: list[torch.Tensor]) -> list[np.ndarray]:
        if self._model is None:
            raise RuntimeError("SlowFastExtractor.load(device) must be called before forward")
        frames = stage_batch(prepared, self.device)
        slow, fast = slowfast_preprocess(frames)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.use_autocast()):
            layers = self._model.forward_pooled(slow, fast)
        return [layer.float().cpu().numpy() for layer in layers]
