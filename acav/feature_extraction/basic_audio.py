"""``basic_audio``: a weight-free audio extractor for offline runs, the demo and quick baselines.

No learned weights: five hand-made views of the clip's 16 kHz mono audio, from a short-time
Fourier transform (25 ms Hann windows, 10 ms hop, 512-point FFT) and a 64-band mel filterbank
(125-7500 Hz, the VGGish front-end's bands). numpy only.

* ``layer_0`` (64) mel band energies: mean log-mel spectrum over the clip.
* ``layer_1`` (35) spectral shape: centroid, bandwidth, 85 % roll-off, flatness, flux,
  zero-crossing rate and log RMS per frame, each summarised by mean, std, 10th/50th/90th
  percentiles (frequencies as fractions of the Nyquist frequency).
* ``layer_2`` (45) temporal modulation: modulation depth in 8 log-spaced bands (0.5-25 Hz) of the
  onset envelope and of four mel-band-group envelopes, plus onset rate and envelope statistics.
  Separates steady sounds from rhythmic ones and rhythms from each other.
* ``layer_3`` (40) timbre: MFCC-like DCT-II of the log-mel frames, coefficients 1-20 (c0, the
  overall level, is left to layer_0), mean and std.
* ``layer_4`` (52) pitch (from a separate 128 ms-window STFT): chroma (12 pitch classes) mean, the sorted (pitch-invariant) chroma
  profile, histogram of the dominant
  frequency over 24 log-spaced bins (50-8000 Hz), spectral peak count and peakiness statistics.
  Separates pure tones, chords (several pitch classes), noise (flat chroma) and sweeps (wide
  dominant-frequency histogram).

These features are a stand-in for VGGish when its weights are unavailable.
"""

from __future__ import annotations

import functools

import numpy as np

from acav.feature_extraction.base import AUDIO, AudioInput, ClipError, WeightFreeExtractor

SAMPLE_RATE = 16000
WINDOW = 400  # 25 ms
HOP = 160  # 10 ms -> 100 frames per second
N_FFT = 512
N_MELS = 64
MEL_LOW, MEL_HIGH = 125.0, 7500.0
N_MFCC = 20
MIN_SECONDS = 0.25
PITCH_WINDOW = 2048  # 128 ms
PITCH_HOP = 512
FRAME_RATE = SAMPLE_RATE / HOP
EPS = 1e-10


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


