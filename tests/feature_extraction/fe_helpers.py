"""Helpers for stage-4 tests (a module of its own: the test folders are not packages)."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000


def tone(seconds: float, freq: float, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_shard(
    directory: Path, index: int, members: Sequence[tuple[str, bytes]], listed: Sequence[str] | None = None
) -> Path:
    """``shard-{index:06d}.tar`` with ``members`` (name, bytes) and its ``.json`` listing ``listed``."""
    directory.mkdir(parents=True, exist_ok=True)
    tar_path = directory / f"shard-{index:06d}.tar"
    with tarfile.open(tar_path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    names = [n for n, _ in members] if listed is None else list(listed)
    entries = [
        {"filename": n, "id": n.rsplit("_", 1)[0], "segment": [float(i), float(i) + 2.0]}
        for i, n in enumerate(names)
    ]
    (directory / f"shard-{index:06d}.json").write_text(json.dumps(entries), encoding="utf-8")
    return tar_path
