"""Our SlowFast 8x8 R50 against pytorchvideo's, plus preprocessing, widths, dtypes, autocast."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from acav.feature_extraction.models.slowfast import (
    SLOWFAST_CROP,
    SLOWFAST_LAYER_WIDTHS,
    SLOWFAST_NUM_FRAMES,
    SlowFastR50,
    slow_pathway_indices,
    slowfast_preprocess,
)


def _randomise_batchnorm(model: torch.nn.Module, generator: torch.Generator) -> None:
    """pytorchvideo's init zeroes every residual branch's last BN and uses identity statistics;
    random BN parameters make every branch and every BN term count in the comparison."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm3d):
            n = module.num_features
            module.weight.data = torch.rand(n, generator=generator) + 0.5
            module.bias.data = torch.randn(n, generator=generator) * 0.1
            module.running_mean = torch.randn(n, generator=generator) * 0.1
            module.running_var = torch.rand(n, generator=generator) + 0.5


@pytest.fixture(scope="module")
def reference_and_ours(pytorchvideo_slowfast_r50):
    torch.manual_seed(0)
    reference = pytorchvideo_slowfast_r50(pretrained=False).eval()
    _randomise_batchnorm(reference, torch.Generator().manual_seed(1))
    ours = SlowFastR50().eval()
    ours.load_state_dict(reference.state_dict(), strict=True)  # same keys, no mapping
    return reference, ours


def _reference_stages(reference, slow, fast):
    outputs = []
    x = [slow, fast]
    for block in reference.blocks[:5]:
        x = block(list(x))  # MultiPathWayWithFuse edits its input list in place
        outputs.append([t.clone() for t in x])
    logits = reference.blocks[6](reference.blocks[5](list(x)))
    return outputs, logits


def _max_rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


def test_state_dict_keys_and_shapes_equal_pytorchvideo(reference_and_ours):
    reference, ours = reference_and_ours
    ref_sd, our_sd = reference.state_dict(), ours.state_dict()
    assert list(our_sd) == list(ref_sd)
    assert all(our_sd[k].shape == ref_sd[k].shape for k in ref_sd)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in reference.parameters())


def test_same_outputs_as_pytorchvideo_at_full_size(reference_and_ours):
    """One real-size clip (32 x 256 x 256): every stage after fusion, the pooled layers, the logits."""
    reference, ours = reference_and_ours
    generator = torch.Generator().manual_seed(2)
    frames = torch.randint(
        0, 256, (1, SLOWFAST_NUM_FRAMES, SLOWFAST_CROP, SLOWFAST_CROP, 3), generator=generator
    )
    slow, fast = slowfast_preprocess(frames.to(torch.uint8))
    with torch.inference_mode():
        ref_stages, ref_logits = _reference_stages(reference, slow.contiguous(), fast.contiguous())
        our_stages = ours.forward_stages(slow, fast)
        our_logits = ours(slow, fast)
        pooled = ours.forward_pooled(slow, fast)
        pooled_acav = ours.forward_pooled(slow, fast, pooling="acav100m")

    for i, ((ref_s, ref_f), (our_s, our_f)) in enumerate(zip(ref_stages, our_stages, strict=True)):
        assert our_s.shape == ref_s.shape and our_f.shape == ref_f.shape, f"stage s{i + 1}"
        assert _max_rel_diff(our_s, ref_s) < 1e-5, f"stage s{i + 1} slow"
        assert _max_rel_diff(our_f, ref_f) < 1e-5, f"stage s{i + 1} fast"
        assert ref_s.shape[1] + ref_f.shape[1] == SLOWFAST_LAYER_WIDTHS[i]
        expected = torch.cat([ref_s.mean(dim=(2, 3, 4)), ref_f.mean(dim=(2, 3, 4))], dim=1)
        assert pooled[i].shape == (1, SLOWFAST_LAYER_WIDTHS[i]) and pooled[i].dtype == torch.float32
        torch.testing.assert_close(pooled[i], expected, rtol=1e-5, atol=1e-5 * float(expected.abs().max()))
        # "acav100m" pooling = the reference head's AvgPool3d on every stage, then the mean.
        head_pools = reference.blocks[5].pool
        expected_acav = torch.cat(
            [head_pools[0](ref_s).mean(dim=(2, 3, 4)), head_pools[1](ref_f).mean(dim=(2, 3, 4))], dim=1
        )
        torch.testing.assert_close(
            pooled_acav[i], expected_acav, rtol=1e-5, atol=1e-5 * float(expected.abs().max())
        )
        assert not torch.allclose(pooled_acav[i], pooled[i])  # the two poolings really differ

    assert our_logits.shape == ref_logits.shape == (1, 400)
    assert _max_rel_diff(our_logits, ref_logits) < 1e-5
    # The stages carry signal (random BN keeps activations alive through 16 residual blocks).
    assert float(ref_stages[-1][0].abs().max()) > 1e-3


def test_slow_pathway_frames_match_pyslowfast_packing():
    assert slow_pathway_indices(32).tolist() == [0, 4, 8, 13, 17, 22, 26, 31]
    assert slow_pathway_indices(16).tolist() == [0, 5, 10, 15]


