"""Encoders (the original's architecture facts), heads and the cross-modal InfoNCE loss."""

from __future__ import annotations

import math
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from acav.evaluation.config import FULL, SMALL
from acav.evaluation.models import AudioVisualModel, Bottleneck2d, Bottleneck3d, info_nce


def test_full_configuration_is_slow_only_r50_and_audio_r50() -> None:
    model = AudioVisualModel(FULL)
    stem = model.visual.stem.conv
    assert (stem.kernel_size, stem.stride, stem.out_channels) == ((5, 7, 7), (2, 2, 2), 64)
    assert [len(s) for s in model.visual.stages] == [3, 4, 6, 3]
    assert [len(s) for s in model.audio.stages] == [3, 4, 6, 3]
    assert [s[0].conv_a.kernel_size[0] for s in model.visual.stages] == [1, 1, 3, 3]
    assert [s[0].conv_b.stride[1] for s in model.visual.stages] == [1, 2, 2, 2]
    assert (model.visual.output_size, model.audio.output_size) == (2048, 1024)
    audio_stem = model.audio.stem
    assert (audio_stem.conv_f.kernel_size, audio_stem.conv_t.kernel_size, audio_stem.conv_f.stride) == (
        (9, 1),
        (1, 9),
        (1, 1),
    )
    assert [hasattr(s[0], "conv_bf") for s in model.audio.stages] == [True, True, False, False]
    assert model.visual_head.fc1.bias is None and model.visual_head.fc2.out_features == 128
    visual_params = sum(p.numel() for p in model.visual.parameters())
    assert 31_000_000 < visual_params < 33_000_000  # slow-only R50 (about 32 M)


def test_small_model_forward_gives_unit_embeddings_and_blocks_start_as_identity() -> None:
    torch.manual_seed(0)
    model = AudioVisualModel(SMALL).eval()
    v, a = model(torch.randn(2, 3, SMALL.num_frames, SMALL.crop, SMALL.crop), torch.randn(2, 1, 40, 64))
    assert v.shape == a.shape == (2, SMALL.projection)
    torch.testing.assert_close(v.norm(dim=1), torch.ones(2))
    torch.testing.assert_close(a.norm(dim=1), torch.ones(2))
    # the last BN of each block is zero-initialised: without a projection the block is relu(x)
    block = Bottleneck3d(8, 4, 8, 3, 1).eval()
    for m in block.modules():
        if getattr(m, "final_bn", False):
            torch.nn.init.zeros_(m.weight)
    x = torch.randn(1, 8, 4, 6, 6)
    torch.testing.assert_close(block(x), torch.relu(x))
    assert Bottleneck2d(8, 4, 16, 2, True)(torch.randn(1, 8, 8, 8)).shape == (1, 16, 4, 4)


def test_info_nce_values() -> None:
    # orthonormal embeddings: the positive logit is 1/T, every negative 0
    v = torch.eye(4)
    loss, accuracy = info_nce(v, v.clone(), 0.1)
    expected = -math.log(math.exp(10) / (math.exp(10) + 3))
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    assert accuracy.item() == 1.0
    # audio shuffled: every query picks a wrong key
    loss, accuracy = info_nce(v, v[[1, 0, 3, 2]], 0.1)
    assert loss.item() == pytest.approx(-math.log(1 / (math.exp(10) + 3)), rel=1e-5)
    assert accuracy.item() == 0.0


def _gathered_loss(rank: int, world: int, port: int, v, a, out) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    half = v.shape[0] // world
    v_local = v[rank * half : (rank + 1) * half].clone().requires_grad_(True)
    loss, _ = info_nce(v_local, a[rank * half : (rank + 1) * half], 0.1)
    loss.backward()
    out[rank] = torch.cat([loss.detach()[None], v_local.grad.flatten()])
    torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_info_nce_gathers_negatives_across_two_processes() -> None:
    torch.manual_seed(0)
    v = torch.nn.functional.normalize(torch.randn(6, 5), dim=1)
    a = torch.nn.functional.normalize(torch.randn(6, 5), dim=1)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = mp.Manager().dict()
    mp.spawn(_gathered_loss, args=(2, port, v, a, out), nprocs=2, join=True)
    v_full = v.clone().requires_grad_(True)
    loss, _ = info_nce(v_full, a, 0.1)
    (loss * 2).backward()  # each process averages over its half; the processes' gradients add
    assert (out[0][0] + out[1][0]).item() / 2 == pytest.approx(loss.item(), rel=1e-5)
    # the local gradient of each process for its own embeddings covers only the local loss term;
    # summed over processes by DDP it equals the full batch's gradient (checked for the first half)
    torch.testing.assert_close(out[0][1:].reshape(3, 5), v_full.grad[:3], atol=1e-5, rtol=1e-4)
