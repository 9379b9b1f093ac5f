"""VGGish's log-mel front end: 16 kHz mono waveform -> ``[N, 96, 64]`` examples of 0.96 s.

The parameters are those of the VGGish specification (AudioSet release, ``vggish_params``):

* STFT magnitude with a 25 ms window (400 samples) and 10 ms hop (160 samples), a *periodic*
  Hann window, FFT length 512 (next power of two), no centring/padding: frames that do not fit
  entirely are dropped.
* 64 triangular mel bands between 125 and 7500 Hz on the HTK mel scale
  (``mel = 1127 ln(1 + f / 700)``), applied to the magnitude (not power) spectrum; the DC bin gets
  weight 0.
* ``log(mel + 0.01)``.
* Non-overlapping examples of 96 frames (0.96 s); an incomplete last example is dropped.

A waveform shorter than 0.975 s (400 + 95 * 160 = 15 600 samples) therefore yields **0 examples**, as in
the reference; the extraction pipeline records such a clip as failed ("audio too short") rather
than padding it. A 10 s clip gives 10 examples.

Computed in float64 like the reference numpy code, returned as float32.
"""

from __future__ import annotations

import functools

import numpy as np

VGGISH_SAMPLE_RATE = 16000
STFT_WINDOW_SECONDS = 0.025
STFT_HOP_SECONDS = 0.010
NUM_MEL_BANDS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.01
EXAMPLE_FRAMES = 96  # 0.96 s of 10 ms frames
EXAMPLE_HOP_FRAMES = 96  # no overlap between examples

WINDOW_SAMPLES = int(round(VGGISH_SAMPLE_RATE * STFT_WINDOW_SECONDS))  # 400
HOP_SAMPLES = int(round(VGGISH_SAMPLE_RATE * STFT_HOP_SECONDS))  # 160
FFT_LENGTH = 1 << int(np.ceil(np.log2(WINDOW_SAMPLES)))  # 512
# Shortest waveform that gives one example: 96 STFT frames.
MIN_SAMPLES = WINDOW_SAMPLES + (EXAMPLE_FRAMES - 1) * HOP_SAMPLES


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


@functools.lru_cache(maxsize=4)
def mel_matrix(
    num_bands: int = NUM_MEL_BANDS,
    num_bins: int = FFT_LENGTH // 2 + 1,
    sample_rate: int = VGGISH_SAMPLE_RATE,
    low_hz: float = MEL_MIN_HZ,
    high_hz: float = MEL_MAX_HZ,
) -> np.ndarray:
    """``[num_bins, num_bands]`` weights mapping an STFT magnitude row to mel bands (read-only)."""
    nyquist = sample_rate / 2.0
    if not 0.0 <= low_hz < high_hz <= nyquist:
        raise ValueError(f"need 0 <= low_hz < high_hz <= {nyquist}, got {low_hz}, {high_hz}")
    bin_mels = _hz_to_mel(np.linspace(0.0, nyquist, num_bins))
    edges = np.linspace(_hz_to_mel(low_hz), _hz_to_mel(high_hz), num_bands + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bin_mels[:, None] - lower) / (centre - lower)
    falling = (upper - bin_mels[:, None]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0  # the DC bin contributes to no band
    weights.setflags(write=False)
    return weights


@functools.lru_cache(maxsize=1)
def _periodic_hann() -> np.ndarray:
    n = np.arange(WINDOW_SAMPLES)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / WINDOW_SAMPLES)
    window.setflags(write=False)
    return window


def log_mel_spectrogram(wave: np.ndarray) -> np.ndarray:
    """``[frames, 64]`` float64 log-mel spectrogram of a 16 kHz mono waveform (no padding)."""
    wave = np.asarray(wave, dtype=np.float64)
    if wave.ndim != 1:
        raise ValueError(f"expected a mono waveform of shape [samples], got {wave.shape}")
    num_frames = 0 if wave.shape[0] < WINDOW_SAMPLES else 1 + (wave.shape[0] - WINDOW_SAMPLES) // HOP_SAMPLES
    if num_frames == 0:
        return np.zeros((0, NUM_MEL_BANDS), dtype=np.float64)
    frames = np.lib.stride_tricks.sliding_window_view(wave, WINDOW_SAMPLES)[::HOP_SAMPLES][:num_frames]
    magnitude = np.abs(np.fft.rfft(frames * _periodic_hann(), FFT_LENGTH))
    return np.log(magnitude @ mel_matrix() + LOG_OFFSET)


def waveform_to_examples(wave: np.ndarray, sample_rate: int = VGGISH_SAMPLE_RATE) -> np.ndarray:
    """float32 ``[N, 96, 64]`` VGGish examples of a mono 16 kHz waveform in [-1, 1].

    ``N = 0`` when the waveform is shorter than :data:`MIN_SAMPLES` (0.975 s). The audio must
    already be at 16 kHz (the decoder resamples); another rate is an error, not a silent resample.
    A 2-D input ``[samples, channels]`` is averaged to mono, as the reference does.
    """
    if sample_rate != VGGISH_SAMPLE_RATE:
        raise ValueError(
            f"VGGish needs {VGGISH_SAMPLE_RATE} Hz audio, got {sample_rate} Hz; resample when decoding"
        )
    wave = np.asarray(wave)
    if wave.ndim == 2:
        wave = wave.mean(axis=1)
    log_mel = log_mel_spectrogram(wave)
    count = (
        0
        if log_mel.shape[0] < EXAMPLE_FRAMES
        else 1 + (log_mel.shape[0] - EXAMPLE_FRAMES) // EXAMPLE_HOP_FRAMES
    )
    examples = np.empty((count, EXAMPLE_FRAMES, NUM_MEL_BANDS), dtype=np.float32)
    for i in range(count):
        start = i * EXAMPLE_HOP_FRAMES
        examples[i] = log_mel[start : start + EXAMPLE_FRAMES]
    return examples
