"""``vggish``: VGGish (AudioSet / YouTube-8M) layer features, the paper's audio extractor.

16 kHz mono audio (resampled on decode) is cut into non-overlapping 0.96 s log-mel examples
(96 x 64) in the decoding workers; the network gives the four conv blocks pooled over
time-frequency and the 128-d embedding (before PCA) per example, and each layer is averaged over
the clip's examples: widths 64, 128, 256, 512, 128.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from acav.feature_extraction.base import AUDIO, AudioInput, ClipError, Extractor, check_weights_present
from acav.feature_extraction.models.vggish import VGGISH_LAYER_WIDTHS, build_vggish
from acav.feature_extraction.models.vggish_input import MIN_SAMPLES, VGGISH_SAMPLE_RATE, waveform_to_examples


class VGGishExtractor(Extractor):
    key = "vggish"
    modality = AUDIO
    model_key = "layer_vggish"
    extractor_name = "VGGish"
    dataset = "YouTube-8M"
    layer_widths = tuple(VGGISH_LAYER_WIDTHS)

    def input_spec(self) -> AudioInput:
        return AudioInput(sample_rate=VGGISH_SAMPLE_RATE, min_seconds=MIN_SAMPLES / VGGISH_SAMPLE_RATE)

    def prepare(self, data: np.ndarray) -> np.ndarray:
        examples = waveform_to_examples(data, VGGISH_SAMPLE_RATE)
        if examples.shape[0] == 0:
            raise ClipError(
                f"audio too short for one 0.96 s VGGish example ({data.shape[0] / VGGISH_SAMPLE_RATE:.3f} s)"
            )
        return examples

    def check_ready(self) -> None:
        check_weights_present(self.key, "vggish", self.options)

    def load(self, device: Any) -> None:
        self.device = torch.device(device)
        self._model = build_vggish(
            None, bool(self.options.allow_random_weights), self.device, weights_dir=self.options.weights_dir
        )

    @torch.inference_mode()
    def forward(self, prepared: list[np.ndarray]) -> list[np.ndarray]:
        if self._model is None:
            raise RuntimeError("VGGishExtractor.load(device) must be called before forward")
        counts = torch.tensor([p.shape[0] for p in prepared])
        examples = torch.from_numpy(np.concatenate(prepared)).unsqueeze(1)  # [N, 1, 96, 64]
        if self.device.type == "cuda":
            examples = examples.pin_memory()
        examples = examples.to(self.device, non_blocking=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.use_autocast()):
            layers = self._model.forward_pooled(examples)
        # Mean over each clip's examples: sum with index_add_, divide by the counts.
        owner = torch.repeat_interleave(torch.arange(len(prepared)), counts).to(self.device)
        out = []
        for layer in layers:
            sums = torch.zeros((len(prepared), layer.shape[1]), dtype=torch.float32, device=self.device)
            sums.index_add_(0, owner, layer.float())
            out.append((sums / counts.to(self.device, torch.float32)[:, None]).cpu().numpy())
        return out
