"""Clips start and end on the requested frames, with video and audio."""

from __future__ import annotations

import numpy as np
import pytest

from acav.clip_segmentation.candidates import centred_window
from acav.clip_segmentation.cutter import copy_packets, cut_clip, format_seconds_floor, scale_filter
from acav.clip_segmentation.scores import analyse_video
from acav.clip_segmentation.smartcut import smart_cut
from acav.clip_segmentation.validate import clip_problem, stream_spans
from acav.core.decode import read_audio, read_video_frames
from acav.core.encode import encode_mp4
from acav.core.media import probe_media, run_ffmpeg


def test_format_seconds_floor_never_rounds_up():
    assert format_seconds_floor(12.52) == "12.520000"
    assert format_seconds_floor(10 / 3) == "3.333333"
    assert format_seconds_floor(2 / 3) == "0.666666"
    assert format_seconds_floor(-1.0) == "0.000000"


def test_scale_filter_only_shrinks():
    assert scale_filter(640, 360, 0) is None
    assert scale_filter(640, 360, 360) is None
    assert scale_filter(640, 360, 256) == "scale=w=-2:h=256"
    assert scale_filter(360, 640, 256) == "scale=w=256:h=-2"


@pytest.mark.parametrize(("fps", "mode"), [(25.0, "accurate"), (29.97, "accurate"), (25.0, "fast")])
def test_clip_is_frame_accurate(tmp_path, fps, mode):
    """Each frame's grey level encodes its index, so the clip's frames name the source frames."""
    count = int(30 * fps)
    width, height = 64, 48

    def frames():
        for index in range(count):
            yield np.full((height, width, 3), (index * 7) % 256, dtype=np.uint8)

    source = tmp_path / "source.mp4"
    tone = (0.2 * np.sin(np.arange(30 * 16000) / 16000 * 2 * np.pi * 440)).astype(np.float32)
    encode_mp4(source, frames(), width=width, height=height, fps=fps, audio=tone, sample_rate=16000, gop=48)
    analysis = analyse_video(source)
    window = centred_window(analysis, (3.3, 27.1), 10.0)
    clip = cut_clip(source, tmp_path / "clip.mp4", window.start, 10.0, mode=mode)

    got = read_video_frames(clip, pix_fmt="gray")
    src = read_video_frames(source, pix_fmt="gray")
    assert len(got.times) == window.last - window.first + 1
    assert got.times[0] == pytest.approx(0.0, abs=1e-3)
    level = lambda frames, i: float(frames[i].mean())  # noqa: E731
    assert level(got.frames, 0) == pytest.approx(level(src.frames, window.first), abs=1.5)
    assert abs(level(got.frames, 0) - level(src.frames, window.first - 1)) > 4
    assert level(got.frames, -1) == pytest.approx(level(src.frames, window.last), abs=1.5)
    assert window.end - window.start == pytest.approx(len(got.times) / fps, abs=1e-6)
    assert abs(window.end - window.start - 10.0) <= 1 / fps
    info = probe_media(clip)
    assert info.has_audio and info.has_video
    assert info.duration == pytest.approx(10.0, abs=0.1)


def test_copy_mode_keeps_the_packets_and_starts_at_the_frame_for_edit_list_readers(tmp_path):
    """The original's ``-c copy``: no re-encode; the copied keyframe run is hidden by the edit list."""
    fps, width, height = 25.0, 64, 48
    frames = (np.full((height, width, 3), (i * 7) % 256, dtype=np.uint8) for i in range(750))
    source = tmp_path / "source.mp4"
    tone = (0.2 * np.sin(np.arange(30 * 16000) / 16000 * 2 * np.pi * 440)).astype(np.float32)
    encode_mp4(source, frames, width=width, height=height, fps=fps, audio=tone, sample_rate=16000, gop=48)
    window = centred_window(analyse_video(source), (3.3, 27.1), 10.0)
    clip = cut_clip(
        source, tmp_path / "clip.mp4", window.start, 10.0, mode="copy", video_filter="scale=32:24"
    )
    got = read_video_frames(clip, pix_fmt="gray")
    src = read_video_frames(source, pix_fmt="gray")
    assert got.frames.shape[1:3] == (height, width)  # not re-encoded: the filter does not apply
    assert float(got.frames[0].mean()) == pytest.approx(float(src.frames[window.first].mean()), abs=1.5)
    assert 250 <= len(got.times) <= 250 + 48  # may run on to the next packet boundary
    assert probe_media(clip).has_audio
    # The stage's check counts only what the edit list shows: 10 s (+ the B-frame run of the last
    # packets), not the 0.6 s of the GOP before the start that the file also holds.
    spans = stream_spans(clip)
    assert 10.0 <= spans["video"] <= 10.0 + 4 / fps and 9.9 <= spans["audio"] <= 10.1
    assert clip_problem(clip, 10.0, with_audio=True) is None
    with pytest.raises(ValueError, match="cut mode"):
        cut_clip(source, tmp_path / "x.mp4", 1.0, 10.0, mode="bogus")


