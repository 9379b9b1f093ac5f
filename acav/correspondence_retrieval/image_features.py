"""Image feature extractors with five layers: a weight-free one and ImageNet ResNet-50.

``weightfree_image`` needs no learned weights (the offline default); every layer is a hand-made
view of the image, computed in torch on whole batches:

* ``layer_0`` (64) grey thumbnail: the image area-averaged to 8 x 8.
* ``layer_1`` (48) intensity profiles: row and column means resampled to 16 each, plus a 16-bin
  intensity histogram.
* ``layer_2`` (40) edge orientation: magnitude-weighted gradient-orientation histograms (8 bins)
  over the whole image and a 2 x 2 grid.
* ``layer_3`` (128) local edges: the same histograms on a 4 x 4 grid (HOG-like).
* ``layer_4`` (16) shape statistics: mass, centroid, second-order central moments, left-right and
  up-down symmetry, contrast, mean colour and colour spread (RGB; grey images repeat the grey).

``resnet50`` is the paper's extractor (see :mod:`.resnet`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

EXTRACTORS = ("weightfree_image", "resnet50")
ORIENT_BINS = 8


def as_batch(images: np.ndarray) -> torch.Tensor:
    """``(n, H, W)`` or ``(n, H, W, 3)`` floats in [0, 1] (or uint8) -> ``(n, 3, H, W)`` float32."""
    x = torch.from_numpy(np.array(images))  # a copy: inputs may be read-only views
    if x.dtype == torch.uint8:
        x = x.float() / 255.0
    x = x.float()
    if x.ndim == 3:
        x = x.unsqueeze(-1).expand(*x.shape, 3)
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"images must be (n, H, W) or (n, H, W, 3), got {tuple(x.shape)}")
    return x.permute(0, 3, 1, 2).contiguous()


def _orientation_hist(gx: torch.Tensor, gy: torch.Tensor, cells: int) -> torch.Tensor:
    """``(n, cells * cells * ORIENT_BINS)`` magnitude-weighted, soft-binned, L2-normalised per cell."""
    mag = torch.sqrt(gx**2 + gy**2)
    angle = torch.atan2(gy, gx) % math.pi  # unsigned orientation in [0, pi)
    pos = angle / math.pi * ORIENT_BINS - 0.5
    low = torch.floor(pos)
    frac = pos - low
    low = low.long() % ORIENT_BINS
    high = (low + 1) % ORIENT_BINS
    n, h, w = mag.shape
    hist = torch.zeros(n, ORIENT_BINS, h, w)
    hist.scatter_add_(1, low.unsqueeze(1), (mag * (1 - frac)).unsqueeze(1))
    hist.scatter_add_(1, high.unsqueeze(1), (mag * frac).unsqueeze(1))
    pooled = F.adaptive_avg_pool2d(hist, cells)  # (n, bins, cells, cells)
    pooled = pooled / (pooled.norm(dim=1, keepdim=True) + 1e-6)
    return pooled.permute(0, 2, 3, 1).reshape(n, -1)


def weightfree_layers(images: np.ndarray) -> list[np.ndarray]:
    """The five weight-free layers of a batch of images (see the module docstring)."""
    rgb = as_batch(images)
    grey = rgb.mean(1)  # (n, H, W)
    n, h, w = grey.shape
    thumb = F.adaptive_avg_pool2d(grey.unsqueeze(1), 8).reshape(n, -1)
    rows = F.interpolate(grey.mean(2).unsqueeze(1), size=16, mode="linear", align_corners=True).reshape(n, -1)
    cols = F.interpolate(grey.mean(1).unsqueeze(1), size=16, mode="linear", align_corners=True).reshape(n, -1)
    hist = torch.stack([torch.histc(g, bins=16, min=0.0, max=1.0) for g in grey]) / (h * w)
    padded = F.pad(grey.unsqueeze(1), (1, 1, 1, 1), mode="replicate").squeeze(1)
    gx = (padded[:, 1:-1, 2:] - padded[:, 1:-1, :-2]) / 2
    gy = (padded[:, 2:, 1:-1] - padded[:, :-2, 1:-1]) / 2
    edges = torch.cat([_orientation_hist(gx, gy, 1), _orientation_hist(gx, gy, 2)], 1)
    local = _orientation_hist(gx, gy, 4)
    ys = torch.linspace(-1, 1, h).view(1, h, 1)
    xs = torch.linspace(-1, 1, w).view(1, 1, w)
    mass = grey.sum((1, 2)) + 1e-6
    cy = (grey * ys).sum((1, 2)) / mass
    cx = (grey * xs).sum((1, 2)) / mass
    myy = (grey * (ys - cy.view(n, 1, 1)) ** 2).sum((1, 2)) / mass
    mxx = (grey * (xs - cx.view(n, 1, 1)) ** 2).sum((1, 2)) / mass
    mxy = (grey * (ys - cy.view(n, 1, 1)) * (xs - cx.view(n, 1, 1))).sum((1, 2)) / mass
    sym_lr = (grey - grey.flip(2)).abs().mean((1, 2))
    sym_ud = (grey - grey.flip(1)).abs().mean((1, 2))
    contrast = grey.std((1, 2))
    colour_mean = rgb.mean((2, 3))
    colour_std = rgb.std((2, 3))
    shape = torch.stack(
        [mass / (h * w), cy, cx, myy, mxx, mxy, sym_lr, sym_ud, contrast, grey.amax((1, 2))], 1
    )
    stats = torch.cat([shape, colour_mean, colour_std], 1)
    layers = [thumb, torch.cat([rows, cols, hist], 1), edges, local, stats]
    return [layer.numpy().astype(np.float32) for layer in layers]


def extract_images(
    images: np.ndarray, extractor: str = "weightfree_image", batch_size: int = 512, **options
) -> list[np.ndarray]:
    """Five ``(n, d_l)`` float32 layers of ``images`` with the chosen extractor."""
    if extractor == "weightfree_image":
        parts = [weightfree_layers(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
    elif extractor == "resnet50":
        from acav.correspondence_retrieval.resnet import resnet50_layers

        parts = [
            resnet50_layers(images[i : i + batch_size], **options) for i in range(0, len(images), batch_size)
        ]
    else:
        raise ValueError(f"unknown image extractor {extractor!r}; choose one of {', '.join(EXTRACTORS)}")
    return [np.concatenate([p[layer] for p in parts]) for layer in range(5)]
