"""The demo's classes are learnable from simple features: a fair selection method has something to
find. Per shot, a colour feature separates visual classes and a mel-band spectrum separates audio
classes, both by nearest class centroid (centroids from one seed, tested on another) and by plain
k-means without labels (cluster purity)."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans

from acav.demo.plan import DemoConfig, make_plan
from acav.demo.sounds import AUDIO_CLASSES, render_audio
from acav.demo.visuals import VISUAL_CLASSES, frames_at

K = min(len(VISUAL_CLASSES), len(AUDIO_CLASSES))


def _config(seed: int) -> DemoConfig:
    return DemoConfig(num_videos=4 * K, num_classes=K, seed=seed, min_duration=30, max_duration=60)


def _visual_feature(frames: np.ndarray) -> np.ndarray:
    """Mean colour and a 3x3x3 colour histogram over a few frames."""
    pixels = frames.reshape(-1, 3).astype(np.float64)
    bins = np.minimum(pixels // 86, 2).astype(int)
    hist = np.bincount(bins[:, 0] * 9 + bins[:, 1] * 3 + bins[:, 2], minlength=27) / len(pixels)
    return np.concatenate([pixels.mean(0) / 255.0, hist])


def _mel_bands(audio: np.ndarray, sample_rate: int, bands: int = 24) -> np.ndarray:
    """Log energy in mel-spaced bands (60 Hz - 7.5 kHz), loudness removed."""
    spectrum = np.abs(np.fft.rfft(audio.reshape(-1, 1024) * np.hanning(1024), axis=1)) ** 2
    power = spectrum.mean(0)
    freqs = np.fft.rfftfreq(1024, 1.0 / sample_rate)
    mel = 2595 * np.log10(1 + freqs / 700.0)
    edges = np.linspace(2595 * np.log10(1 + 60 / 700.0), 2595 * np.log10(1 + 7500 / 700.0), bands + 1)
    energy = np.array(
        [power[(mel >= lo) & (mel < hi)].sum() for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    )
    log_energy = np.log(energy + 1e-10)
    return log_energy - log_energy.mean()


def _shot_features(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per shot: visual feature, visual class, audio feature, audio class."""
    config = _config(seed)
    vf, vc, af, ac = [], [], [], []
    sr = config.sample_rate
    for plan in make_plan(config):
        audio = render_audio(plan, config)
        for first, end in plan.shot_ranges():
            picks = np.linspace(first, end - 1, 4).astype(int)
            vf.append(_visual_feature(frames_at(plan, config, picks)))
            vc.append(plan.visual_class)
            # A 10-s (or shorter) window in the middle of the shot, like a clip.
            a, b = first / config.fps, end / config.fps
            mid, half = (a + b) / 2, min(5.0, (b - a) / 2)
            window = audio[int((mid - half) * sr) : int((mid + half) * sr)]
            af.append(_mel_bands(window[: len(window) // 1024 * 1024], sr))
            ac.append(plan.audio_class)
    return np.array(vf), np.array(vc), np.array(af), np.array(ac)


def _nearest_centroid_accuracy(train_x, train_y, test_x, test_y) -> float:
    centroids = np.stack([train_x[train_y == c].mean(0) for c in range(K)])
    predicted = np.argmin(((test_x[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    return float((predicted == test_y).mean())


def _purity(x: np.ndarray, y: np.ndarray) -> float:
    labels = KMeans(n_clusters=K, n_init=10, random_state=0).fit_predict(x)
    return sum(np.bincount(y[labels == c]).max() for c in np.unique(labels)) / len(y)


def test_visual_and_audio_classes_are_separable_per_shot():
    train = _shot_features(seed=100)
    test = _shot_features(seed=200)
    assert len(test[1]) >= 3 * 4 * K
    visual_accuracy = _nearest_centroid_accuracy(train[0], train[1], test[0], test[1])
    audio_accuracy = _nearest_centroid_accuracy(train[2], train[3], test[2], test[3])
    assert visual_accuracy >= 0.95, visual_accuracy
    assert audio_accuracy >= 0.95, audio_accuracy
    # Without labels, k-means with K clusters recovers the classes.
    assert _purity(test[0], test[1]) >= 0.9
    assert _purity(test[2], test[3]) >= 0.9


def test_matching_videos_give_a_consistent_audio_visual_mapping():
    # Per shot, the visual class predicts the audio class only through the matching videos.
    config = DemoConfig(num_videos=60, num_classes=4, match_fraction=0.5, seed=9)
    plans = make_plan(config)
    joint = np.zeros((4, 4), dtype=int)
    for plan in plans:
        joint[plan.visual_class, plan.audio_class] += 1
    assert np.trace(joint) == 30
    # Each off-diagonal cell holds few videos compared to the diagonal one of its row.
    for v in range(4):
        assert joint[v, v] > max(joint[v, a] for a in range(4) if a != v)