@pytest.mark.parametrize(
    ("start", "mode"), [(13.3333, "fast"), (7.5, "fast"), (13.3333, "accurate"), (13.32, "smart")]
)
def test_clip_audio_starts_at_the_requested_sample(tmp_path, start, mode):
    """``fast`` and ``smart`` copy the audio packets (the edit list hides the samples before the
    start): the clip's decoded sound is the source's own samples from the start on; ``accurate``
    re-encodes it."""
    rate = 16000
    noise = (0.3 * np.random.default_rng(0).standard_normal(25 * rate)).astype(np.float32)
    frames = (np.full((48, 64, 3), (i * 7) % 256, dtype=np.uint8) for i in range(625))
    source = tmp_path / "source.mp4"
    encode_mp4(source, frames, width=64, height=48, fps=25.0, audio=noise, sample_rate=rate, gop=48)
    clip = cut_clip(source, tmp_path / "clip.mp4", start, 10.0, mode=mode)
    got = read_audio(clip, sample_rate=rate)
    want = read_audio(source, sample_rate=rate)
    first = int(round(start * rate))
    assert abs(len(got) - 10 * rate) <= 1024  # up to one AAC frame more
    lags = range(-2000, 2001)
    best = max(lags, key=lambda lag: float(np.dot(got[:8000], want[first + lag : first + lag + 8000])))
    assert best == 0
    correlation = np.corrcoef(got[:8000], want[first : first + 8000])[0, 1]
    assert correlation > (0.98 if mode == "accurate" else 0.9999)  # AAC at 128k on white noise: 0.988


def _packets(path) -> list[tuple]:
    import av

    with av.open(str(path)) as container:
        return [
            (p.stream.type, p.pts, p.dts, p.is_keyframe, p.is_discard, bytes(p))
            for p in container.demux()
            if p.size
        ]


def test_copy_mode_writes_the_packets_of_ffmpeg_stream_copy(tmp_path):
    """``copy`` copies the packets in-process: the same packets (times, flags, bytes) as the ffmpeg
    command the original ran, for starts on and between keyframes, near the end, with a container
    start offset and without audio."""
    fps = 25.0
    frames = (np.full((48, 64, 3), (i * 7) % 256, dtype=np.uint8) for i in range(750))
    tone = (0.2 * np.sin(np.arange(30 * 16000) / 16000 * 2 * np.pi * 440)).astype(np.float32)
    plain = tmp_path / "plain.mp4"
    encode_mp4(plain, frames, width=64, height=48, fps=fps, audio=tone, sample_rate=16000, gop=48)
    shifted = tmp_path / "shifted.mp4"
    run_ffmpeg(["-loglevel", "error", "-i", str(plain), "-c", "copy", "-output_ts_offset", "5", str(shifted)])
    cases = [(plain, 0.0), (plain, 7.68), (plain, 10.2), (plain, 13.3333), (plain, 25.5), (shifted, 10.2)]
    for source, start in cases:
        for with_audio in (True, False):
            reference = tmp_path / "reference.mp4"
            streams = ["-map", "0:v:0", "-map", "0:a:0"] if with_audio else ["-map", "0:v:0"]
            run_ffmpeg(["-loglevel", "error", "-y", "-ss", format_seconds_floor(start), "-i", str(source),
                        "-t", "10.000000", *streams, "-c", "copy", "-movflags", "+faststart", "-f", "mp4",
                        str(reference)])  # fmt: skip
            clip = tmp_path / "clip.mp4"
            copy_packets(source, clip, start, 10.0, with_audio=with_audio)  # raises: no ffmpeg fallback
            got, want = _packets(clip), _packets(reference)
            assert len(got) > 100 and got == want, (source.name, start, with_audio)