@functools.lru_cache(maxsize=4)
def mel_filterbank(n_mels: int = N_MELS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Triangular filters ``[n_fft // 2 + 1, n_mels]`` equally spaced on the (HTK) mel scale."""
    freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    mel = _hz_to_mel(freqs)
    edges = np.linspace(_hz_to_mel(MEL_LOW), _hz_to_mel(MEL_HIGH), n_mels + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (mel[:, None] - lower) / (centre - lower)
    falling = (upper - mel[:, None]) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling))


@functools.lru_cache(maxsize=4)
def dct_matrix(n_in: int = N_MELS, n_out: int = N_MFCC) -> np.ndarray:
    """Orthonormal DCT-II basis ``[n_in, n_out]``."""
    k = np.arange(n_out)[None, :]
    n = np.arange(n_in)[:, None]
    basis = np.cos(np.pi / n_in * (n + 0.5) * k) * np.sqrt(2.0 / n_in)
    basis[:, 0] /= np.sqrt(2.0)
    return basis


def power_spectrogram(wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(power ``[frames, 257]``, the windowed frames ``[frames, WINDOW]`` before the FFT)."""
    frames = np.lib.stride_tricks.sliding_window_view(wave, WINDOW)[::HOP]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW) / WINDOW)
    spectrum = np.fft.rfft(frames * window, N_FFT)
    return (spectrum.real**2 + spectrum.imag**2), frames


def _stats(values: np.ndarray) -> np.ndarray:
    p10, p50, p90 = np.percentile(values, [10, 50, 90])
    return np.array([values.mean(), values.std(), p10, p50, p90])


def spectral_shape(power: np.ndarray, frames: np.ndarray) -> np.ndarray:
    freqs = np.linspace(0.0, 1.0, power.shape[1])  # fraction of Nyquist
    total = power.sum(axis=1) + EPS
    centroid = (power * freqs).sum(axis=1) / total
    bandwidth = np.sqrt((power * (freqs - centroid[:, None]) ** 2).sum(axis=1) / total)
    cumulative = np.cumsum(power, axis=1)
    rolloff = freqs[np.minimum((cumulative < 0.85 * cumulative[:, -1:]).sum(axis=1), len(freqs) - 1)]
    flatness = np.exp(np.log(power + EPS).mean(axis=1)) / (power.mean(axis=1) + EPS)
    magnitude = np.sqrt(power)
    norm = magnitude / (magnitude.sum(axis=1, keepdims=True) + EPS)
    flux = np.concatenate([[0.0], np.sqrt((np.diff(norm, axis=0) ** 2).sum(axis=1))])
    signs = np.signbit(frames)
    zcr = (signs[:, 1:] != signs[:, :-1]).mean(axis=1)
    log_rms = np.log10(np.sqrt((frames**2).mean(axis=1)) + 1e-5) / 5.0  # roughly [-1, 0]
    return np.concatenate(
        [_stats(v) for v in (centroid, bandwidth, rolloff, flatness, flux * 10, zcr, log_rms)]
    )


def _modulation_bands(envelope: np.ndarray, n_bands: int = 8) -> np.ndarray:
    """Modulation depth of ``envelope`` (at FRAME_RATE) in log-spaced bands from 0.5 to 25 Hz.

    Absolute (not relative) band amplitudes, squashed with tanh: a steady sound gives ~0 in every
    band instead of a normalised spectrum of its tiny random fluctuations.
    """
    window = np.hanning(len(envelope))
    env = (envelope - envelope.mean()) * window
    n = max(256, 1 << int(np.ceil(np.log2(max(len(env), 2)))))
    power = np.abs(np.fft.rfft(env, n)) ** 2 / max((window**2).sum(), EPS)
    freqs = np.fft.rfftfreq(n, 1.0 / FRAME_RATE)
    edges = np.geomspace(0.5, 25.0, n_bands + 1)
    bands = np.array(
        [power[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    )
    return np.tanh(np.sqrt(bands))


def temporal_modulation(log_mel: np.ndarray, power: np.ndarray) -> np.ndarray:
    onset = np.maximum(0.0, np.diff(log_mel, axis=0)).mean(axis=1)
    onset = np.concatenate([[0.0], onset])
    groups = [log_mel[:, i : i + 16].mean(axis=1) for i in range(0, N_MELS, 16)]
    spectra = [_modulation_bands(onset)] + [_modulation_bands(g) for g in groups]  # 5 x 8
    # Onset peaks per second: local maxima clearly above the median onset strength.
    threshold = np.median(onset) + 2 * onset.std()
    peaks = (onset[1:-1] > onset[:-2]) & (onset[1:-1] >= onset[2:]) & (onset[1:-1] > threshold)
    seconds = len(onset) / FRAME_RATE
    loud = np.log10(power.sum(axis=1) + 1e-6)
    stats = np.array(
        [np.tanh(peaks.sum() / seconds / 10.0), np.tanh(onset.mean()), np.tanh(onset.std()),
         np.tanh(loud.std() / 2.0), np.tanh((loud.max() - loud.mean()) / 4.0)]
    )  # fmt: skip
    return np.concatenate(spectra + [stats])


def pitch_features(wave: np.ndarray) -> np.ndarray:
    # A separate long-window STFT (128 ms, 3.9 Hz bins): the 25 ms frames above smear a low note
    # over several semitones, which would blur the chroma.
    frames = np.lib.stride_tricks.sliding_window_view(wave, PITCH_WINDOW)[::PITCH_HOP]
    spectrum = np.fft.rfft(frames * np.hanning(PITCH_WINDOW), PITCH_WINDOW)
    power = spectrum.real**2 + spectrum.imag**2
    freqs = np.fft.rfftfreq(PITCH_WINDOW, 1.0 / SAMPLE_RATE)
    usable = (freqs >= 60.0) & (freqs <= 5000.0)
    pitch_class = np.mod(np.round(12 * np.log2(freqs[usable] / 440.0)).astype(np.int64), 12)
    onehot = np.zeros((usable.sum(), 12))
    onehot[np.arange(usable.sum()), pitch_class] = 1.0
    chroma = power[:, usable] @ onehot
    energy = chroma.sum(axis=1)
    voiced = energy > energy.max() * 1e-3 if energy.max() > 0 else np.zeros(len(energy), bool)
    if voiced.any():
        chroma = chroma[voiced] / energy[voiced, None]
        chroma_mean = chroma.mean(axis=0)
        # Each frame's chroma sorted high to low: a pitch-invariant profile (one class for a tone,
        # a few for a chord, flat for noise), so tones of different pitch still look alike here.
        chroma_profile = np.sort(chroma, axis=1)[:, ::-1].mean(axis=0)
    else:
        chroma_mean = chroma_profile = np.zeros(12)
    band = (freqs >= 50.0) & (freqs <= 8000.0)
    dominant = freqs[band][np.argmax(power[:, band], axis=1)]
    edges = np.geomspace(50.0, 8000.0, 25)
    hist = np.histogram(dominant[voiced] if voiced.any() else dominant[:0], bins=edges)[0].astype(np.float64)
    hist = np.sqrt(hist / hist.sum()) if hist.sum() > 0 else np.zeros(24)
    # Peakiness: a pure tone has one strong peak, a chord a few, noise none that stands out.
    level = 10 * np.log10(power[:, band] + EPS)
    top = level.max(axis=1, keepdims=True)
    local_max = (
        (level[:, 1:-1] > level[:, :-2]) & (level[:, 1:-1] >= level[:, 2:]) & (level[:, 1:-1] > top - 20)
    )
    peak_count = local_max.sum(axis=1)[voiced] if voiced.any() else np.zeros(1)
    sorted_power = np.sort(power[:, band], axis=1)[:, ::-1]
    top_share = sorted_power[:, :5].sum(axis=1) / (sorted_power.sum(axis=1) + EPS)
    top_share = top_share[voiced] if voiced.any() else np.zeros(1)
    peaks = np.array(
        [np.tanh(peak_count.mean() / 10), np.tanh(peak_count.std() / 10), top_share.mean(), top_share.std()]
    )
    return np.concatenate([np.sqrt(chroma_mean), np.sqrt(chroma_profile), hist, peaks])


def basic_audio_features(wave: np.ndarray) -> list[np.ndarray]:
    """The five layers of a mono 16 kHz float waveform (at least ``MIN_SECONDS`` long)."""
    wave = np.asarray(wave, dtype=np.float64).reshape(-1)
    if wave.shape[0] < MIN_SECONDS * SAMPLE_RATE:
        raise ClipError(f"audio too short: {wave.shape[0] / SAMPLE_RATE:.3f} s < {MIN_SECONDS} s")
    power, frames = power_spectrogram(wave)
    log_mel = np.log(power @ mel_filterbank() + 1e-6)
    mfcc = (log_mel @ dct_matrix(N_MELS, N_MFCC + 1))[:, 1:]
    return [
        log_mel.mean(axis=0) / 10.0,
        spectral_shape(power, frames),
        temporal_modulation(log_mel, power),
        np.concatenate([mfcc.mean(axis=0), mfcc.std(axis=0)]) / 10.0,
        pitch_features(wave),
    ]


class BasicAudioExtractor(WeightFreeExtractor):
    key = "basic_audio"
    modality = AUDIO
    model_key = "layer_basic_audio"
    extractor_name = "BASIC_AUDIO"
    layer_widths = (64, 35, 45, 40, 52)

    def input_spec(self) -> AudioInput:
        return AudioInput(sample_rate=SAMPLE_RATE, min_seconds=MIN_SECONDS)

    def compute(self, data: np.ndarray) -> list[np.ndarray]:
        return basic_audio_features(data)
