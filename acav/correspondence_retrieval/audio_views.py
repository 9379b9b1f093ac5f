"""Per-class audio views synthesised offline, for the digits x sound data sets.

* ``speech``: the digit's English name spoken by the espeak-ng speech synthesiser (a Debian package,
  ``apt-get install espeak-ng``; no network at run time), with several voices, speeds and pitches,
  then small gain, noise and time-shift variations. The offline stand-in for FSDD.
* ``dtmf``: when espeak-ng is not installed, each digit's telephone DTMF tone pair (a
  deterministic per-class synthetic sound, not speech), with per-sample duration, detuning, gain
  and noise. Clearly a weaker stand-in: data sets built from it are named ``digits_dtmf``.

Both return mono 16 kHz float waveforms; features come from stage 4's ``basic_audio`` layers.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave

import numpy as np

SAMPLE_RATE = 16000
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
VOICES = ("en", "en-us", "en+f2", "en+m3", "en-gb-x-rp", "en+f4", "en-us+m5", "en+whisper")
SPEEDS = (120, 150, 180, 210)
PITCHES = (30, 50, 70)
# DTMF (ITU-T Q.23): row and column frequencies of the keys 0-9.
DTMF = {0: (941, 1336), 1: (697, 1209), 2: (697, 1336), 3: (697, 1477), 4: (770, 1209),
        5: (770, 1336), 6: (770, 1477), 7: (852, 1209), 8: (852, 1336), 9: (852, 1477)}  # fmt: skip


def espeak_binary() -> str | None:
    return shutil.which("espeak-ng") or shutil.which("espeak")


def read_wav_bytes(data: bytes) -> tuple[np.ndarray, int]:
    """Mono float waveform in [-1, 1] and its sample rate from 16-bit PCM WAV bytes."""
    with wave.open(io.BytesIO(data)) as handle:
        rate = handle.getframerate()
        channels = handle.getnchannels()
        width = handle.getsampwidth()
        frames = handle.readframes(handle.getnframes())
    if width != 2:
        raise ValueError(f"only 16-bit PCM WAV is supported (got {8 * width}-bit)")
    wave_ = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        wave_ = wave_.reshape(-1, channels).mean(1)
    return wave_, rate


def resample(wave_: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Linear-interpolation resampling (enough for features that stop at 7.5 kHz)."""
    if rate == target or wave_.size == 0:
        return wave_.astype(np.float32)
    n_out = int(round(wave_.size * target / rate))
    return np.interp(np.arange(n_out) * (rate / target), np.arange(wave_.size), wave_).astype(np.float32)


def speak(word: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    """``word`` spoken by espeak-ng as a 16 kHz waveform (raises when espeak-ng fails)."""
    binary = espeak_binary()
    if binary is None:
        raise FileNotFoundError("espeak-ng is not installed (apt-get install espeak-ng)")
    cmd = [binary, "--stdout", "-v", voice, "-s", str(speed), "-p", str(pitch), word]
    result = subprocess.run(cmd, capture_output=True, check=True, timeout=30)
    wave_, rate = read_wav_bytes(result.stdout)
    return resample(wave_, rate)


def _vary(wave_: np.ndarray, rng: np.random.Generator, min_seconds: float = 1.0) -> np.ndarray:
    """Gain, background noise, random leading silence; padded to ``min_seconds``."""
    lead = np.zeros(int(rng.uniform(0.0, 0.2) * SAMPLE_RATE), np.float32)
    out = np.concatenate([lead, wave_ * rng.uniform(0.5, 1.0)])
    if out.size < min_seconds * SAMPLE_RATE:
        out = np.concatenate([out, np.zeros(int(min_seconds * SAMPLE_RATE) - out.size, np.float32)])
    noise = rng.standard_normal(out.size).astype(np.float32) * rng.uniform(0.002, 0.02)
    return (out + noise).astype(np.float32)


def speech_waves(digit: int, count: int, seed: int) -> list[np.ndarray]:
    """``count`` spoken versions of ``digit``: voices x speeds x pitches, then random variations."""
    rng = np.random.default_rng([seed, digit])
    combos = [(v, s, p) for v in VOICES for s in SPEEDS for p in PITCHES]
    picks = rng.permutation(len(combos))[: min(count, 24)]
    base = [speak(DIGIT_WORDS[digit], *combos[i]) for i in picks]
    return [_vary(base[i % len(base)], rng) for i in range(count)]


def dtmf_waves(digit: int, count: int, seed: int) -> list[np.ndarray]:
    """``count`` DTMF tones of ``digit`` with per-sample duration, detuning, gain and noise."""
    rng = np.random.default_rng([seed, digit, 1])
    low, high = DTMF[digit]
    waves = []
    for _ in range(count):
        seconds = rng.uniform(0.3, 0.8)
        t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
        detune = rng.uniform(0.97, 1.03)
        tone = np.sin(2 * np.pi * low * detune * t) + rng.uniform(0.6, 1.0) * np.sin(
            2 * np.pi * high * detune * t
        )
        waves.append(_vary((0.4 * tone).astype(np.float32), rng))
    return waves


def audio_layers(waves: list[np.ndarray]) -> list[np.ndarray]:
    """Stage 4's five ``basic_audio`` layers of each waveform, stacked per layer."""
    from acav.feature_extraction.basic_audio import basic_audio_features

    rows = [basic_audio_features(w) for w in waves]
    return [np.stack([r[layer] for r in rows]).astype(np.float32) for layer in range(len(rows[0]))]