def _grey_source(tmp_path, gop: int, seconds: int = 30):
    """Frame i is flat grey level (i * 7) % 256: a frame's level names its source frame."""
    fps = 25.0
    frames = (np.full((48, 64, 3), (i * 7) % 256, dtype=np.uint8) for i in range(int(seconds * fps)))
    tone = (0.2 * np.sin(np.arange(seconds * 16000) / 16000 * 2 * np.pi * 440)).astype(np.float32)
    source = tmp_path / f"grey_gop{gop}.mp4"
    encode_mp4(source, frames, width=64, height=48, fps=fps, audio=tone, sample_rate=16000, gop=gop)
    return source


@pytest.mark.parametrize(("first", "copied_from"), [(255, 288), (240, 240), (287, 288)])
def test_smart_mode_encodes_only_up_to_the_first_keyframe(tmp_path, first, copied_from):
    """Keyframes every 48 frames (9.6 s, 11.52 s, ...): the clip starts at the window's first frame,
    is evenly timed, and from the keyframe on holds the source's own decoded frames; like ``copy``
    it may run on past the end by frames that a frame of the clip needs (here up to 2, the
    source's reorder delay), which are the source's next frames; every frame decodes cleanly."""
    source = _grey_source(tmp_path, gop=48)
    start = first / 25.0
    clip = tmp_path / "clip.mp4"
    assert smart_cut(source, clip, start, 10.0) is True
    got = read_video_frames(clip, pix_fmt="gray")
    src = read_video_frames(source, pix_fmt="gray")
    assert 250 <= len(got.frames) <= 252
    assert np.allclose(np.diff(got.times[:250]), 0.04) and got.times[0] == pytest.approx(0.0, abs=1e-6)
    head = copied_from - first
    assert np.array_equal(got.frames[head:250], src.frames[copied_from : first + 250])
    levels = got.frames[:head].mean(axis=(1, 2))
    assert np.allclose(levels, src.frames[first:copied_from].mean(axis=(1, 2)), atol=1.5)
    for extra, time in zip(got.frames[250:], got.times[250:], strict=True):  # the run-on, if any
        assert np.array_equal(extra, src.frames[first + int(round(time * 25))])
    assert run_ffmpeg(["-v", "error", "-i", str(clip), "-f", "null", "-"]).stderr == b""
    assert clip_problem(clip, 10.0, with_audio=True) is None


@pytest.mark.parametrize(
    "x264",
    [
        "keyint=1000:scenecut=0",  # the only keyframe is at 0: none inside the clip
        "open-gop=1:keyint=48:min-keyint=48:scenecut=0",  # keyframes are recovery points, not IDR
    ],
)
def test_smart_mode_re_encodes_the_whole_clip_when_it_cannot_copy(tmp_path, x264):
    source = tmp_path / "source.mp4"
    run_ffmpeg(["-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=64x48:r=25:d=30", "-f", "lavfi",
                "-i", "sine=frequency=440:sample_rate=16000:duration=30", "-c:v", "libx264",
                "-x264-params", x264, "-c:a", "aac", "-shortest", str(source)])  # fmt: skip
    assert smart_cut(source, tmp_path / "clip.mp4", 10.2, 10.0) is False
    clip = cut_clip(source, tmp_path / "clip.mp4", 10.2, 10.0, mode="smart")
    got = read_video_frames(clip, pix_fmt="gray")
    src = read_video_frames(source, pix_fmt="gray")
    assert len(got.frames) == 250
    error = got.frames.astype(float) - src.frames[255:505]
    assert 10 * np.log10(255**2 / np.mean(error**2)) > 30  # re-encoded, frame for frame
