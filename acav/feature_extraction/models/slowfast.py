"""SlowFast 8x8 R50 (Kinetics-400), our own torch implementation, and its input preprocessing.

Architecture (Feichtenhofer et al., "SlowFast Networks for Video Recognition", ICCV 2019), as
configured by pytorchvideo's ``slowfast_r50`` and PySlowFast's ``SLOWFAST_8x8_R50``:

* Fast pathway: 32 frames, beta = 1/8 of the slow channels. Slow pathway: 8 frames (alpha = 4).
* Stem per pathway: conv (slow 1x7x7, fast 5x7x7; stride 1x2x2) -> BN -> ReLU -> max-pool 1x3x3/2.
* Four ResNet-50 bottleneck stages (3, 4, 6, 3 blocks); the slow pathway's temporal kernels are
  1 in res2/res3 and 3 in res4/res5, the fast pathway's are 3 everywhere; spatial stride 2 in the
  first block of res3..res5. No temporal striding anywhere.
* Lateral fusion after the stem and after res2..res4: the fast features go through a 7x1x1 conv
  with temporal stride 4 (2x the fast channels) -> BN -> ReLU and are concatenated to the slow ones.

The five feature layers ("s1".."s5", ``SLOWFAST_LAYER_WIDTHS``) are the outputs of the stem and
of the four stages *after* their lateral fusion, each averaged over time and space per pathway and
concatenated slow + fast::

    layer   slow channels (after fusion)        fast   width
    s1      64 (stem)   + 2*8   = 80             8      88
    s2      256 (res2)  + 2*32  = 320            32     352
    s3      512 (res3)  + 2*64  = 640            64     704
    s4      1024 (res4) + 2*128 = 1280           128    1408
    s5      2048 (res5; no fusion after it)      256    2304

This is the same set of tensors the ACAV100M release pooled (PySlowFast's ``s1_fuse``,
``s2_fuse`` (+ its identity pathway pool), ``s3_fuse``, ``s4_fuse``, ``s5``).

The module tree mirrors the parameter names of pytorchvideo's ``create_slowfast`` so that its
Kinetics-400 checkpoint (``SLOWFAST_8x8_R50.pyth``, key ``model_state``) loads with
``strict=True`` and no key mapping: ``blocks.0`` stem + fusion, ``blocks.1..4`` res2..res5,
``blocks.5`` the head's per-pathway pooling (no parameters), ``blocks.6.proj`` the classifier.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from acav.core.logs import get_logger

log = get_logger(__name__)

SLOWFAST_NUM_FRAMES = 32  # frames fed to the fast pathway
SLOWFAST_ALPHA = 4  # fast/slow frame-rate ratio: the slow pathway sees 32 // 4 = 8 frames
# Test-time spatial size of PySlowFast's SLOWFAST_8x8_R50 config (TEST_CROP_SIZE 256) and of
# pytorchvideo's hub example for slowfast_r50 (side_size 256, crop_size 256): the decoder scales
# the short side to 256 and we crop the centre 256x256.
SLOWFAST_CROP = 256
SLOWFAST_MEAN = (0.45, 0.45, 0.45)  # Kinetics normalisation of PySlowFast / pytorchvideo, RGB in [0, 1]
SLOWFAST_STD = (0.225, 0.225, 0.225)
SLOWFAST_LAYER_WIDTHS = (88, 352, 704, 1408, 2304)
SLOWFAST_NUM_CLASSES = 400

_SLOW_STEM, _FAST_STEM = 64, 8  # stem widths; the fast pathway has 1/8 of the slow channels
_BETA_INV = 8
_FUSION_RATIO = 2  # the fusion conv doubles the fast channels before concatenation
_DEPTHS = (3, 4, 6, 3)
_SLOW_TEMPORAL_KERNELS = (1, 1, 3, 3)
_FAST_TEMPORAL_KERNELS = (3, 3, 3, 3)
_SPATIAL_STRIDES = (1, 2, 2, 2)
_HEAD_POOL_KERNELS = ((8, 7, 7), (32, 7, 7))  # head AvgPool3d (stride 1) of the reference, per pathway

POOLING_CHOICES = ("mean", "acav100m")
# (conv, BatchNorm) attribute pairs that follow each other directly; fuse_batchnorm() folds them.
_CONV_NORM_PAIRS = (
    ("conv", "norm"),
    ("conv_a", "norm_a"),
    ("conv_b", "norm_b"),
    ("conv_c", "norm_c"),
    ("branch1_conv", "branch1_norm"),
    ("conv_fast_to_slow", "norm"),
)


def _bn(channels: int) -> nn.BatchNorm3d:
    return nn.BatchNorm3d(channels, eps=1e-5, momentum=0.1)


class _Stem(nn.Module):
    """conv -> BN -> ReLU -> 1x3x3 max-pool (stride 1x2x2)."""

    def __init__(self, out_channels: int, temporal_kernel: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(
            3,
            out_channels,
            kernel_size=(temporal_kernel, 7, 7),
            stride=(1, 2, 2),
            padding=(temporal_kernel // 2, 3, 3),
            bias=False,
        )
        self.norm = _bn(out_channels)
        self.activation = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(self.activation(self.norm(self.conv(x))))


class _Bottleneck(nn.Module):
    """Tx1x1 conv -> BN -> ReLU -> 1x3x3 conv (spatial stride) -> BN -> ReLU -> 1x1x1 conv -> BN."""

    def __init__(self, dim_in: int, dim_inner: int, dim_out: int, temporal_kernel: int, stride: int) -> None:
        super().__init__()
        self.conv_a = nn.Conv3d(
            dim_in,
            dim_inner,
            kernel_size=(temporal_kernel, 1, 1),
            padding=(temporal_kernel // 2, 0, 0),
            bias=False,
        )
        self.norm_a = _bn(dim_inner)
        self.act_a = nn.ReLU(inplace=True)
        self.conv_b = nn.Conv3d(
            dim_inner,
            dim_inner,
            kernel_size=(1, 3, 3),
            stride=(1, stride, stride),
            padding=(0, 1, 1),
            bias=False,
        )
        self.norm_b = _bn(dim_inner)
        self.act_b = nn.ReLU(inplace=True)
        self.conv_c = nn.Conv3d(dim_inner, dim_out, kernel_size=1, bias=False)
        self.norm_c = _bn(dim_out)

    def forward(self, x: Tensor) -> Tensor:
        x = self.act_a(self.norm_a(self.conv_a(x)))
        x = self.act_b(self.norm_b(self.conv_b(x)))
        return self.norm_c(self.conv_c(x))


class _ResBlock(nn.Module):
    """ReLU(shortcut(x) + bottleneck(x)); the shortcut is a strided 1x1x1 conv + BN where shapes change."""

    def __init__(self, dim_in: int, dim_inner: int, dim_out: int, temporal_kernel: int, stride: int) -> None:
        super().__init__()
        if dim_in != dim_out or stride != 1:
            self.branch1_conv: nn.Module | None = nn.Conv3d(
                dim_in, dim_out, kernel_size=1, stride=(1, stride, stride), bias=False
            )
            self.branch1_norm: nn.Module | None = _bn(dim_out)
        else:
            self.branch1_conv = None
            self.branch1_norm = None
        self.branch2 = _Bottleneck(dim_in, dim_inner, dim_out, temporal_kernel, stride)
        self.activation = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.branch1_conv is None else self.branch1_norm(self.branch1_conv(x))
        return self.activation(shortcut + self.branch2(x))


class _ResStage(nn.Module):
    def __init__(
        self, depth: int, dim_in: int, dim_inner: int, dim_out: int, temporal_kernel: int, stride: int
    ) -> None:
        super().__init__()
        self.res_blocks = nn.ModuleList(
            _ResBlock(
                dim_in if i == 0 else dim_out, dim_inner, dim_out, temporal_kernel, stride if i == 0 else 1
            )
            for i in range(depth)
        )

    def forward(self, x: Tensor) -> Tensor:
        for block in self.res_blocks:
            x = block(x)
        return x


class _FastToSlowFusion(nn.Module):
    """Lateral connection: fast -> 7x1x1 conv, temporal stride alpha -> BN -> ReLU, concatenated to slow."""

    def __init__(self, fast_channels: int) -> None:
        super().__init__()
        out = fast_channels * _FUSION_RATIO
        self.conv_fast_to_slow = nn.Conv3d(
            fast_channels,
            out,
            kernel_size=(7, 1, 1),
            stride=(SLOWFAST_ALPHA, 1, 1),
            padding=(3, 0, 0),
            bias=False,
        )
        self.norm = _bn(out)
        self.activation = nn.ReLU(inplace=True)

    def forward(self, slow: Tensor, fast: Tensor) -> tuple[Tensor, Tensor]:
        lateral = self.activation(self.norm(self.conv_fast_to_slow(fast)))
        return torch.cat([slow, lateral], dim=1), fast


class _TwoPathwayStage(nn.Module):
    """One block per pathway, then an optional fast-to-slow fusion (absent after res5)."""

    def __init__(self, slow: nn.Module, fast: nn.Module, fusion: _FastToSlowFusion | None) -> None:
        super().__init__()
        self.multipathway_blocks = nn.ModuleList([slow, fast])
        self.multipathway_fusion = fusion

    def forward(self, slow: Tensor, fast: Tensor) -> tuple[Tensor, Tensor]:
        slow = self.multipathway_blocks[0](slow)
        fast = self.multipathway_blocks[1](fast)
        if self.multipathway_fusion is not None:
            slow, fast = self.multipathway_fusion(slow, fast)
        return slow, fast


class _HeadPool(nn.Module):
    """The reference head's pooling: AvgPool3d (stride 1) per pathway, then channel concatenation."""

    def forward(self, slow: Tensor, fast: Tensor) -> Tensor:
        pooled = [
            F.avg_pool3d(x, kernel_size=k, stride=1)
            for x, k in zip((slow, fast), _HEAD_POOL_KERNELS, strict=True)
        ]
        return torch.cat(pooled, dim=1)


