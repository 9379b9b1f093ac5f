"""Data sets ("sources"): two views per sample with class labels and five feature layers per view.

Offline sources (built here, no download):

* ``digits_rotate`` / ``digits_flip``: scikit-learn's bundled 8 x 8 digits (1,797 images) and their
  twins rotated by 90 degrees / flipped vertically (sample-level pairs), as CIFAR-10 x rotated and
  x flipped in the paper.
* ``digits_speech``: digits x the digit's name spoken by espeak-ng (class-level pairs), as MNIST x
  FSDD. Needs the ``espeak-ng`` program; ``digits_dtmf`` (digits x telephone tones) is the
  deterministic fallback when it is missing.
* ``demo_av``: the offline demo's audio-visual clips through stage 4's weight-free extractors
  (sample-level pairs), the Kinetics-Sounds stand-in (see :mod:`.demo_source`).

Real sources read from a local directory (see :mod:`.loaders`): ``cifar_mnist``, ``cifar_rotate``,
``cifar_flip``, ``mnist_fsdd``, ``kinetics_sounds``.

Features of a source are cached (``.npz``) under the cache directory, keyed by the source's name
and options, because the audio views and the demo clips take a while to compute.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from acav.core.logs import get_logger

log = get_logger(__name__)

OFFLINE_SOURCES = ("digits_rotate", "digits_flip", "digits_speech", "digits_dtmf", "demo_av")
REAL_SOURCES = ("cifar_mnist", "cifar_rotate", "cifar_flip", "mnist_fsdd", "kinetics_sounds")


@dataclass
class Source:
    """Per view: five (or more) feature layers ``(n_view, d)`` and class labels ``(n_view,)``."""

    name: str
    views: dict[str, list[np.ndarray]]
    labels: dict[str, np.ndarray]
    aligned: bool  # sample i of every view is one item (twins, clips); else class-level pairs
    mode: str = "class"  # derangement: "class" (image pairs) or "sample" (Kinetics-Sounds)
    ncentroids: int = 10
    modality: dict[str, str] = field(default_factory=dict)  # view -> "video" / "audio"

    def validate(self) -> None:
        if len(self.views) != 2:
            raise ValueError(f"source {self.name}: needs exactly two views, got {list(self.views)}")
        for view, layers in self.views.items():
            n = len(self.labels[view])
            bad = [layer.shape for layer in layers if layer.ndim != 2 or layer.shape[0] != n]
            if bad:
                raise ValueError(f"source {self.name}, view {view}: layers {bad} do not match {n} labels")
        if self.aligned and len({len(v) for v in self.labels.values()}) != 1:
            raise ValueError(f"source {self.name}: aligned views must have the same number of samples")


def digits_images() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8 x 8 digits as floats in [0, 1] and their labels (no download)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return (digits.images / 16.0).astype(np.float32), digits.target.astype(np.int64)


def twin_source(
    name: str, images: np.ndarray, labels: np.ndarray, twin: str, extractor: str, **options
) -> Source:
    """Images x their rotated (90 degrees) or vertically flipped twins: sample-level pairs."""
    from acav.correspondence_retrieval.image_features import extract_images

    if twin == "rotate":
        other = np.rot90(images, 1, axes=(1, 2))
    elif twin == "flip":
        other = images[:, ::-1]
    else:
        raise ValueError(f"unknown twin {twin!r}: rotate or flip")
    other = np.ascontiguousarray(other)
    return Source(
        name,
        {
            "image": extract_images(images, extractor, **options),
            f"image_{twin}": extract_images(other, extractor, **options),
        },
        {"image": labels, f"image_{twin}": labels.copy()},
        aligned=True,
        modality={"image": "video", f"image_{twin}": "audio"},
    )


def sound_source(
    name: str, images: np.ndarray, labels: np.ndarray, kind: str, seed: int, extractor: str
) -> Source:
    """Images x a per-class synthesised sound (``speech`` or ``dtmf``): class-level pairs."""
    from acav.correspondence_retrieval import audio_views
    from acav.correspondence_retrieval.image_features import extract_images

    make = audio_views.speech_waves if kind == "speech" else audio_views.dtmf_waves
    waves, audio_labels = [], []
    for digit in range(10):
        count = int((labels == digit).sum())
        waves += make(digit, count, seed)
        audio_labels += [digit] * count
    return Source(
        name,
        {"image": extract_images(images, extractor), kind: audio_views.audio_layers(waves)},
        {"image": labels, kind: np.asarray(audio_labels, dtype=np.int64)},
        aligned=False,
        modality={"image": "video", kind: "audio"},
    )


def _cache_path(cache_dir: Path, name: str, options: dict) -> Path:
    digest = hashlib.sha1(json.dumps(options, sort_keys=True).encode()).hexdigest()[:10]
    return cache_dir / f"{name}-{digest}.npz"


def save_source(path: Path, source: Source) -> None:
    arrays: dict[str, np.ndarray] = {}
    meta = {"name": source.name, "aligned": source.aligned, "mode": source.mode, "ncentroids": source.ncentroids,
            "modality": source.modality, "views": {v: len(layers) for v, layers in source.views.items()}}  # fmt: skip
    for view, layers in source.views.items():
        arrays[f"labels/{view}"] = source.labels[view]
        for i, layer in enumerate(layers):
            arrays[f"layer/{view}/{i}"] = layer
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def load_source(path: Path) -> Source:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(bytes(data["meta"]).decode())
        views = {v: [data[f"layer/{v}/{i}"] for i in range(n)] for v, n in meta["views"].items()}
        labels = {v: data[f"labels/{v}"] for v in meta["views"]}
    return Source(
        meta["name"], views, labels, meta["aligned"], meta["mode"], meta["ncentroids"], meta["modality"]
    )


def build_source(name: str, cache_dir: Path | None = None, options: dict | None = None) -> Source:
    """The source ``name`` (cached under ``cache_dir`` when given). ``options``: ``image_extractor``,
    ``resnet_weights``, ``root`` (real data sets), ``seed`` (audio synthesis), ``demo_videos``."""
    options = dict(options or {})
    extractor = options.get("image_extractor", "weightfree_image")
    wanted = {
        "root": name in REAL_SOURCES,
        "demo_videos": name == "demo_av",
        "seed": name.startswith("digits_"),
    }
    key = {k: options[k] for k in sorted(options) if wanted.get(k, True)}
    path = _cache_path(cache_dir, name, key) if cache_dir is not None else None
    if path is not None and path.exists():
        log.info("source %s: cached features %s", name, path)
        return load_source(path)
    img_options = (
        {"weights": options["resnet_weights"]}
        if extractor == "resnet50" and options.get("resnet_weights")
        else {}
    )
    if name in ("digits_rotate", "digits_flip"):
        images, labels = digits_images()
        source = twin_source(name, images, labels, name.split("_")[1], extractor, **img_options)
    elif name in ("digits_speech", "digits_dtmf"):
        from acav.correspondence_retrieval.audio_views import espeak_binary

        if name == "digits_speech" and espeak_binary() is None:
            raise FileNotFoundError(
                "digits_speech needs the espeak-ng speech synthesiser (apt-get install espeak-ng); "
                "use digits_dtmf (telephone tones) without it"
            )
        images, labels = digits_images()
        source = sound_source(
            name, images, labels, name.split("_")[1], int(options.get("seed", 0)), extractor
        )
    elif name == "demo_av":
        from acav.correspondence_retrieval.demo_source import demo_source

        source = demo_source(cache_dir, int(options.get("demo_videos", 160)))
    elif name in REAL_SOURCES:
        from acav.correspondence_retrieval.loaders import real_source

        source = real_source(
            name, Path(options.get("root", "data/correspondence_retrieval/datasets")), options
        )
    else:
        raise ValueError(
            f"unknown data set {name!r}; choose from {', '.join(OFFLINE_SOURCES + REAL_SOURCES)}"
        )
    source.validate()
    if path is not None:
        save_source(path, source)
    return source
