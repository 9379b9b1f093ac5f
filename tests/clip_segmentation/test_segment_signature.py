"""``--diversity signature``: the release's greedy choice with ffmpeg's real ``signature`` filter.

The release (clip_segmentation/code/extract_clips.py, sampling ``diversity_greedy``, the default of
its run.py) shuffles the candidate clips, keeps the first, then for each further clip scans the
rest in order: the sum of matched frames against every kept clip; a sum of 0 is taken at once,
otherwise the lowest sum (the first of equals). Written again here, independently.
"""

from __future__ import annotations

import random
import subprocess

import numpy as np
import pytest

from acav.clip_segmentation.config import SegmentConfig
from acav.clip_segmentation.runner import VideoTask, process_video, video_seed
from acav.clip_segmentation.signature import choose_by_signature, signature_matches
from acav.core.media import ffmpeg_binary


def release_greedy(clips: list[int], num_clips: int, similarity, rng: random.Random) -> list[int]:
    clips = list(clips)
    rng.shuffle(clips)
    if len(clips) <= num_clips:
        return clips
    kept, others = [clips[0]], clips[1:]
    for _ in range(num_clips - 1):
        lowest, candidate = 1e10, None
        for i, other in enumerate(others):
            sim = sum(similarity(k, other) for k in kept)
            if sim == 0:
                candidate = i
                break
            if sim < lowest:
                candidate, lowest = i, sim
        kept.append(others.pop(candidate))
    return kept


def test_greedy_equals_the_release_on_random_match_counts():
    rng = np.random.default_rng(3)
    for case in range(300):
        n = int(rng.integers(1, 9))
        counts = rng.integers(0, 4, size=(n, n)) * rng.integers(0, 2, size=(n, n)) * 50
        paths = [f"clip{i}.mp4" for i in range(n)]

        def matches(a: str, b: str, counts=counts) -> int:
            return int(counts[int(a[4:-4]), int(b[4:-4])])

        ours = choose_by_signature(paths, 3, random.Random(case), matches)
        expected = release_greedy(list(range(n)), 3, lambda a, b, c=counts: int(c[a, b]), random.Random(case))
        assert ours == expected, case


def _testsrc(path, seconds: float) -> None:
    subprocess.run(
        [ffmpeg_binary(), "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25",
         "-t", str(seconds), "-c:v", "libx264", str(path)],
        check=True,
    )  # fmt: skip


@pytest.mark.slow
def test_signature_filter_finds_no_match_between_10_s_clips(tmp_path):
    # The release compared 10 s clips. The filter's default thresholds need longer matches: this
    # 60 s video matches itself (900 frames with the bundled ffmpeg), its first 10 s do not (0), so
    # the release's sums are 0 and it keeps the candidates in their shuffled order.
    long, short = tmp_path / "a60.mp4", tmp_path / "a10.mp4"
    _testsrc(long, 60)
    _testsrc(short, 10)
    assert signature_matches(long, long) > 100
    assert signature_matches(short, short) == 0


def test_runner_with_signature_diversity_takes_the_release_choice(make_video, tmp_path):
    colours = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30), (30, 200, 200)]
    path = make_video("five.mp4", shots=[(11.0, c) for c in colours])
    clips_dir = tmp_path / "clips"
    clips_dir.mkdir()
    cfg = SegmentConfig(workers=1, diversity="signature", seed=5)
    record = process_video(VideoTask("five_shots", str(path), str(clips_dir), cfg))
    assert record["status"] == "ok" and record["candidates"] == 5, record
    # Every pair of 10 s clips matches 0 frames: the first three of the seeded shuffle are kept.
    order = release_greedy(list(range(5)), 3, lambda a, b: 0, random.Random(video_seed(5, "five_shots")))
    assert [int(c["start"]) for c in record["clips"]] == sorted(11 * k for k in order)
    assert sorted(p.name for p in clips_dir.iterdir()) == sorted(c["filename"] for c in record["clips"])
