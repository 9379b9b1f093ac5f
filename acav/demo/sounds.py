"""Audio classes of the demo videos: tone, timbre and rhythm, with per-video and per-shot variation.

Each class occupies its own part of the spectrum and has its own rhythm, so a mel-band spectrum
separates them; each video draws its own pitch jitter, loudness and background-noise level, and each
shot varies pitch and loudness slightly (the sound changes at a cut, as in real footage).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from acav.demo.plan import STREAM_AUDIO, DemoConfig, VideoPlan, rng_for


@dataclass(frozen=True)
class AudioClass:
    name: str
    description: str


AUDIO_CLASSES: tuple[AudioClass, ...] = (
    AudioClass("low-hum", "pure tone near 180 Hz with a slow tremolo"),
    AudioClass("chime-pulses", "major chord near 1.1 kHz with harmonics, struck twice per second"),
    AudioClass("noise-bursts", "band-limited noise 2.5-5 kHz in bursts three times per second"),
    AudioClass("sweeps", "rising exponential chirps 300 Hz to 2.4 kHz, about one per 1.5 s"),
    AudioClass("buzz", "square-like wave near 300 Hz (odd harmonics) with 5 Hz vibrato"),
    AudioClass("rumble-clicks", "low-passed noise below 300 Hz with a sharp click every second"),
)

# A synthesiser maps (t seconds [N], sample_rate, pitch factor, rng) to a signal with peak ~1.
Synth = Callable[[np.ndarray, int, float, np.random.Generator], np.ndarray]


def _band_noise(n: int, sample_rate: int, low: float, high: float, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    spectrum[(freqs < low) | (freqs > high)] = 0
    noise = np.fft.irfft(spectrum, n)
    return noise / (np.max(np.abs(noise)) + 1e-9)


def _low_hum(t, sr, pitch, rng):
    f = 180.0 * pitch
    return np.sin(2 * np.pi * f * t) * (0.75 + 0.25 * np.sin(2 * np.pi * 0.5 * t + rng.uniform(0, 6.28)))


def _chime_pulses(t, sr, pitch, rng):
    f = 1100.0 * pitch
    tone = sum(np.sin(2 * np.pi * f * r * t) + 0.3 * np.sin(4 * np.pi * f * r * t) for r in (1.0, 1.25, 1.5))
    since_strike = np.mod(t + rng.uniform(0, 0.5), 0.5)
    return tone / 3.9 * np.exp(-since_strike / 0.12)


def _noise_bursts(t, sr, pitch, rng):
    noise = _band_noise(len(t), sr, 2500.0 * pitch, 5000.0 * pitch, rng)
    gate = (np.mod(t * 3.0 + rng.uniform(0, 1), 1.0) < 0.4).astype(np.float64)
    return noise * gate


def _sweeps(t, sr, pitch, rng):
    period = 1.5 / pitch
    local = np.mod(t + rng.uniform(0, period), period)
    f0, f1 = 300.0 * pitch, 2400.0 * pitch
    rate = np.log(f1 / f0) / period
    # Phase of an exponential chirp: integral of f0 * exp(rate * s) ds.
    phase = 2 * np.pi * f0 * (np.exp(rate * local) - 1.0) / rate
    return np.sin(phase) * np.minimum(1.0, local / 0.02)


def _buzz(t, sr, pitch, rng):
    f = 300.0 * pitch
    phase = 2 * np.pi * f * t + 0.01 * f * np.sin(2 * np.pi * 5.0 * t) / 5.0
    wave = sum(np.sin(n * phase) / n for n in (1, 3, 5, 7))
    return wave / 1.2


def _rumble_clicks(t, sr, pitch, rng):
    rumble = _band_noise(len(t), sr, 30.0, 300.0 * pitch, rng)
    since_click = np.mod(t + rng.uniform(0, 1), 1.0)
    click = np.exp(-since_click / 0.004) * np.sign(np.sin(2 * np.pi * 2000.0 * t))
    return 0.6 * rumble + 0.6 * click


SYNTHS: tuple[Synth, ...] = (_low_hum, _chime_pulses, _noise_bursts, _sweeps, _buzz, _rumble_clicks)


def render_audio(plan: VideoPlan, config: DemoConfig) -> np.ndarray:
    """Mono float32 audio of exactly ``plan.duration`` seconds at ``config.sample_rate``."""
    sr = config.sample_rate
    rng = rng_for(config.seed, STREAM_AUDIO, plan.index)
    synth = SYNTHS[plan.audio_class]
    video_pitch = rng.uniform(0.93, 1.07)
    loudness = rng.uniform(0.35, 0.7)
    noise_level = rng.uniform(0.005, 0.03)
    audio = np.empty(plan.duration * sr, dtype=np.float32)
    for first, end in plan.shot_ranges():
        a = int(round(first / config.fps * sr))
        b = int(round(end / config.fps * sr))
        t = np.arange(b - a, dtype=np.float64) / sr
        shot_pitch = video_pitch * rng.uniform(0.97, 1.03)
        shot_gain = loudness * rng.uniform(0.8, 1.0)
        signal = synth(t, sr, shot_pitch, rng) * shot_gain
        # Short fades avoid clicks at the cut that would blur the classes' spectra.
        fade = min(len(t) // 2, int(0.01 * sr))
        if fade:
            ramp = np.linspace(0.0, 1.0, fade)
            signal[:fade] *= ramp
            signal[-fade:] *= ramp[::-1]
        audio[a:b] = signal
    audio += noise_level * rng.standard_normal(len(audio)).astype(np.float32)
    return np.clip(audio, -1.0, 1.0)
