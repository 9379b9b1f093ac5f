"""The weight-free extractors: widths, dtypes, determinism, and that each view separates what it should."""

from __future__ import annotations

import numpy as np
import pytest
from fe_helpers import SAMPLE_RATE, tone

from acav.feature_extraction.base import ClipError
from acav.feature_extraction.basic_audio import BasicAudioExtractor, basic_audio_features
from acav.feature_extraction.basic_visual import BasicVisualExtractor, basic_visual_features, rgb_to_hsv
from acav.feature_extraction.dataset import process_clip

T, S = 32, 64


def nearest_centroid_accuracy(features: np.ndarray, labels: np.ndarray) -> float:
    """Leave-one-out nearest-centroid accuracy (Euclidean, raw features as clustering sees them)."""
    correct = 0
    classes = np.unique(labels)
    for i in range(len(labels)):
        keep = np.arange(len(labels)) != i
        centroids = np.stack([features[keep & (labels == c)].mean(axis=0) for c in classes])
        guess = classes[np.argmin(((centroids - features[i]) ** 2).sum(axis=1))]
        correct += int(guess == labels[i])
    return correct / len(labels)


# --- synthetic frames ------------------------------------------------------------------------
def shape_mask(kind: str, cx: float, cy: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float64)
    if kind == "square":
        return (np.abs(xx - cx) <= r) & (np.abs(yy - cy) <= r)
    if kind == "circle":
        return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    if kind == "triangle":  # apex up
        return (yy <= cy + r) & (yy >= cy - r) & (np.abs(xx - cx) <= (yy - (cy - r)) * 0.6)
    raise ValueError(kind)


def render(kind: str, path: list[tuple[float, float]], r: float, fg, bg) -> np.ndarray:
    frames = np.empty((len(path), S, S, 3), dtype=np.uint8)
    for t, (cx, cy) in enumerate(path):
        frames[t] = bg
        frames[t][shape_mask(kind, cx, cy, r)] = fg
    return frames


def motion_path(kind: str, rng: np.random.Generator) -> list[tuple[float, float]]:
    cx, cy = rng.uniform(24, 40, size=2)
    amp, period, phase = rng.uniform(8, 14), rng.uniform(10, 20), rng.uniform(0, 2 * np.pi)
    t = np.arange(T)
    wave = amp * np.sin(2 * np.pi * t / period + phase)
    if kind == "static":
        return [(cx, cy)] * T
    if kind == "horizontal":
        return list(zip(cx + wave, np.full(T, cy), strict=True))
    if kind == "vertical":
        return list(zip(np.full(T, cx), cy + wave, strict=True))
    if kind == "circular":
        return list(zip(cx + wave, cy + amp * np.cos(2 * np.pi * t / period + phase), strict=True))
    raise ValueError(kind)


def random_colours(rng: np.random.Generator):
    fg = rng.integers(150, 256, size=3)
    bg = rng.integers(0, 90, size=3)
    return fg, bg


def test_visual_widths_dtype_and_determinism():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(T, S, S, 3), dtype=np.uint8)
    extractor = BasicVisualExtractor()
    layers = extractor.prepare(frames)
    assert [v.shape[0] for v in layers] == list(extractor.layer_widths) == [108, 64, 64, 48, 48]
    assert all(v.dtype == np.float32 and np.isfinite(v).all() for v in layers)
    again = extractor.prepare(frames.copy())
    assert all(np.array_equal(a, b) for a, b in zip(layers, again, strict=True))
    # Black and constant clips are valid input: finite features, not NaN.
    for const in (0, 128, 255):
        assert all(np.isfinite(v).all() for v in extractor.prepare(np.full((T, S, S, 3), const, np.uint8)))
    with pytest.raises(ClipError):
        extractor.prepare(frames[:1])


def test_hsv_conversion_on_known_colours():
    rgb = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [0.5, 0.5, 0.5], [1.0, 1.0, 0]])
    hue, sat, val = rgb_to_hsv(rgb)
    np.testing.assert_allclose(hue, [0, 1 / 3, 2 / 3, 0, 1 / 6], atol=1e-6)
    np.testing.assert_allclose(sat, [1, 1, 1, 0, 1])
    np.testing.assert_allclose(val, [1, 1, 1, 0.5, 1])


def test_edges_layer_separates_shapes():
    rng = np.random.default_rng(1)
    feats, labels = [], []
    for label, kind in enumerate(("square", "circle", "triangle")):
        for _ in range(8):
            fg, bg = random_colours(rng)
            frames = render(kind, motion_path("circular", rng), rng.uniform(12, 18), fg, bg)
            feats.append(basic_visual_features(frames)[2])
            labels.append(label)
    assert nearest_centroid_accuracy(np.stack(feats), np.array(labels)) >= 0.9


def test_motion_layer_separates_motion_patterns():
    rng = np.random.default_rng(2)
    feats, labels = [], []
    for label, kind in enumerate(("static", "horizontal", "vertical", "circular")):
        for _ in range(8):
            fg, bg = random_colours(rng)
            shape = ("square", "circle", "triangle")[rng.integers(3)]
            frames = render(shape, motion_path(kind, rng), rng.uniform(6, 10), fg, bg)
            feats.append(basic_visual_features(frames)[3])
            labels.append(label)
    assert nearest_centroid_accuracy(np.stack(feats), np.array(labels)) >= 0.9


