"""Log-mel front end as the original's (torchaudio ``MelSpectrogram`` defaults), in plain torch.

``n_fft = 2 * (floor(samples / time) + 1)``, hop ``n_fft // 2``, Hann window, centred frames with
reflection padding, power spectrum, HTK mel filters from 0 Hz to Nyquist without normalisation,
``log(1e-6 + mel)``, then cut or zero-padded to ``time`` steps. SpecAugment-style masking: one
frequency band and one time span, each of width uniform in ``[0, rate * size)``, set to 0.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filters(n_freqs: int, n_mels: int, sample_rate: int) -> torch.Tensor:
    """``[n_freqs, n_mels]`` triangular HTK filters (torchaudio's ``melscale_fbanks``, norm None)."""
    all_freqs = np.linspace(0, sample_rate // 2, n_freqs)
    f_pts = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2), n_mels + 2))
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts[None, :] - all_freqs[:, None]
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return torch.from_numpy(np.maximum(0.0, np.minimum(down, up))).float()


def log_mel(waveform: torch.Tensor, sample_rate: int, n_mels: int, time: int) -> torch.Tensor:
    """``[samples]`` mono waveform -> ``[1, n_mels, time]`` log-mel spectrogram."""
    samples = waveform.shape[-1]
    n_fft = 2 * (math.floor(samples / time) + 1)
    hop = n_fft // 2
    pad = n_fft // 2
    if samples <= pad:  # too short for reflection padding: zero-pad first
        waveform = torch.nn.functional.pad(waveform, (0, pad + 1 - samples))
    spec = torch.stft(
        waveform.float(),
        n_fft,
        hop_length=hop,
        window=torch.hann_window(n_fft),
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )
    power = spec.abs() ** 2  # [freqs, frames]
    mel = mel_filters(n_fft // 2 + 1, n_mels, sample_rate).T @ power
    out = torch.log(1e-6 + mel)
    fixed = torch.zeros(n_mels, time)
    steps = min(time, out.shape[1])
    fixed[:, :steps] = out[:, :steps]
    return fixed[None]


def mask_along(spec: torch.Tensor, rate: float, axis: int, rng: np.random.Generator) -> torch.Tensor:
    """Zero one band along ``axis`` (1: frequency, 2: time) of width uniform in [0, rate * size)."""
    size = spec.shape[axis]
    param = int(size * rate)
    if param <= 0:
        return spec
    width = int(rng.uniform(0, param))
    start = int(rng.uniform(0, size - width))
    index = [slice(None)] * spec.dim()
    index[axis] = slice(start, start + width)
    spec = spec.clone()
    spec[tuple(index)] = 0.0
    return spec