class _HeadProjection(nn.Module):
    """Linear classifier over every pooled position, then the mean over positions (Kinetics logits)."""

    def __init__(self, in_features: int, num_classes: int) -> None:
        super().__init__()
        self.proj = nn.Linear(in_features, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.proj(x.permute(0, 2, 3, 4, 1))
        return x.mean(dim=(1, 2, 3))


class SlowFastR50(nn.Module):
    """SlowFast 8x8 ResNet-50. ``forward`` gives Kinetics-400 logits; ``forward_pooled`` the 5 layers.

    ``pooling`` chooses how a stage output becomes a vector: ``"mean"`` (default) is the global
    average over time and space the issue specifies; ``"acav100m"`` reproduces the original
    ACAV100M extractor exactly, which first applied the classifier head's AvgPool3d (kernel T x 7 x 7,
    stride 1) to every stage and then averaged the windows (border positions weigh a little less).
    """

    def __init__(self, num_classes: int = SLOWFAST_NUM_CLASSES, pooling: str = "mean") -> None:
        super().__init__()
        if pooling not in POOLING_CHOICES:
            raise ValueError(f"pooling must be one of {POOLING_CHOICES}, got {pooling!r}")
        self.pooling = pooling
        stages: list[nn.Module] = [
            _TwoPathwayStage(_Stem(_SLOW_STEM, 1), _Stem(_FAST_STEM, 5), _FastToSlowFusion(_FAST_STEM))
        ]
        slow_in, fast_in = _SLOW_STEM + _SLOW_STEM * _FUSION_RATIO // _BETA_INV, _FAST_STEM
        slow_out = _SLOW_STEM * 4
        for idx, depth in enumerate(_DEPTHS):
            fast_out = slow_out // _BETA_INV
            slow_stage = _ResStage(
                depth, slow_in, slow_out // 4, slow_out, _SLOW_TEMPORAL_KERNELS[idx], _SPATIAL_STRIDES[idx]
            )
            fast_stage = _ResStage(
                depth, fast_in, fast_out // 4, fast_out, _FAST_TEMPORAL_KERNELS[idx], _SPATIAL_STRIDES[idx]
            )
            last = idx == len(_DEPTHS) - 1
            stages.append(
                _TwoPathwayStage(slow_stage, fast_stage, None if last else _FastToSlowFusion(fast_out))
            )
            slow_in = slow_out + (0 if last else fast_out * _FUSION_RATIO)
            fast_in = fast_out
            slow_out *= 2
        stages.append(_HeadPool())
        stages.append(_HeadProjection(slow_in + fast_in, num_classes))
        self.blocks = nn.ModuleList(stages)

    def fuse_batchnorm(self) -> SlowFastR50:
        """Fold every eval-mode BatchNorm into the conv before it (inference only; in place).

        Saves one memory pass per conv at inference; the outputs stay equal to float tolerance.
        Afterwards the module no longer has the checkpoint's key layout, so load weights first.
        """
        if self.training:
            raise RuntimeError("fuse_batchnorm() is for inference: call model.eval() first")
        for module in self.modules():
            for conv_name, norm_name in _CONV_NORM_PAIRS:
                conv, norm = getattr(module, conv_name, None), getattr(module, norm_name, None)
                if isinstance(conv, nn.Conv3d) and isinstance(norm, nn.BatchNorm3d):
                    setattr(module, conv_name, fuse_conv_bn_eval(conv, norm))
                    setattr(module, norm_name, nn.Identity())
        return self

    def forward_stages(self, slow: Tensor, fast: Tensor) -> list[tuple[Tensor, Tensor]]:
        """The (slow, fast) outputs of s1..s5, after each lateral fusion; unpooled ``[B, C, T, H, W]``."""
        outputs = []
        for stage in self.blocks[:5]:
            slow, fast = stage(slow, fast)
            outputs.append((slow, fast))
        return outputs

    def forward(self, slow: Tensor, fast: Tensor) -> Tensor:
        """Kinetics-400 logits ``[B, 400]`` (no softmax), as pytorchvideo's model returns them."""
        slow, fast = self.forward_stages(slow, fast)[-1]
        return self.blocks[6](self.blocks[5](slow, fast))

    def forward_pooled(self, slow: Tensor, fast: Tensor, pooling: str | None = None) -> list[Tensor]:
        """Five float32 tensors ``[B, width]`` (``SLOWFAST_LAYER_WIDTHS``): s1..s5 pooled, slow then fast.

        ``slow`` is ``[B, 3, 8, H, W]`` and ``fast`` ``[B, 3, 32, H, W]`` from :func:`slowfast_preprocess`.
        Works under ``torch.autocast``; the pooling accumulates in float32 either way.
        """
        pooling = pooling or self.pooling
        if pooling not in POOLING_CHOICES:
            raise ValueError(f"pooling must be one of {POOLING_CHOICES}, got {pooling!r}")
        layers = []
        for slow_out, fast_out in self.forward_stages(slow, fast):
            parts = [
                _pool(x, k, pooling) for x, k in zip((slow_out, fast_out), _HEAD_POOL_KERNELS, strict=True)
            ]
            layers.append(torch.cat(parts, dim=1))
        return layers


def _pool(x: Tensor, head_kernel: Sequence[int], pooling: str) -> Tensor:
    if pooling == "acav100m":
        # The original extractor used the head's AvgPool3d on every stage; the kernel is clamped to
        # the map size so small test inputs still work (at the real sizes it is never clamped).
        kernel = [min(k, s) for k, s in zip(head_kernel, x.shape[2:], strict=True)]
        x = F.avg_pool3d(x.float(), kernel_size=kernel, stride=1)
    return x.mean(dim=(2, 3, 4), dtype=torch.float32)


def slow_pathway_indices(num_frames: int, alpha: int = SLOWFAST_ALPHA) -> Tensor:
    """Which of the ``num_frames`` fast frames the slow pathway sees.

    PySlowFast's and pytorchvideo's ``PackPathway`` take ``linspace(0, T - 1, T // alpha)``
    truncated to integers; for T = 32 that is 0, 4, 8, 13, 17, 22, 26, 31 (not exactly every 4th
    frame). The pretrained weights were trained and tested with this choice, so we keep it.
    """
    return torch.linspace(0, num_frames - 1, num_frames // alpha).long()


def slowfast_preprocess(
    frames: Tensor, crop: int = SLOWFAST_CROP, crop_position: str = "center"
) -> tuple[Tensor, Tensor]:
    """uint8 frames ``[B, T, H, W, 3]`` (short side already ``crop``) -> (slow, fast) model inputs.

    Crops ``crop x crop`` (centre by default; ``crop_position="start"`` takes the top/left crop,
    which is what PySlowFast's ``spatial_idx=0`` in the ACAV100M release did), scales to [0, 1],
    normalises with the Kinetics mean/std and returns float32 ``[B, 3, T, H, W]`` tensors on the
    frames' device. The result keeps the channels-last-3d memory layout of the input, which is the
    fast layout for 3D convolutions, so no copy is made beyond the float conversion.
    """
    if frames.dim() != 5 or frames.shape[-1] != 3:
        raise ValueError(f"expected uint8 frames [B, T, H, W, 3], got shape {tuple(frames.shape)}")
    _, t, h, w, _ = frames.shape
    if h < crop or w < crop:
        raise ValueError(
            f"frames are {h}x{w}; both sides must be >= the {crop} crop (resize the short side first)"
        )
    if crop_position == "center":
        # Rounded up, as PySlowFast's uniform_crop does for the centre crop.
        top, left = (h - crop + 1) // 2, (w - crop + 1) // 2
    elif crop_position == "start":
        top, left = 0, 0
    else:
        raise ValueError(f"crop_position must be 'center' or 'start', got {crop_position!r}")
    frames = frames[:, :, top : top + crop, left : left + crop, :]
    mean = torch.tensor(SLOWFAST_MEAN, device=frames.device, dtype=torch.float32)
    std = torch.tensor(SLOWFAST_STD, device=frames.device, dtype=torch.float32)
    # (x / 255 - mean) / std as one affine map: x * scale + shift.
    scale = 1.0 / (255.0 * std)
    shift = -mean / std
    fast = torch.addcmul(shift, frames.to(torch.float32), scale)
    fast = fast.permute(0, 4, 1, 2, 3)  # [B, 3, T, H, W], strides of channels_last_3d
    slow = fast.index_select(2, slow_pathway_indices(t).to(frames.device))
    return slow.contiguous(memory_format=torch.channels_last_3d), fast.contiguous(
        memory_format=torch.channels_last_3d
    )


def build_slowfast(
    weights: str | Path | None,
    allow_random: bool,
    device: torch.device | str = "cpu",
    *,
    weights_dir: str | Path | None = None,
    pooling: str = "mean",
    channels_last: bool = True,
    fuse_batchnorm: bool = True,
) -> SlowFastR50:
    """The model in eval mode on ``device``, with the Kinetics-400 weights.

    ``weights``: a checkpoint file, or ``None`` to use ``SLOWFAST_8x8_R50.pyth`` from
    ``weights_dir`` / ``$ACAV_WEIGHTS_DIR`` / ``~/.cache/acav/weights``. A missing file raises
    :class:`~acav.feature_extraction.models.weights.WeightsError` saying how to get it, unless
    ``allow_random`` (then the model keeps random weights and a loud warning is logged). A file
    whose checksum does not match is always an error. For speed the BatchNorms are folded into
    the convolutions (``fuse_batchnorm``) and the weights use the channels-last-3d layout.
    """
    from acav.feature_extraction.models.weights import load_model_weights

    model = SlowFastR50(pooling=pooling)
    load_model_weights(model, "slowfast_r50", weights, allow_random=allow_random, weights_dir=weights_dir)
    model = model.eval()
    if fuse_batchnorm:
        model.fuse_batchnorm()
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last_3d)
    for param in model.parameters():
        param.requires_grad_(False)
    return model