def test_preprocess_crop_normalise_layout():
    t, h, w = 32, 256, 340
    generator = torch.Generator().manual_seed(3)
    frames = torch.randint(0, 256, (2, t, h, w, 3), generator=generator).to(torch.uint8)
    slow, fast = slowfast_preprocess(frames)
    assert fast.shape == (2, 3, t, 256, 256) and slow.shape == (2, 3, 8, 256, 256)
    assert fast.dtype == slow.dtype == torch.float32
    assert fast.is_contiguous(memory_format=torch.channels_last_3d)

    left = math.ceil((w - 256) / 2)  # 42: PySlowFast's centre crop
    x = frames[:, :, :, left : left + 256].float() / 255.0
    expected = ((x - 0.45) / 0.225).permute(0, 4, 1, 2, 3)
    torch.testing.assert_close(fast, expected, rtol=0, atol=1e-5)
    torch.testing.assert_close(slow, expected[:, :, [0, 4, 8, 13, 17, 22, 26, 31]], rtol=0, atol=1e-5)
    # Pixel values land where they should: white -> (1 - 0.45) / 0.225, black -> -2.
    edge = torch.zeros(1, t, 256, 256, 3, dtype=torch.uint8)
    edge[..., 0] = 255
    s, f = slowfast_preprocess(edge)
    assert torch.allclose(f[:, 0], torch.tensor(0.55 / 0.225)) and torch.allclose(
        f[:, 1:], torch.tensor(-2.0)
    )

    start_slow, start_fast = slowfast_preprocess(frames, crop_position="start")
    x0 = frames[:, :, :, :256].float() / 255.0
    torch.testing.assert_close(start_fast, ((x0 - 0.45) / 0.225).permute(0, 4, 1, 2, 3), rtol=0, atol=1e-5)


def test_preprocess_rejects_bad_input():
    with pytest.raises(ValueError, match="must be >= the 256 crop"):
        slowfast_preprocess(torch.zeros(1, 32, 200, 300, 3, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\[B, T, H, W, 3\]"):
        slowfast_preprocess(torch.zeros(32, 256, 256, 3, dtype=torch.uint8))
    with pytest.raises(ValueError, match="crop_position"):
        slowfast_preprocess(torch.zeros(1, 32, 256, 256, 3, dtype=torch.uint8), crop_position="middle")


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(4)
    model = SlowFastR50().eval()
    _randomise_batchnorm(model, torch.Generator().manual_seed(5))
    return model


def _small_clip(batch: int = 2, seed: int = 6):
    frames = torch.randint(0, 256, (batch, 32, 64, 64, 3), generator=torch.Generator().manual_seed(seed))
    return slowfast_preprocess(frames.to(torch.uint8), crop=64)


def test_pooled_widths_dtypes_and_determinism(small_model):
    slow, fast = _small_clip()
    with torch.inference_mode():
        first = small_model.forward_pooled(slow, fast)
        second = small_model.forward_pooled(slow, fast)
        single = small_model.forward_pooled(slow[:1], fast[:1])
    assert [tuple(x.shape) for x in first] == [(2, w) for w in SLOWFAST_LAYER_WIDTHS]
    for a, b, c in zip(first, second, single, strict=True):
        assert a.dtype == torch.float32 and torch.isfinite(a).all()
        assert torch.equal(a, b)
        torch.testing.assert_close(a[:1], c, rtol=1e-5, atol=1e-6)  # batch members are independent
        assert not torch.allclose(a[0], a[1])  # different clips, different features


def test_memory_format_does_not_change_results(small_model):
    slow, fast = _small_clip(batch=1)
    with torch.inference_mode():
        channels_last = small_model.to(memory_format=torch.channels_last_3d).forward_pooled(slow, fast)
        contiguous = small_model.to(memory_format=torch.contiguous_format).forward_pooled(
            slow.contiguous(), fast.contiguous()
        )
    for a, b in zip(channels_last, contiguous, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5 * float(b.abs().max()))


def test_autocast_bf16_gives_float32_close_to_fp32(small_model):
    slow, fast = _small_clip(batch=1)
    with torch.inference_mode():
        full = small_model.forward_pooled(slow, fast)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            half = small_model.forward_pooled(slow, fast)
    for a, b in zip(half, full, strict=True):
        assert a.dtype == torch.float32 and torch.isfinite(a).all()
        cosine = F.cosine_similarity(a, b, dim=1)
        assert float(cosine.min()) > 0.99


def test_rejects_unknown_pooling():
    with pytest.raises(ValueError, match="pooling"):
        SlowFastR50(pooling="max")


def test_batchnorm_folding_keeps_outputs(small_model):
    import copy

    fused = copy.deepcopy(small_model).fuse_batchnorm()
    assert not any(isinstance(m, torch.nn.BatchNorm3d) for m in fused.modules())
    assert sum(isinstance(m, torch.nn.Conv3d) for m in fused.modules()) == sum(
        isinstance(m, torch.nn.Conv3d) for m in small_model.modules()
    )
    slow, fast = _small_clip(batch=1, seed=7)
    with torch.inference_mode():
        expected = small_model.forward_pooled(slow, fast)
        got = fused.forward_pooled(slow, fast)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5 * float(b.abs().max()))
    with pytest.raises(RuntimeError, match="eval"):
        SlowFastR50().train().fuse_batchnorm()
