"""Stage 4 audio input: stereo is averaged, (L+R)/2, as in the original release (np.mean over the
channels, then resampling to 16 kHz), not FFmpeg's (L+R)/sqrt(2) downmix."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import resample_poly

from acav.core.decode import read_audio
from acav.feature_extraction.base import AudioInput
from acav.feature_extraction.dataset import decode_audio

RATE_IN = 48000
SECONDS = 2.0


def _stereo(left_amp: float, right_amp: float, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(RATE_IN * SECONDS)) / RATE_IN
    wave_ = np.sin(2 * np.pi * freq * t)
    return np.stack([left_amp * wave_, right_amp * wave_], axis=1)  # [samples, 2], as a WAV holds it


def _write_wav(path: Path, samples: np.ndarray) -> Path:
    pcm = np.round(samples * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(samples.shape[1])
        out.setsampwidth(2)
        out.setframerate(RATE_IN)
        out.writeframes(pcm.tobytes())
    return path


def _original_input(samples: np.ndarray) -> np.ndarray:
    """The original's VGGish input: channel mean at the source rate, then resampling to 16 kHz."""
    mono = samples.mean(axis=1)
    return resample_poly(mono, 1, RATE_IN // 16000)


def _amplitude(signal: np.ndarray, rate: int = 16000) -> float:
    middle = signal[rate // 2 : rate // 2 + rate]  # away from the resampler's edges
    return float(np.sqrt(2.0) * np.sqrt(np.mean(middle.astype(np.float64) ** 2)))


@pytest.mark.parametrize(("left", "right", "expected"), [(0.5, 0.3, 0.4), (0.6, 0.0, 0.3), (0.5, -0.5, 0.0)])
def test_stereo_wav_is_averaged(tmp_path: Path, left: float, right: float, expected: float) -> None:
    samples = _stereo(left, right)
    path = _write_wav(tmp_path / "tone.wav", samples)
    ours = read_audio(path, sample_rate=16000)
    assert ours.ndim == 1 and abs(ours.shape[0] - 32000) <= 16
    assert _amplitude(ours) == pytest.approx(expected, abs=0.003)
    reference = _original_input(samples)
    n = min(len(ours), len(reference))
    assert np.max(np.abs(ours[1000 : n - 1000] - reference[1000 : n - 1000])) < 0.003
    # The stage-4 path (bytes of a clip) gives the same samples.
    np.testing.assert_allclose(
        decode_audio(path.read_bytes(), AudioInput(sample_rate=16000)), ours, atol=1e-6
    )


def test_stereo_aac_clip_is_averaged(tmp_path: Path) -> None:
    """A real mp4 clip with AAC stereo (lossy, so a looser tolerance): 0.4 and not 0.566."""
    import imageio_ffmpeg

    wav = _write_wav(tmp_path / "tone.wav", _stereo(0.5, 0.3))
    clip = tmp_path / "clip.mp4"
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-v",
        "error",
        "-f",
        "lavfi",
        "-i",
        "color=c=gray:s=64x48:r=10:d=2",
    ]
    cmd += ["-i", str(wav), "-c:v", "libx264", "-c:a", "aac", "-b:a", "192k", "-shortest", str(clip)]
    subprocess.run(cmd, check=True)
    wave_ = decode_audio(clip.read_bytes(), AudioInput(sample_rate=16000))
    assert _amplitude(wave_) == pytest.approx(0.4, abs=0.01)


def test_stereo_output_keeps_both_channels(tmp_path: Path) -> None:
    path = _write_wav(tmp_path / "tone.wav", _stereo(0.5, 0.3))
    both = read_audio(path, sample_rate=16000, mono=False)
    assert both.shape[0] == 2
    assert [_amplitude(c) for c in both] == pytest.approx([0.5, 0.3], abs=0.003)
