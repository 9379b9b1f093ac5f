"""Real-data loaders on tiny files written here in the public layouts (nothing is downloaded)."""

from __future__ import annotations

import gzip
import pickle
import wave

import numpy as np
import pytest

from acav.core.safe_pickle import UnsafePickleError
from acav.correspondence_retrieval.loaders import load_cifar10, load_fsdd, load_mnist, read_idx, real_source


def _write_cifar(root, n=20, seed=0):
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in ("data_batch_1", "test_batch"):
        batch = {
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"labels": [i % 10 for i in range(n)],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))


def _idx(data: np.ndarray, code: int) -> bytes:
    header = bytes([0, 0, code, data.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in data.shape)
    return header + data.tobytes()


def _write_mnist(root, n=30):
    folder = root / "mnist"
    folder.mkdir(parents=True)
    images = (np.arange(n * 28 * 28) % 251).astype(np.uint8).reshape(n, 28, 28)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(images, 0x08)))
    (folder / "train-labels-idx1-ubyte").write_bytes(_idx((np.arange(n) % 10).astype(np.uint8), 0x08))
    return images


def _write_fsdd(root, per_digit=3):
    folder = root / "free-spoken-digit-dataset-1.0.10" / "recordings"
    folder.mkdir(parents=True)
    t = np.arange(4000) / 8000
    for digit in range(10):
        for n in range(per_digit):
            samples = (0.3 * np.sin(2 * np.pi * (200 + 50 * digit) * t) * 32767).astype("<i2")
            with wave.open(str(folder / f"{digit}_jackson_{n}.wav"), "wb") as handle:
                handle.setnchannels(1)
                handle.setsampwidth(2)
                handle.setframerate(8000)
                handle.writeframes(samples.tobytes())
    (folder / "README.wav").write_bytes(b"not a recording")


def test_cifar_batches_load_and_make_a_flip_source(tmp_path):
    _write_cifar(tmp_path)
    images, labels = load_cifar10(tmp_path)
    assert images.shape == (40, 32, 32, 3) and images.dtype == np.uint8
    assert labels.tolist()[:12] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    source = real_source("cifar_flip", tmp_path, {})
    assert [x.shape for x in source.views["image"]] == [(40, 64), (40, 48), (40, 40), (40, 128), (40, 16)]
    assert source.aligned and source.views.keys() == {"image", "image_flip"}


def test_cifar_loader_refuses_a_pickle_that_runs_code(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("echo pwned",))

    (folder / "data_batch_1").write_bytes(pickle.dumps(Evil(), protocol=2))
    with pytest.raises(UnsafePickleError, match="os.system|posix.system"):
        load_cifar10(tmp_path)


def test_mnist_idx_gz_and_plain(tmp_path):
    images = _write_mnist(tmp_path)
    got, labels = load_mnist(tmp_path)
    np.testing.assert_array_equal(got, images)
    assert labels.tolist()[:11] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0]
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x08\x01")
    with pytest.raises(ValueError, match="magic"):
        read_idx(bad)


def test_fsdd_and_mnist_make_a_class_level_source(tmp_path):
    _write_mnist(tmp_path)
    _write_fsdd(tmp_path)
    waves, labels = load_fsdd(tmp_path)
    assert len(waves) == 30 and labels.tolist().count(7) == 3  # README.wav is skipped with a warning
    assert all(w.size == 16000 for w in waves)  # 0.5 s at 8 kHz -> 16 kHz, padded to 1 s
    source = real_source("mnist_fsdd", tmp_path, {})
    assert not source.aligned and [x.shape[1] for x in source.views["fsdd"]] == [64, 35, 45, 40, 52]


def test_kinetics_sounds_from_stage4_shards(tmp_path):
    folder = tmp_path / "kinetics_sounds"
    folder.mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for i in range(12):

        def entry(side, key, widths):
            return {"model_key": key, "extractor_name": key.upper(), "dataset": "x",
                    "array": {f"layer_{j}": rng.normal(size=w).astype(np.float32) for j, w in enumerate(widths)}}  # fmt: skip

        rows.append({"filename": f"clip{i:02d}_0.mp4", "video_features": [entry("video", "layer_v", (4, 6))],
                     "audio_features": [entry("audio", "layer_a", (3, 5))]})  # fmt: skip
    rows.append({"filename": "broken.mp4", "video_features": "oops"})
    (folder / "shard-000000.pkl").write_bytes(pickle.dumps(rows))
    (folder / "labels.csv").write_text(
        "filename,label\n" + "".join(f"clip{i:02d}_0.mp4,c{i % 3}\n" for i in range(11))
    )
    source = real_source("kinetics_sounds", tmp_path, {})
    assert source.mode == "sample" and source.ncentroids == 32
    assert [x.shape for x in source.views["video"]] == [(11, 4), (11, 6)]  # clip11 has no label
    assert [x.shape for x in source.views["audio"]] == [(11, 3), (11, 5)]
    assert source.labels["video"].tolist() == [0, 1, 2] * 3 + [0, 1]
