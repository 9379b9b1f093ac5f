"""The ResNet-50 five-layer path with random weights (the pretrained file is not reachable here)."""

from __future__ import annotations

import numpy as np
import pytest

from acav.correspondence_retrieval.image_features import extract_images
from acav.correspondence_retrieval.resnet import LAYER_WIDTHS, ResNet50, load_resnet50


def test_resnet50_has_torchvision_names_and_size():
    model = ResNet50()
    state = model.state_dict()
    # torchvision's resnet50: 25,557,032 parameters and these names (so its .pth loads strictly)
    assert sum(p.numel() for p in model.parameters()) == 25_557_032
    for key in ("conv1.weight", "bn1.running_mean", "layer1.0.downsample.0.weight", "layer3.5.conv3.weight",
                "layer4.2.bn3.num_batches_tracked", "fc.bias"):  # fmt: skip
        assert key in state
    assert len(state) == 320


def test_resnet50_five_layers_on_native_size_images(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    layers = extract_images(images, "resnet50", random_weights=True)
    assert [x.shape for x in layers] == [(3, w) for w in LAYER_WIDTHS]
    assert all(np.isfinite(x).all() for x in layers)
    assert not np.allclose(layers[4][0], layers[4][1])  # different images, different outputs
    # weights saved as torchvision does (a plain state dict) load back and give the same features
    import torch

    path = tmp_path / "resnet50.pth"
    torch.save(load_resnet50(random_weights=True).state_dict(), path)
    again = extract_images(images, "resnet50", weights=str(path))
    np.testing.assert_allclose(again[2], layers[2], rtol=1e-5, atol=1e-5)


def test_resnet50_without_weights_says_what_to_do(monkeypatch):
    monkeypatch.delenv("ACAV_RESNET50", raising=False)
    with pytest.raises(FileNotFoundError, match="--resnet-weights"):
        load_resnet50()
