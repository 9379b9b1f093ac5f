"""Our VGGish and log-mel front end against torchvggish's, plus widths, short clips, autocast."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from acav.feature_extraction.models.vggish import VGGISH_LAYER_WIDTHS, VGGish
from acav.feature_extraction.models.vggish_input import (
    MIN_SAMPLES,
    VGGISH_SAMPLE_RATE,
    log_mel_spectrogram,
    mel_matrix,
    waveform_to_examples,
)


def _test_audio(seconds: float, seed: int = 0) -> np.ndarray:
    """A chirp plus noise plus a silent gap: every mel band and the log offset matter."""
    rng = np.random.default_rng(seed)
    n = int(seconds * VGGISH_SAMPLE_RATE)
    t = np.arange(n) / VGGISH_SAMPLE_RATE
    wave = 0.4 * np.sin(2 * np.pi * (200 + 300 * t) * t) + 0.05 * rng.standard_normal(n)
    wave[n // 3 : n // 3 + 4000] = 0.0
    return wave.astype(np.float32)


def test_examples_equal_torchvggish(torchvggish_module):
    wave = _test_audio(10.0)
    ours = waveform_to_examples(wave)
    reference = torchvggish_module.vggish_input.waveform_to_examples(
        wave, VGGISH_SAMPLE_RATE, return_tensor=False
    )
    assert ours.shape == reference.shape == (10, 96, 64)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-5)
    # The silent gap hits the log offset: log(0.01).
    assert np.isclose(ours.min(), np.log(0.01), atol=1e-4)


@pytest.mark.parametrize(
    "samples", [400, MIN_SAMPLES - 1, MIN_SAMPLES, 2 * 15360 + 239, 2 * 15360 + 240, 48000]
)
def test_example_count_matches_torchvggish(torchvggish_module, samples):
    wave = _test_audio(samples / VGGISH_SAMPLE_RATE + 1e-6, seed=1)[:samples]
    assert wave.shape[0] == samples
    ours = waveform_to_examples(wave)
    reference = torchvggish_module.vggish_input.waveform_to_examples(
        wave, VGGISH_SAMPLE_RATE, return_tensor=False
    )
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-5)


def test_short_audio_gives_zero_examples():
    assert MIN_SAMPLES == 15600  # 0.975 s: 96 frames of 25 ms every 10 ms
    assert waveform_to_examples(np.zeros(MIN_SAMPLES - 1, np.float32)).shape == (0, 96, 64)
    assert waveform_to_examples(np.zeros(100, np.float32)).shape == (0, 96, 64)
    assert waveform_to_examples(np.zeros(0, np.float32)).shape == (0, 96, 64)
    assert waveform_to_examples(np.zeros(MIN_SAMPLES, np.float32)).shape == (1, 96, 64)


def test_frontend_rejects_wrong_rate_and_averages_channels():
    with pytest.raises(ValueError, match="16000 Hz"):
        waveform_to_examples(np.zeros(48000, np.float32), sample_rate=44100)
    mono = _test_audio(2.0)
    stereo = np.stack([mono, mono], axis=1)
    np.testing.assert_array_equal(waveform_to_examples(stereo), waveform_to_examples(mono))


def test_mel_matrix_shape_and_band_edges():
    weights = mel_matrix()
    assert weights.shape == (257, 64)
    assert np.all(weights[0] == 0) and np.all(weights >= 0) and weights.max() <= 1.0
    freqs = np.linspace(0, 8000, 257)
    used = freqs[weights.sum(axis=1) > 0]
    assert used.min() > 125 and used.max() < 7500  # the bands span 125-7500 Hz only
    # A pure 1 kHz tone peaks in the band whose centre is nearest 1 kHz on the HTK mel scale.
    t = np.arange(16000) / 16000
    spectrum = log_mel_spectrogram(np.sin(2 * np.pi * 1000 * t)).mean(axis=0)
    centres = 700 * np.expm1(
        np.linspace(1127 * np.log1p(125 / 700), 1127 * np.log1p(7500 / 700), 66)[1:-1] / 1127
    )
    assert int(np.argmax(spectrum)) == int(np.argmin(np.abs(centres - 1000)))


@pytest.fixture(scope="module")
def reference_and_ours(torchvggish_module):
    torch.manual_seed(0)
    reference = torchvggish_module.torchvggish._vgg(postprocess=False).eval()
    ours = VGGish().eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    return reference, ours


def _reference_blocks(reference, x):
    """Block outputs as the ACAV100M release cut them: the features split after each max-pool."""
    outputs, start = [], 0
    for i, layer in enumerate(reference.features):
        if isinstance(layer, torch.nn.MaxPool2d):
            x = reference.features[start : i + 1](x)
            outputs.append(x)
            start = i + 1
    return outputs


def test_same_outputs_as_torchvggish(reference_and_ours):
    reference, ours = reference_and_ours
    assert list(ours.state_dict()) == list(reference.state_dict())
    examples = torch.from_numpy(waveform_to_examples(_test_audio(10.0)))[:, None]
    with torch.inference_mode():
        ref_embedding = reference(examples)
        ref_blocks = _reference_blocks(reference, examples)
        our_embedding = ours(examples)
        pooled = ours.forward_pooled(examples)
    assert our_embedding.shape == ref_embedding.shape == (10, 128)
    torch.testing.assert_close(our_embedding, ref_embedding, rtol=1e-5, atol=1e-6)
    assert (ref_embedding > 0).any()  # the final ReLU keeps some units alive
    assert [tuple(p.shape) for p in pooled] == [(10, w) for w in VGGISH_LAYER_WIDTHS]
    for block, ours_pooled in zip(ref_blocks, pooled[:4], strict=True):
        torch.testing.assert_close(ours_pooled, block.mean(dim=(2, 3)), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(pooled[4], ref_embedding, rtol=1e-5, atol=1e-6)
    assert all(p.dtype == torch.float32 for p in pooled)


def test_determinism_batch_independence_and_shape_check(reference_and_ours):
    _, ours = reference_and_ours
    examples = torch.from_numpy(waveform_to_examples(_test_audio(4.0, seed=3)))[:, None]
    with torch.inference_mode():
        a = ours.forward_pooled(examples)
        b = ours.forward_pooled(examples)
        one = ours.forward_pooled(examples[1:2])
    for x, y, z in zip(a, b, one, strict=True):
        assert torch.equal(x, y)
        torch.testing.assert_close(x[1:2], z, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"\[N, 1, 96, 64\]"):
        ours.forward_pooled(examples[:, 0])


def test_autocast_bf16(reference_and_ours):
    _, ours = reference_and_ours
    examples = torch.from_numpy(waveform_to_examples(_test_audio(3.0, seed=4)))[:, None]
    with torch.inference_mode():
        full = ours.forward_pooled(examples)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            half = ours.forward_pooled(examples)
    for a, b in zip(half, full, strict=True):
        assert a.dtype == torch.float32 and torch.isfinite(a).all()
        assert float(F.cosine_similarity(a, b, dim=1).min()) > 0.99


def test_channels_last_layout_gives_same_outputs(reference_and_ours):
    import copy

    _, ours = reference_and_ours
    fast = copy.deepcopy(ours).to(memory_format=torch.channels_last)
    examples = torch.from_numpy(waveform_to_examples(_test_audio(3.0, seed=5)))[:, None]
    with torch.inference_mode():
        expected = ours.forward_pooled(examples)
        got = fast.forward_pooled(examples)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5 * float(b.abs().max()))
