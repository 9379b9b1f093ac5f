"""Tiny real clips for the evaluation tests: solid-colour frames with a moving square, a tone."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from acav.core.encode import encode_mp4

# One intra-op thread: these models are tiny, and on a shared 2-core machine two threads contend
# (measured: 15x slower training steps under load).
torch.set_num_threads(1)

COLOURS = [(220, 40, 40), (40, 40, 220), (40, 200, 40)]
TONES = [300.0, 1200.0, 3000.0]


def make_clip(path: Path, colour: int, tone: int, seconds: float = 2.0, fps: int = 15, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(int(seconds * fps)):
        frame = np.empty((72, 96, 3), np.uint8)
        frame[:] = COLOURS[colour]
        x = (i * 4 + int(rng.integers(0, 40))) % 80
        frame[20:36, x : x + 16] = 255
        frames.append(frame)
    t = np.arange(int(seconds * 16000)) / 16000
    audio = (0.3 * np.sin(2 * np.pi * TONES[tone] * t)).astype(np.float32)
    return encode_mp4(path, frames, width=96, height=72, fps=fps, audio=audio, sample_rate=16000)


def write_export_shards(directory: Path, clips: list[tuple[str, bytes]], per_shard: int) -> list[Path]:
    """Shards in ``acav export``'s layout: ``{key}.mp4`` + ``{key}.json`` members and a .json index."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in range(0, len(clips), per_shard):
        path = directory / f"shard-{s // per_shard:06d}.tar"
        records = []
        with tarfile.open(path, "w") as tar:
            for key, data in clips[s : s + per_shard]:
                record = json.dumps({"key": key, "id": key.rsplit("_", 1)[0]}).encode()
                for name, payload in ((f"{key}.mp4", data), (f"{key}.json", record)):
                    info = tarfile.TarInfo(name)
                    info.size = len(payload)
                    tar.addfile(info, io.BytesIO(payload))
                records.append({"key": key})
        path.with_suffix(".json").write_text(json.dumps(records))
        paths.append(path)
    (directory / "manifest.json").write_text(json.dumps({"clips": len(clips)}))
    return paths


@pytest.fixture(scope="session")
def clip_bank(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, bytes, int, int]]:
    """12 clips ``(key, mp4 bytes, colour class, tone class)``; classes match in clips 0-5."""
    root = tmp_path_factory.mktemp("clips")
    bank = []
    for i in range(12):
        colour, tone = i % 3, (i % 3 if i < 6 else (i + 1) % 3)
        key = f"vid{i:08d}_{i:03d}"
        path = make_clip(root / f"{key}.mp4", colour, tone, seed=i)
        bank.append((key, path.read_bytes(), colour, tone))
    return bank
