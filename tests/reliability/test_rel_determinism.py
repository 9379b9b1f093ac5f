"""Encoder determinism: x264's threaded lookahead made the same input give different files under
load (5 different outputs in 24 encodes of one demo video, 8 at a time, before the fix)."""

from __future__ import annotations

import concurrent.futures
import hashlib
from pathlib import Path

import numpy as np
import pytest

from acav.clip_segmentation.cutter import cut_clip
from acav.core.encode import encode_mp4
from acav.demo.plan import DemoConfig, make_plan
from acav.demo.visuals import iter_frames


@pytest.mark.slow
def test_the_same_video_encoded_concurrently_is_byte_identical(tmp_path: Path) -> None:
    config = DemoConfig()
    plan = max(make_plan(config), key=lambda p: p.duration)  # the longest: most frames, most chances
    frames = list(iter_frames(plan, config))

    def encode(i: int) -> str:
        path = encode_mp4(tmp_path / f"v{i}.mp4", iter(frames), width=config.width, height=config.height,
                          fps=config.fps, gop=2 * config.fps)  # fmt: skip
        return hashlib.sha256(path.read_bytes()).hexdigest()

    with concurrent.futures.ThreadPoolExecutor(8) as pool:  # 8 encoders on the CPUs at once: timing varies
        digests = list(pool.map(encode, range(24)))
    assert len(set(digests)) == 1, {d[:8]: digests.count(d) for d in set(digests)}
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        cuts = list(
            pool.map(
                lambda i: cut_clip(tmp_path / "v0.mp4", tmp_path / f"c{i}.mp4", 3.0, 10.0, with_audio=False),
                range(8),
            )
        )
    assert len({hashlib.sha256(c.read_bytes()).hexdigest() for c in cuts}) == 1
    assert np.isfinite(plan.duration)
