"""Decoding clips from tar member bytes: frame sampling, sizes, audio rate, per-clip failures, worker split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fe_helpers import tone, write_shard
from torch.utils.data import DataLoader

from acav.core.media import MediaError
from acav.feature_extraction.base import AudioInput, ClipError, VisualInput
from acav.feature_extraction.basic_audio import BasicAudioExtractor
from acav.feature_extraction.basic_visual import BasicVisualExtractor
from acav.feature_extraction.dataset import (
    ClipDataset,
    ShardInput,
    decode_audio,
    keep_item,
    read_shard_json,
    sample_frames,
    worker_init,
)


@pytest.fixture
def counting_clip(make_video) -> bytes:
    """50 frames at 25 fps whose grey level encodes the frame index (5 * i), with a 440 Hz tone."""
    shots = [(0.04, (5 * i, 5 * i, 5 * i)) for i in range(50)]
    return make_video("count.mp4", shots=shots, size=(160, 120), fps=25.0).read_bytes()


def frame_numbers(frames: np.ndarray) -> np.ndarray:
    # The moving bar covers a few pixels; the median is the shot's grey level.
    return np.round(np.median(frames.reshape(len(frames), -1), axis=1) / 5).astype(int)


def test_frames_are_sampled_uniformly_at_the_requested_size(counting_clip: bytes):
    frames = sample_frames(counting_clip, VisualInput(num_frames=10, size=(32, 32)))
    assert frames.shape == (10, 32, 32, 3) and frames.dtype == np.uint8
    # uniform_indices(50, 10) = 2, 7, 12, ... 47 (centres of 10 equal segments)
    np.testing.assert_array_equal(frame_numbers(frames), np.arange(10) * 5 + 2)


def test_frame_pairs_for_short_term_motion(counting_clip: bytes):
    frames = sample_frames(counting_clip, VisualInput(num_frames=5, size=(16, 16), pair_offset=1))
    # uniform over the 49 frames that have a successor: 4, 14, 24, 34, 44, each followed by the next frame
    np.testing.assert_array_equal(frame_numbers(frames), [4, 5, 14, 15, 24, 25, 34, 35, 44, 45])


def test_short_side_and_centre_crop(counting_clip: bytes):
    frames = sample_frames(counting_clip, VisualInput(num_frames=4, short_side=64, crop=64))
    assert frames.shape == (4, 64, 64, 3)
    wide = sample_frames(counting_clip, VisualInput(num_frames=4, short_side=64))
    assert wide.shape == (4, 64, 86, 3)  # 160x120 -> short side 64, width rounded to even
    # Frames repeat when the clip has fewer frames than asked for.
    many = sample_frames(counting_clip, VisualInput(num_frames=80, size=(16, 16)))
    assert many.shape[0] == 80 and set(frame_numbers(many)) == set(range(50))


def test_audio_is_resampled_on_decode(make_video):
    data = make_video(
        "a.mp4", shots=[(2.0, (10, 10, 10))], audio=tone(2.0, 440.0), sample_rate=16000
    ).read_bytes()
    for rate in (16000, 8000):
        wave = decode_audio(data, AudioInput(sample_rate=rate))
        assert wave.dtype == np.float32 and wave.ndim == 1
        assert abs(wave.shape[0] - 2 * rate) < 0.05 * rate
        spectrum = np.abs(np.fft.rfft(wave[rate // 2 : rate // 2 + rate]))
        assert abs(np.argmax(spectrum) - 440) <= 2  # 1 Hz bins over one second
    with pytest.raises(ClipError, match="too short"):
        decode_audio(data, AudioInput(sample_rate=16000, min_seconds=5.0))
    silent = make_video("s.mp4", shots=[(1.0, (10, 10, 10))], audio=False).read_bytes()
    with pytest.raises(MediaError, match="no audio stream"):
        decode_audio(silent, AudioInput(sample_rate=16000))
    with pytest.raises(MediaError, match="video decode failed|no video"):
        sample_frames(b"not a video" * 50, VisualInput(num_frames=4, size=(16, 16)), "junk.mp4")


def test_shard_json_problems_are_reported(tmp_path: Path):
    assert read_shard_json(tmp_path / "none.json")[0] is None
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    names, error = read_shard_json(bad)
    assert names is None and "unreadable" in error
    odd = tmp_path / "odd.json"
    odd.write_text('[{"filename": "a.mp4"}, {"id": "x"}, 3]')
    assert read_shard_json(odd) == (["a.mp4"], None)


def test_workers_split_each_shard_and_each_send_an_end(tmp_path: Path, counting_clip: bytes):
    members = [(f"clip{i:07d}_{i}.mp4", counting_clip) for i in range(5)] + [("notes.txt", b"hello")]
    write_shard(tmp_path, 0, members)
    write_shard(tmp_path, 1, members[:2])
    shards = [
        ShardInput(f"shard-00000{i}", tmp_path / f"shard-00000{i}.tar", tmp_path / f"shard-00000{i}.json")
        for i in (0, 1)
    ]
    dataset = ClipDataset(shards, BasicVisualExtractor(), BasicAudioExtractor())
    loader = DataLoader(
        dataset, batch_size=None, num_workers=2, collate_fn=keep_item, worker_init_fn=worker_init
    )
    items = list(loader)
    clips = [(it["shard"], it["filename"]) for it in items if it["type"] == "clip"]
    assert sorted(clips) == sorted(
        [("shard-000000", n) for n, _ in members[:5]] + [("shard-000001", n) for n, _ in members[:2]]
    )
    ends = [it for it in items if it["type"] == "end"]
    assert sorted((e["shard"], e["worker"]) for e in ends) == [
        ("shard-000000", 0),
        ("shard-000000", 1),
        ("shard-000001", 0),
        ("shard-000001", 1),
    ]
    assert all(e["workers"] == 2 and e["error"] is None for e in ends)
    assert {e["members"] for e in ends if e["shard"] == "shard-000000"} == {
        5
    }  # the .txt member is not a clip
    # Each worker's items arrive in order: a shard's end comes after all of its clips from that worker.
    for worker in (0, 1):
        end_pos = next(
            i
            for i, it in enumerate(items)
            if it["type"] == "end" and it["worker"] == worker and it["shard"] == "shard-000000"
        )
        assert all(it["type"] == "clip" for it in items[:end_pos] if it.get("worker", worker) == worker)
    assert all(it["error"] is None and len(it["visual"]) == 5 for it in items if it["type"] == "clip")


def test_frames_sampled_the_same_when_the_container_has_no_frame_count(counting_clip: bytes, tmp_path: Path):
    import av

    from acav.core.media import run_ffmpeg

    source, remuxed = tmp_path / "count.mp4", tmp_path / "count.mkv"
    source.write_bytes(counting_clip)
    run_ffmpeg(["-loglevel", "error", "-y", "-i", str(source), "-c", "copy", str(remuxed)])
    with av.open(str(remuxed)) as container:
        assert container.streams.video[0].frames == 0  # Matroska: no count in the header
    spec = VisualInput(num_frames=10, size=(32, 32))
    frames = sample_frames(remuxed.read_bytes(), spec, "count.mkv")
    np.testing.assert_array_equal(frame_numbers(frames), np.arange(10) * 5 + 2)
    np.testing.assert_array_equal(frames, sample_frames(counting_clip, spec))
