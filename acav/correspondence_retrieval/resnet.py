"""ImageNet ResNet-50 as a five-layer feature extractor (the paper's image features).

The network is written here (torchvision is not a dependency) with torchvision's parameter names,
so torchvision's ``resnet50`` state dict loads into it unchanged (``load_state_dict(strict=True)``).
Layers returned per image: the stem (conv, bn, relu, max-pool), ``layer1``..``layer3``, each
average-pooled over space (64, 256, 512, 1024), and ``layer4`` + global pool + ``fc`` (1000).
Images are used at their native size, normalised with the ImageNet mean and standard deviation.

Weights: ``--resnet-weights PATH`` (a torchvision ``resnet50-*.pth`` file) or ``$ACAV_RESNET50``;
without them the extractor refuses to run unless random weights are asked for explicitly (tests).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
WEIGHTS_URL = "https://download.pytorch.org/models/resnet50-0676ba61.pth"
LAYER_WIDTHS = (64, 256, 512, 1024, 1000)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet50(nn.Module):
    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, 3, 1)
        self.layer2 = self._make_layer(128, 4, 2)
        self.layer3 = self._make_layer(256, 6, 2)
        self.layer4 = self._make_layer(512, 3, 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2048, num_classes)

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * 4:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * 4, 1, stride=stride, bias=False), nn.BatchNorm2d(planes * 4)
            )
        layers = [Bottleneck(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * 4
        layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def five_layers(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Stem and layer1..3 average-pooled, then layer4 + pool + fc."""
        stem = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        l1 = self.layer1(stem)
        l2 = self.layer2(l1)
        l3 = self.layer3(l2)
        logits = self.fc(torch.flatten(self.avgpool(self.layer4(l3)), 1))
        return [t.mean((2, 3)) for t in (stem, l1, l2, l3)] + [logits]


_CACHE: dict[str, ResNet50] = {}


def load_resnet50(
    weights: str | os.PathLike[str] | None = None, random_weights: bool = False, seed: int = 0
) -> ResNet50:
    """The network in eval mode with torchvision weights from ``weights`` (or ``$ACAV_RESNET50``).

    ``random_weights=True`` builds it with a seeded random initialisation (tests, timing only).
    """
    path = weights or os.environ.get("ACAV_RESNET50")
    key = f"random:{seed}" if random_weights and not path else str(path)
    if key in _CACHE:
        return _CACHE[key]
    if not path and not random_weights:
        raise FileNotFoundError(
            "ResNet-50 weights are needed for --image-extractor resnet50: download "
            f"{WEIGHTS_URL} on a machine with internet and pass --resnet-weights FILE (or set "
            "ACAV_RESNET50); offline, use --image-extractor weightfree_image"
        )
    torch.manual_seed(seed)
    model = ResNet50()
    if path:
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
    model.eval()
    _CACHE[key] = model
    return model


def resnet50_layers(
    images: np.ndarray, weights: str | None = None, random_weights: bool = False, device: str = "cpu"
) -> list[np.ndarray]:
    """Five feature layers of ``images`` (``(n, H, W)`` grey or ``(n, H, W, 3)``, [0, 1] or uint8)."""
    from acav.correspondence_retrieval.image_features import as_batch

    model = load_resnet50(weights, random_weights).to(device)
    x = as_batch(images).to(device)
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    with torch.inference_mode():
        layers = model.five_layers((x - mean) / std)
    return [t.cpu().numpy().astype(np.float32) for t in layers]