# --- synthetic audio -------------------------------------------------------------------------
def audio_example(
    kind: str, rng: np.random.Generator, seconds: float = 3.0, pitch: float | None = None
) -> np.ndarray:
    """One sound of ``kind``; ``pitch`` fixes the tone/chord pitch (with 3 % jitter), else it is random."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    jitter = rng.uniform(0.97, 1.03)
    if kind == "tone":
        wave = tone(seconds, pitch * jitter if pitch else rng.uniform(200, 1500), rng.uniform(0.2, 0.4))
    elif kind == "chord":
        root = pitch * jitter if pitch else rng.uniform(150, 400)
        wave = sum(
            0.15 / h * np.sin(2 * np.pi * root * ratio * h * t)
            for ratio in (1.0, 1.26, 1.5)
            for h in (1, 2, 3)
        )
    elif kind == "noise_bursts":
        period = rng.uniform(0.2, 0.5)
        gate = (np.mod(t, period) < 0.3 * period).astype(np.float64)
        wave = rng.normal(0, 0.2, n) * gate
    elif kind == "sweeps":
        period = rng.uniform(0.5, 1.0)
        phase_t = np.mod(t, period) / period
        freq = 200 * (4000 / 200) ** phase_t
        wave = 0.3 * np.sin(2 * np.pi * np.cumsum(freq) / SAMPLE_RATE)
    else:
        raise ValueError(kind)
    return (np.asarray(wave) + rng.normal(0, 0.003, n)).astype(np.float32)


AUDIO_CLASSES = ("tone", "chord", "noise_bursts", "sweeps")


def test_audio_widths_dtype_determinism_and_short_audio():
    extractor = BasicAudioExtractor()
    wave = audio_example("chord", np.random.default_rng(3))
    layers = extractor.prepare(wave)
    assert [v.shape[0] for v in layers] == list(extractor.layer_widths) == [64, 35, 45, 40, 52]
    assert all(v.dtype == np.float32 and np.isfinite(v).all() for v in layers)
    assert all(np.array_equal(a, b) for a, b in zip(layers, extractor.prepare(wave.copy()), strict=True))
    assert all(np.isfinite(v).all() for v in extractor.prepare(np.zeros(SAMPLE_RATE, np.float32)))
    with pytest.raises(ClipError, match="too short"):
        basic_audio_features(np.zeros(1000, np.float32))


def test_audio_layers_separate_sound_classes():
    rng = np.random.default_rng(4)
    per_layer: list[list[np.ndarray]] = [[] for _ in range(5)]
    labels = []
    for label, kind in enumerate(AUDIO_CLASSES):
        for _ in range(6):
            for i, vec in enumerate(basic_audio_features(audio_example(kind, rng))):
                per_layer[i].append(vec)
            labels.append(label)
    labels_arr = np.array(labels)
    accuracy = [nearest_centroid_accuracy(np.stack(v), labels_arr) for v in per_layer]
    everything = np.concatenate([np.stack(v) for v in per_layer], axis=1)
    # Pitches are random here, so the pitch-identity parts of a layer (mel mean, chroma) differ
    # within a class; each view must still separate the four classes well, all of them together
    # perfectly.
    assert min(accuracy) >= 0.75, accuracy
    assert nearest_centroid_accuracy(everything, labels_arr) == 1.0, accuracy


# --- through the real decoder (H.264 + AAC) -------------------------------------------------
def test_real_clips_separate_by_colour_and_sound(clip_bytes):
    palettes = [(200, 40, 40), (40, 180, 60), (50, 60, 210)]
    sounds = ("tone", "noise_bursts", "chord")
    rng = np.random.default_rng(5)
    visual, audio = BasicVisualExtractor(), BasicAudioExtractor()
    vis: list[list[np.ndarray]] = []
    aud: list[list[np.ndarray]] = []
    labels = []
    for label, (palette, sound) in enumerate(zip(palettes, sounds, strict=True)):
        for _ in range(3):
            colour = tuple(int(np.clip(c + rng.integers(-25, 26), 0, 255)) for c in palette)
            wave = audio_example(sound, rng, seconds=2.0, pitch=330.0)
            item = process_clip(clip_bytes(colour=colour, audio=wave), "x.mp4", visual, audio)
            assert item["error"] is None, item["error"]
            vis.append(item["visual"])
            aud.append(item["audio"])
            labels.append(label)
    labels_arr = np.array(labels)
    # The colour view separates palettes; the spectral views separate the three sound classes, and
    # the modulation view (layer_2) tells the rhythmic bursts from the two steady sounds.
    assert nearest_centroid_accuracy(np.stack([v[0] for v in vis]), labels_arr) == 1.0
    for layer in (0, 1, 3, 4):
        assert nearest_centroid_accuracy(np.stack([a[layer] for a in aud]), labels_arr) == 1.0, layer
    rhythmic = (labels_arr == 1).astype(int)
    assert nearest_centroid_accuracy(np.stack([a[2] for a in aud]), rhythmic) == 1.0
