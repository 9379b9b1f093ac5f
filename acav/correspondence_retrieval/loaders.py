"""Real data sets from a local directory, and a downloader for the public ones.

Layout under ``ROOT`` (``--root``; default ``DATA_DIR/correspondence_retrieval/datasets``), as the
archives unpack:

* ``cifar-10-batches-py/data_batch_1..5``, ``test_batch``: CIFAR-10's python pickles (read with the
  project's restricted unpickler, never plain ``pickle``).
* ``mnist/train-images-idx3-ubyte[.gz]``, ``mnist/train-labels-idx1-ubyte[.gz]`` (and ``t10k-*``).
* ``free-spoken-digit-dataset*/recordings/{digit}_{speaker}_{n}.wav``: FSDD recordings (8 kHz).
* ``kinetics_sounds/``: stage 4 feature shards (``shard-*.pkl``, any visual and audio extractor)
  and ``labels.csv`` (``filename,label``: one line per clip; the class of the clip).

``acav retrieval download`` fetches CIFAR-10, MNIST and FSDD (about 200 MB) for a user with
internet. Kinetics-Sounds is a list of YouTube clips: build it with the pipeline's stages 2-4 from
its id list, then write ``labels.csv``.
"""

from __future__ import annotations

import csv
import gzip
import shutil
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from acav.core.config import ConfigError
from acav.core.logs import get_logger
from acav.correspondence_retrieval.sources import Source, twin_source

log = get_logger(__name__)

