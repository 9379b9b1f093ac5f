"""VGGish, our own torch implementation (the AudioSet audio embedding network).

Input: log-mel examples ``[N, 1, 96, 64]`` (time x mel band) from :mod:`.vggish_input`.
Four conv blocks (3x3 convs + ReLU, each block closed by a 2x2/2 max-pool)::

    block 1: conv 64                 -> pool    [N, 64, 48, 32]
    block 2: conv 128                -> pool    [N, 128, 24, 16]
    block 3: conv 256, conv 256      -> pool    [N, 256, 12, 8]
    block 4: conv 512, conv 512      -> pool    [N, 512, 6, 4]

then the embedding MLP over the flattened (time, band, channel)-ordered map:
``12288 -> 4096 -> 4096 -> 128``, each Linear followed by ReLU.

The five feature layers (``VGGISH_LAYER_WIDTHS`` = 64, 128, 256, 512, 128) are the outputs of the
four blocks (after their max-pool) averaged over time and frequency, and the 128-d embedding
*before* PCA whitening and 8-bit quantisation. As in torchvggish (and the ACAV100M release,
which used torchvggish), the embedding is taken after the last layer's ReLU, so it is
non-negative. The pipeline averages each layer over a clip's examples.

Parameter names mirror torchvggish's ``VGG`` (``features.{0,3,6,8,11,13}``,
``embeddings.{0,2,4}``), so ``vggish-10086976.pth`` loads with ``strict=True`` and no mapping.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from acav.feature_extraction.models.vggish_input import (  # noqa: F401  (re-exported for the pipeline)
    EXAMPLE_FRAMES,
    NUM_MEL_BANDS,
    VGGISH_SAMPLE_RATE,
    waveform_to_examples,
)

VGGISH_LAYER_WIDTHS = (64, 128, 256, 512, 128)
_BLOCKS = ((64,), (128,), (256, 256), (512, 512))
EMBEDDING_SIZE = 128


class VGGish(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        # Index of the last layer (the max-pool) of each block inside ``features``.
        self._block_ends: list[int] = []
        in_channels = 1
        for widths in _BLOCKS:
            for width in widths:
                layers += [nn.Conv2d(in_channels, width, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                in_channels = width
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            self._block_ends.append(len(layers) - 1)
        self.features = nn.Sequential(*layers)
        final_h, final_w = EXAMPLE_FRAMES // 16, NUM_MEL_BANDS // 16
        self.embeddings = nn.Sequential(
            nn.Linear(in_channels * final_h * final_w, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, EMBEDDING_SIZE),
            nn.ReLU(inplace=True),
        )

    def _embed(self, x: Tensor) -> Tensor:
        # The TensorFlow original flattens in (time, band, channel) order; keep it so the weights fit.
        return self.embeddings(x.permute(0, 2, 3, 1).reshape(x.shape[0], -1))

    def forward(self, examples: Tensor) -> Tensor:
        """The 128-d embedding (after ReLU, before PCA) per example: ``[N, 128]``."""
        return self._embed(self.features(examples))

    def forward_pooled(self, examples: Tensor) -> list[Tensor]:
        """Five float32 tensors ``[N, width]`` per example: blocks 1-4 pooled over time-frequency, embedding."""
        if examples.dim() != 4 or tuple(examples.shape[1:]) != (1, EXAMPLE_FRAMES, NUM_MEL_BANDS):
            raise ValueError(
                f"expected examples [N, 1, {EXAMPLE_FRAMES}, {NUM_MEL_BANDS}], got {tuple(examples.shape)}"
            )
        layers = []
        x = examples
        start = 0
        for end in self._block_ends:
            x = self.features[start : end + 1](x)
            layers.append(x.mean(dim=(2, 3), dtype=torch.float32))
            start = end + 1
        layers.append(self._embed(x).float())
        return layers


def build_vggish(
    weights: str | Path | None,
    allow_random: bool,
    device: torch.device | str = "cpu",
    *,
    weights_dir: str | Path | None = None,
    channels_last: bool = True,
) -> VGGish:
    """VGGish in eval mode on ``device`` with torchvggish's weights (see :func:`..slowfast.build_slowfast`).

    The conv weights use the channels-last layout (about 1.4x faster on CPU here; a 1-channel input
    needs no conversion).
    """
    from acav.feature_extraction.models.weights import load_model_weights

    model = VGGish()
    load_model_weights(model, "vggish", weights, allow_random=allow_random, weights_dir=weights_dir)
    model = model.eval().to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    for param in model.parameters():
        param.requires_grad_(False)
    return model
