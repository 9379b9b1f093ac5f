"""Encoders and heads of the original's audio-visual pretraining (facts from its evaluation code).

- Visual: slow-only 3D ResNet. Stem 5x7x7 conv, stride 2 in time and space, BN, ReLU, 1x3x3
  max-pool (stride 1x2x2). Bottleneck stages res2..res5 with temporal kernels 1, 1, 3, 3 in their
  first 1x1 conv, spatial strides 1, 2, 2, 2, widths 4x, 8x, 16x, 32x the stem width (2048-d at 64).
- Audio: 2D ResNet on ``[1, mel, time]``. Stem: separable 9x1 then 1x9 convs, stride 1. Stages
  with stride 2 each; res2 and res3 use separable 3x1 + 1x3 middle convs, res4 and res5 3x3
  (1024-d at width 32).
- Heads: ``d -> d`` (no bias) + BatchNorm + ReLU + ``d -> projection``; outputs L2-normalised.

Pooling is global average pooling (the original's fixed pooling window equals it at the
configured input size). Parameter names are ours; :mod:`acav.evaluation.checkpoint` maps the
original release's names onto them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from acav.evaluation.config import ModelConfig

TEMPORAL_KERNELS = (1, 1, 3, 3)  # res2..res5
VISUAL_STRIDES = (1, 2, 2, 2)
AUDIO_SEPARABLE = (True, True, False, False)


class Bottleneck3d(nn.Module):
    def __init__(self, dim_in: int, dim_inner: int, dim_out: int, temporal: int, stride: int) -> None:
        super().__init__()
        self.conv_a = nn.Conv3d(
            dim_in, dim_inner, (temporal, 1, 1), padding=(temporal // 2, 0, 0), bias=False
        )
        self.bn_a = nn.BatchNorm3d(dim_inner)
        self.conv_b = nn.Conv3d(dim_inner, dim_inner, (1, 3, 3), (1, stride, stride), (0, 1, 1), bias=False)
        self.bn_b = nn.BatchNorm3d(dim_inner)
        self.conv_c = nn.Conv3d(dim_inner, dim_out, 1, bias=False)
        self.bn_c = nn.BatchNorm3d(dim_out)
        self.bn_c.final_bn = True  # zero-initialised (the block starts as the identity)
        if dim_in != dim_out or stride != 1:
            self.proj = nn.Conv3d(dim_in, dim_out, 1, (1, stride, stride), bias=False)
            self.proj_bn = nn.BatchNorm3d(dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = self.proj_bn(self.proj(x)) if hasattr(self, "proj") else x
        y = F.relu(self.bn_a(self.conv_a(x)))
        y = F.relu(self.bn_b(self.conv_b(y)))
        return F.relu(shortcut + self.bn_c(self.conv_c(y)))


class Bottleneck2d(nn.Module):
    def __init__(self, dim_in: int, dim_inner: int, dim_out: int, stride: int, separable: bool) -> None:
        super().__init__()
        self.conv_a = nn.Conv2d(dim_in, dim_inner, 1, bias=False)
        self.bn_a = nn.BatchNorm2d(dim_inner)
        if separable:
            self.conv_bf = nn.Conv2d(dim_inner, dim_inner, (3, 1), (stride, 1), (1, 0), bias=False)
            self.bn_bf = nn.BatchNorm2d(dim_inner)
            self.conv_bt = nn.Conv2d(dim_inner, dim_inner, (1, 3), (1, stride), (0, 1), bias=False)
            self.bn_bt = nn.BatchNorm2d(dim_inner)
        else:
            self.conv_b = nn.Conv2d(dim_inner, dim_inner, 3, stride, 1, bias=False)
            self.bn_b = nn.BatchNorm2d(dim_inner)
        self.conv_c = nn.Conv2d(dim_inner, dim_out, 1, bias=False)
        self.bn_c = nn.BatchNorm2d(dim_out)
        self.bn_c.final_bn = True
        if dim_in != dim_out or stride != 1:
            self.proj = nn.Conv2d(dim_in, dim_out, 1, stride, bias=False)
            self.proj_bn = nn.BatchNorm2d(dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = self.proj_bn(self.proj(x)) if hasattr(self, "proj") else x
        y = F.relu(self.bn_a(self.conv_a(x)))
        if hasattr(self, "conv_b"):
            y = F.relu(self.bn_b(self.conv_b(y)))
        else:
            y = F.relu(self.bn_bf(self.conv_bf(y)))
            y = F.relu(self.bn_bt(self.conv_bt(y)))
        return F.relu(shortcut + self.bn_c(self.conv_c(y)))


class VisualStem(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, width, (5, 7, 7), (2, 2, 2), (2, 3, 3), bias=False)
        self.bn = nn.BatchNorm3d(width)
        self.pool = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(F.relu(self.bn(self.conv(x))))


class AudioStem(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv_f = nn.Conv2d(1, width, (9, 1), padding=(4, 0), bias=False)
        self.bn_f = nn.BatchNorm2d(width)
        self.conv_t = nn.Conv2d(width, width, (1, 9), padding=(0, 4), bias=False)
        self.bn_t = nn.BatchNorm2d(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn_t(self.conv_t(F.relu(self.bn_f(self.conv_f(x))))))


def resnet_stages(
    width: int, blocks: tuple[int, ...], make_block: Callable[[int, bool, int, int, int], nn.Module]
) -> tuple[nn.Sequential, int]:
    """The ResNet-50 stage layout both encoders share: stage ``s`` has ``blocks[s]`` bottlenecks of
    inner width ``width * 2**s`` and output ``4x`` that; ``make_block(s, first, dim_in, inner, out)``
    builds one (``first``: the stage's first block, which changes the width and may stride).
    Returns the stages (parameter names ``stages.{s}.{i}``) and the output width."""
    stages, dim_in = [], width
    for s, count in enumerate(blocks):
        inner, out = width * 2**s, width * 4 * 2**s
        stage = [make_block(s, i == 0, dim_in if i == 0 else out, inner, out) for i in range(count)]
        stages.append(nn.Sequential(*stage))
        dim_in = out
    return nn.Sequential(*stages), dim_in


class VisualEncoder(nn.Module):
    """``[B, 3, T, H, W]`` normalised frames -> ``[B, 32 * width]``."""

    def __init__(self, width: int, blocks: tuple[int, ...]) -> None:
        super().__init__()
        self.stem = VisualStem(width)
        self.stages, self.output_size = resnet_stages(
            width,
            blocks,
            lambda s, first, dim_in, inner, out: Bottleneck3d(
                dim_in, inner, out, TEMPORAL_KERNELS[s], VISUAL_STRIDES[s] if first else 1
            ),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x)).mean(dim=(2, 3, 4))


class AudioEncoder(nn.Module):
    """``[B, 1, mel, time]`` log-mel spectrograms -> ``[B, 32 * width]``."""

    def __init__(self, width: int, blocks: tuple[int, ...]) -> None:
        super().__init__()
        self.stem = AudioStem(width)
        self.stages, self.output_size = resnet_stages(
            width,
            blocks,
            lambda s, first, dim_in, inner, out: Bottleneck2d(
                dim_in, inner, out, 2 if first else 1, AUDIO_SEPARABLE[s]
            ),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x)).mean(dim=(2, 3))


class ProjectionHead(nn.Module):
    """``d -> d`` + BatchNorm + ReLU + ``d -> projection`` (the original's FFN layer)."""

    def __init__(self, dim: int, projection: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, dim, bias=False)
        self.bn = nn.BatchNorm1d(dim)
        self.fc2 = nn.Linear(dim, projection)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.relu(self.bn(self.fc1(x))))


class AudioVisualModel(nn.Module):
    """Both encoders and their projection heads; ``forward`` returns L2-normalised embeddings."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.visual = VisualEncoder(config.visual_width, config.visual_blocks)
        self.audio = AudioEncoder(config.audio_width, config.audio_blocks)
        self.visual_head = ProjectionHead(self.visual.output_size, config.projection)
        self.audio_head = ProjectionHead(self.audio.output_size, config.projection)
        init_weights(self)

    def forward(self, frames: torch.Tensor, spectrogram: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v = F.normalize(self.visual_head(self.visual(frames)), dim=-1)
        a = F.normalize(self.audio_head(self.audio(spectrogram)), dim=-1)
        return v, a


def init_weights(model: nn.Module, fc_std: float = 0.01) -> None:
    """As the original: He-normal convs, BN weight 1 (0 for a block's last BN), linear N(0, 0.01)."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Conv3d)):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
            nn.init.constant_(module.weight, 0.0 if getattr(module, "final_bn", False) else 1.0)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=fc_std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def info_nce(v: torch.Tensor, a: torch.Tensor, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric cross-modal InfoNCE: each visual embedding must pick its own clip's audio among all
    audio embeddings of the global batch (gathered over processes when distributed), and vice versa.

    Returns ``(loss, accuracy)``; the loss is the mean of the two directions' cross-entropies.
    """
    batch = v.shape[0]
    offset = 0
    v_all, a_all = v, a
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        world = torch.distributed.get_world_size()
        if world > 1:
            from torch.distributed.nn.functional import all_gather

            v_all = torch.cat(all_gather(v), dim=0)  # differentiable: gradients reach every process
            a_all = torch.cat(all_gather(a), dim=0)
            offset = torch.distributed.get_rank() * batch
    labels = torch.arange(batch, device=v.device) + offset
    logits_va = v @ a_all.T / temperature
    logits_av = a @ v_all.T / temperature
    loss = (F.cross_entropy(logits_va, labels) + F.cross_entropy(logits_av, labels)) / 2
    correct = (logits_va.argmax(1) == labels).float().mean() + (logits_av.argmax(1) == labels).float().mean()
    return loss, correct / 2
