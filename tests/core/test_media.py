from pathlib import Path

import numpy as np
import pytest

from acav.core.decode import read_audio, read_video_frames, uniform_indices
from acav.core.media import MediaError, probe_media, run_ffmpeg


def test_encode_probe_decode_round_trip(make_video) -> None:
    path = make_video(shots=[(2.0, (255, 0, 0)), (2.0, (0, 0, 255))], size=(160, 120), fps=25)
    info = probe_media(path)
    assert info.has_video and info.has_audio
    assert info.width == 160 and info.height == 120
    assert info.duration == pytest.approx(4.0, abs=0.1)
    video = read_video_frames(path, size=(32, 24))
    assert video.frames.shape == (100, 24, 32, 3)
    assert video.fps == pytest.approx(25.0)
    # first shot red, second blue (corner pixel, away from the moving square)
    assert video.frames[10, 2, 2, 0] > 200 and video.frames[10, 2, 2, 2] < 60
    assert video.frames[80, 2, 2, 2] > 200 and video.frames[80, 2, 2, 0] < 60


def test_decode_window_from_bytes_and_short_side(make_video) -> None:
    path = make_video(shots=[(4.0, (0, 200, 0))], size=(160, 120), fps=25)
    video = read_video_frames(path.read_bytes(), short_side=48, pix_fmt="gray", start=1.0, end=2.0)
    assert video.frames.shape == (25, 48, 64, 1)
    assert video.times[0] == pytest.approx(1.0) and video.times[-1] == pytest.approx(1.96)


def test_audio_resampled_on_decode(make_video) -> None:
    path = make_video(shots=[(3.0, (0, 0, 0))], sample_rate=44100)
    audio = read_audio(path, sample_rate=16000, start=1.0, end=2.0)
    assert audio.dtype == np.float32 and audio.shape == (16000,)
    spectrum = np.abs(np.fft.rfft(audio))
    assert np.argmax(spectrum) == pytest.approx(440, abs=2)  # 1 Hz bins over 1 s


def test_missing_audio_and_corrupt_files_raise_media_error(make_video, tmp_path: Path) -> None:
    silent = make_video("silent.mp4", audio=False)
    assert not probe_media(silent).has_audio
    with pytest.raises(MediaError, match="no audio stream"):
        read_audio(silent, sample_rate=16000)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    with pytest.raises(MediaError, match="corrupt.mp4"):
        probe_media(corrupt)
    with pytest.raises(MediaError, match="corrupt.mp4"):
        read_video_frames(corrupt, size=(32, 24))


def test_run_ffmpeg_reports_failure() -> None:
    with pytest.raises(MediaError, match="ffmpeg failed"):
        run_ffmpeg(["-i", "/nonexistent/input.mp4", "-f", "null", "-"])


def test_uniform_indices() -> None:
    assert uniform_indices(100, 4).tolist() == [12, 37, 62, 87]
    assert uniform_indices(2, 4).tolist() == [0, 0, 1, 1]