DOWNLOADS = {
    "cifar10": [("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "cifar-10-python.tar.gz")],
    "mnist": [
        (f"https://ossci-datasets.s3.amazonaws.com/mnist/{name}.gz", f"mnist/{name}.gz")
        for name in (
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
        )
    ],
    "fsdd": [
        (
            "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/v1.0.10.tar.gz",
            "fsdd.tar.gz",
        )
    ],
}


def load_cifar10(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(n, 32, 32, 3)`` uint8 images and labels from ``root/cifar-10-batches-py``."""
    from acav.core.safe_pickle import safe_load

    folder = root / "cifar-10-batches-py"
    files = sorted(folder.glob("data_batch_*")) + sorted(folder.glob("test_batch"))
    if not files:
        raise FileNotFoundError(
            f"no CIFAR-10 batches in {folder} (run: acav retrieval download --root {root})"
        )
    images, labels = [], []
    for path in files:
        batch = safe_load(path, encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST's format), gzipped or not, as a numpy array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    dtype = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}.get(data[2])
    if dtype is None:
        raise ValueError(f"{path}: unknown IDX element type 0x{data[2]:02x}")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    array = np.frombuffer(data, dtype=dtype, offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise ValueError(f"{path}: holds {array.size} values, its header says {shape}")
    return array.reshape(shape)


def _first(folder: Path, stem: str) -> Path:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        f"no {stem}[.gz] in {folder} (run: acav retrieval download --root {folder.parent})"
    )


def load_mnist(root: Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    folder = root / "mnist"
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(_first(folder, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(_first(folder, f"{prefix}-labels-idx1-ubyte")).astype(np.int64)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{folder}: {images.shape[0]} images but {labels.shape[0]} labels")
    return images, labels


def load_fsdd(root: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """FSDD recordings as 16 kHz waveforms and their digits (files named ``{digit}_{speaker}_{n}.wav``)."""
    from acav.correspondence_retrieval.audio_views import read_wav_bytes, resample

    files = sorted(root.glob("free-spoken-digit-dataset*/recordings/*.wav"))
    if not files:
        raise FileNotFoundError(f"no FSDD recordings under {root}/free-spoken-digit-dataset*/recordings")
    waves, labels = [], []
    for path in files:
        digit = path.name.split("_", 1)[0]
        if not digit.isdigit():
            log.warning("%s: name does not start with a digit; skipped", path)
            continue
        try:
            wave_, rate = read_wav_bytes(path.read_bytes())
        except (ValueError, EOFError) as exc:
            log.warning("%s: unreadable (%s); skipped", path, exc)
            continue
        wave_ = resample(wave_, rate)
        if wave_.size < 16000:  # basic_audio needs 0.25 s; pad short recordings to 1 s
            wave_ = np.concatenate([wave_, np.zeros(16000 - wave_.size, np.float32)])
        waves.append(wave_)
        labels.append(int(digit))
    return waves, np.asarray(labels, dtype=np.int64)


def load_kinetics_sounds(folder: Path) -> Source:
    """Stage 4 feature shards + ``labels.csv`` -> a sample-level source (32 centroids)."""
    from acav.clustering.features import parse_clip, read_shard_rows

    labels_path = folder / "labels.csv"
    if not labels_path.exists():
        raise FileNotFoundError(f"{labels_path} is missing: one line 'filename,label' per clip")
    with labels_path.open(newline="") as handle:
        classes = {row["filename"]: row["label"] for row in csv.DictReader(handle)}
    names = sorted(set(classes.values()))
    sides: dict[str, dict[str, list[np.ndarray]]] = {"video": {}, "audio": {}}
    labels = []
    for shard in sorted(folder.glob("shard-*.pkl")):
        for row in read_shard_rows(shard):
            try:
                clip = parse_clip(row)
            except ValueError as exc:
                log.warning("%s: clip skipped (%s)", shard, exc)
                continue
            if clip.filename not in classes:
                continue
            by_side = {
                s: {k: v for k, v in clip.vectors.items() if clip.models[k[0]].side == s} for s in sides
            }
            if not by_side["video"] or not by_side["audio"]:
                log.warning("%s: clip %s lacks video or audio features; skipped", shard, clip.filename)
                continue
            for side, vectors in by_side.items():
                for key in sorted(vectors):
                    sides[side].setdefault(f"{key[0]}/{key[1]}", []).append(vectors[key])
            labels.append(names.index(classes[clip.filename]))
    if not labels:
        raise FileNotFoundError(f"no labelled clips with features in {folder}/shard-*.pkl")
    label_array = np.asarray(labels, dtype=np.int64)
    views = {side: [np.stack(v) for _, v in sorted(layers.items())] for side, layers in sides.items()}
    return Source("kinetics_sounds", views, {"video": label_array, "audio": label_array.copy()}, aligned=True,
                  mode="sample", ncentroids=32, modality={"video": "video", "audio": "audio"})  # fmt: skip


def real_source(name: str, root: Path, options: dict[str, Any]) -> Source:
    from acav.correspondence_retrieval.audio_views import audio_layers
    from acav.correspondence_retrieval.image_features import extract_images

    extractor = options.get("image_extractor", "weightfree_image")
    img_options = {"weights": options["resnet_weights"]} if options.get("resnet_weights") else {}
    if name in ("cifar_rotate", "cifar_flip"):
        images, labels = load_cifar10(root)
        return twin_source(name, images, labels, name.split("_")[1], extractor, **img_options)
    if name == "cifar_mnist":
        cifar, cifar_labels = load_cifar10(root)
        mnist, mnist_labels = load_mnist(root)
        return Source(name, {"cifar": extract_images(cifar, extractor, **img_options),
                             "mnist": extract_images(mnist, extractor, **img_options)},
                      {"cifar": cifar_labels, "mnist": mnist_labels}, aligned=False,
                      modality={"cifar": "video", "mnist": "audio"})  # fmt: skip
    if name == "mnist_fsdd":
        mnist, mnist_labels = load_mnist(root)
        waves, fsdd_labels = load_fsdd(root)
        return Source(name, {"mnist": extract_images(mnist, extractor, **img_options), "fsdd": audio_layers(waves)},
                      {"mnist": mnist_labels, "fsdd": fsdd_labels}, aligned=False,
                      modality={"mnist": "video", "fsdd": "audio"})  # fmt: skip
    if name == "kinetics_sounds":
        return load_kinetics_sounds(root / "kinetics_sounds")
    raise ValueError(f"unknown real data set {name!r}")


def _extract(archive: Path, target: Path) -> None:
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")  # refuses absolute paths, '..' and links outside


def download(root: Path, which: list[str] | None = None) -> None:
    """Fetch and unpack CIFAR-10, MNIST and FSDD into ``root`` (needs internet; never used by tests)."""
    root.mkdir(parents=True, exist_ok=True)
    for name in which or list(DOWNLOADS):
        if name not in DOWNLOADS:
            raise ConfigError(
                f"cannot download {name!r}: choose from {', '.join(DOWNLOADS)} (Kinetics-Sounds is built with "
                "the pipeline's stages 2-4: see correspondence_retrieval/README.md)"
            )
        for url, relative in DOWNLOADS[name]:
            path = root / relative
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                log.info("downloading %s", url)
                tmp = path.with_suffix(path.suffix + ".part")
                with urllib.request.urlopen(url, timeout=60) as response, tmp.open("wb") as out:  # noqa: S310
                    shutil.copyfileobj(response, out)
                tmp.replace(path)
            if path.name.endswith(".tar.gz"):
                _extract(path, root)
        log.info("%s ready under %s", name, root)
