"""``basic_visual``: a weight-free visual extractor for offline runs, the demo and quick baselines.

No learned weights: five hand-made views of 16 frames sampled uniformly over the clip, each with
the frame that follows it (32 frames), squashed to 64 x 64 RGB. Every layer is scaled so that Euclidean distances within it are
meaningful (histograms are L1-normalised and square-rooted, i.e. Hellinger-style; positions are
fractions of the frame; intensities are in [0, 1]):

* ``layer_0`` (108) colour distribution: joint HSV histogram, 12 hue x 3 saturation x 3 value bins
  (soft-assigned, so similar colours on either side of a bin edge stay close).
* ``layer_1`` (64) spatial layout: mean RGB on a 4 x 4 grid, plus per-cell texture (grey std).
* ``layer_2`` (64) edges: magnitude-weighted gradient-orientation histograms (12 bins, whole frame
  and 2 x 2 grid) plus edge density / strength statistics. Separates shapes (a square has only
  0/90 degree edges, a circle all orientations, a triangle three).
* ``layer_3`` (48) motion. Short term, between each sampled frame and its successor: global
  translation (Lucas-Kanade), its coherence, histograms of normal-flow direction and speed,
  difference energy. Long term, across the sampled frames: where and how much the picture changes,
  the temporal spectrum of that change, and the trajectory of the moving foreground (against the
  clip's median frame): spread, speed, drift and how often the direction reverses.
* ``layer_4`` (48) summary: colour moments (mean, std, skewness), 4 x 4 grey thumbnails of the mean
  frame and of the temporal standard deviation, hue/saturation/value statistics.

These features are a stand-in for SlowFast when its weights are unavailable; they carry no
semantics beyond colour, shape, layout and motion.
"""

from __future__ import annotations

import numpy as np

from acav.feature_extraction.base import VISUAL, ClipError, VisualInput, WeightFreeExtractor

NUM_FRAMES = 32
FRAME_SIZE = 64
HUE_BINS, SAT_BINS, VAL_BINS = 12, 3, 3
ORIENT_BINS = 12
FOREGROUND_THRESHOLD = 0.08  # grey-level difference from the median frame that counts as "moving"
EPS = 1e-8


def rgb_to_hsv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``rgb`` float in [0, 1], last axis RGB -> (hue in [0, 1), saturation, value)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    mx = rgb.max(axis=-1)
    mn = rgb.min(axis=-1)
    delta = mx - mn
    safe = np.where(delta > 0, delta, 1.0)
    hue = np.where(
        mx == r, np.mod((g - b) / safe, 6.0), np.where(mx == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0)
    )
    hue = np.where(delta > 0, hue / 6.0, 0.0)
    sat = np.where(mx > 0, delta / np.where(mx > 0, mx, 1.0), 0.0)
    return hue, sat, mx


def _normalised_sqrt(hist: np.ndarray) -> np.ndarray:
    total = hist.sum()
    return np.sqrt(hist / total) if total > EPS else np.zeros_like(hist, dtype=np.float64)


def _grid_mean(values: np.ndarray, cells: int) -> np.ndarray:
    """Mean of ``values [H, W]`` or ``[H, W, C]`` over a ``cells x cells`` grid (H, W divisible)."""
    h, w = values.shape[0], values.shape[1]
    if values.ndim == 2:
        return values.reshape(cells, h // cells, cells, w // cells).mean(axis=(1, 3))
    return values.reshape(cells, h // cells, cells, w // cells, -1).mean(axis=(1, 3))


def _soft_bins(values: np.ndarray, bins: int, circular: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """Linear (soft) assignment of values in [0, 1] to ``bins`` bin centres: [(bin index, weight)] x 2.

    Soft assignment keeps similar colours close even when they straddle a bin edge.
    """
    pos = values * bins - 0.5
    low = np.floor(pos)
    frac = pos - low
    low = low.astype(np.int64)
    high = low + 1
    if circular:
        low, high = np.mod(low, bins), np.mod(high, bins)
    else:
        low, high = np.clip(low, 0, bins - 1), np.clip(high, 0, bins - 1)
    return [(low, 1.0 - frac), (high, frac)]


def colour_histogram(hue: np.ndarray, sat: np.ndarray, val: np.ndarray) -> np.ndarray:
    hist = np.zeros(HUE_BINS * SAT_BINS * VAL_BINS, dtype=np.float64)
    for hi, hw in _soft_bins(hue.ravel(), HUE_BINS, circular=True):
        for si, sw in _soft_bins(sat.ravel(), SAT_BINS, circular=False):
            for vi, vw in _soft_bins(val.ravel(), VAL_BINS, circular=False):
                index = (hi * SAT_BINS + si) * VAL_BINS + vi
                hist += np.bincount(index, weights=hw * sw * vw, minlength=hist.shape[0])
    return _normalised_sqrt(hist)


def spatial_layout(rgb: np.ndarray, grey: np.ndarray) -> np.ndarray:
    t, h, w = grey.shape
    mean_colour = _grid_mean(rgb.mean(axis=0), 4).reshape(-1)  # 48
    cell_std = grey.reshape(t, 4, h // 4, 4, w // 4).std(axis=(2, 4)).mean(axis=0).reshape(-1)  # 16
    return np.concatenate([mean_colour, cell_std])


def edge_features(grey: np.ndarray) -> np.ndarray:
    gx = grey[:, 1:-1, 2:] - grey[:, 1:-1, :-2]
    gy = grey[:, 2:, 1:-1] - grey[:, :-2, 1:-1]
    mag = np.sqrt(gx * gx + gy * gy)
    orient = np.mod(np.arctan2(gy, gx), np.pi)  # unsigned orientation
    obin = np.minimum((orient / np.pi * ORIENT_BINS).astype(np.int64), ORIENT_BINS - 1)
    t, h, w = mag.shape
    whole = _normalised_sqrt(np.bincount(obin.ravel(), weights=mag.ravel(), minlength=ORIENT_BINS))
    rows = (np.arange(h) * 2 // h)[:, None]
    cols = (np.arange(w) * 2 // w)[None, :]
    cell = np.broadcast_to(rows * 2 + cols, (t, h, w))
    index = (cell * ORIENT_BINS + obin).ravel()
    grid = np.bincount(index, weights=mag.ravel(), minlength=4 * ORIENT_BINS).reshape(4, ORIENT_BINS)
    grid = np.concatenate([_normalised_sqrt(row) for row in grid])
    per_frame = mag.mean(axis=(1, 2))
    stats = np.array(
        [(mag > 0.1).mean(), mag.mean(), np.percentile(mag, 90), per_frame.std()],
        dtype=np.float64,
    )
    return np.concatenate([whole, grid, stats])


def _direction_histogram(vx: np.ndarray, vy: np.ndarray, weights: np.ndarray, bins: int = 8) -> np.ndarray:
    index = np.minimum(((np.arctan2(vy, vx) + np.pi) / (2 * np.pi) * bins).astype(np.int64), bins - 1)
    return _normalised_sqrt(np.bincount(index.ravel(), weights=weights.ravel(), minlength=bins))


def short_term_motion(base: np.ndarray, following: np.ndarray) -> np.ndarray:
    """Motion between each sampled frame and its successor (``[n, H, W]`` each): 24 values."""
    it = following - base
    avg = 0.5 * (base + following)
    ix = np.zeros_like(avg)
    iy = np.zeros_like(avg)
    ix[:, :, 1:-1] = 0.5 * (avg[:, :, 2:] - avg[:, :, :-2])
    iy[:, 1:-1, :] = 0.5 * (avg[:, 2:, :] - avg[:, :-2, :])
    grad2 = ix * ix + iy * iy
    # Global translation per pair (Lucas-Kanade over the whole frame), in pixels per frame.
    a11, a12, a22 = (ix * ix).sum(axis=(1, 2)), (ix * iy).sum(axis=(1, 2)), (iy * iy).sum(axis=(1, 2))
    b1, b2 = -(ix * it).sum(axis=(1, 2)), -(iy * it).sum(axis=(1, 2))
    det = a11 * a22 - a12 * a12
    ok = det > 1e-6
    safe = np.where(ok, det, 1.0)
    u = np.where(ok, (a22 * b1 - a12 * b2) / safe, 0.0)
    v = np.where(ok, (a11 * b2 - a12 * b1) / safe, 0.0)
    coherence = np.hypot(u.sum(), v.sum()) / max(np.hypot(u, v).sum(), EPS)
    flow = np.tanh(
        np.array([np.abs(u).mean(), np.abs(v).mean(), abs(u.mean()), abs(v.mean()), u.std(), v.std()]) / 2
    )
    # Per-pixel normal flow where there is texture: direction and speed histograms.
    strong = grad2 > 1e-3
    weight = np.abs(it) * strong
    normal = -it / np.maximum(grad2, 1e-3)
    directions = _direction_histogram(normal * ix, normal * iy, weight)  # 8
    speed = np.abs(it) / np.sqrt(np.maximum(grad2, 1e-3))
    speed_bins = np.digitize(speed, [0.25, 0.5, 1.0, 2.0, 4.0])
    speeds = _normalised_sqrt(np.bincount(speed_bins.ravel(), weights=weight.ravel(), minlength=6))  # 6
    energy = np.abs(it).mean(axis=(1, 2))
    stats = np.sqrt(np.array([energy.mean(), energy.std(), (np.abs(it) > 0.05).mean()]))  # 3
    return np.concatenate([flow, [coherence], directions, speeds, stats])


def long_term_motion(frames: np.ndarray) -> np.ndarray:
    """Change across the sampled frames ``[n, H, W]`` (seconds apart): 24 values."""
    n, h, w = frames.shape
    diff = np.abs(np.diff(frames, axis=0))
    grid = np.sqrt(_grid_mean(diff.mean(axis=0), 2).reshape(-1))  # 4, where things change
    energy = diff.mean(axis=(1, 2))
    spectrum = np.abs(np.fft.rfft(energy - energy.mean()))[1:]
    bands = np.array([chunk.sum() for chunk in np.array_split(spectrum, 4)])
    bands = bands / bands.sum() if bands.sum() > EPS else np.zeros(4)  # 4
    # Moving foreground: pixels far from the clip's median frame (the static background).
    background = np.median(frames, axis=0)
    mask = np.abs(frames - background) > FOREGROUND_THRESHOLD
    area = mask.mean(axis=(1, 2))
    present = area > 1e-3
    if present.sum() >= 2:
        counts = mask.sum(axis=(1, 2)).astype(np.float64)
        xs = (np.arange(w) + 0.5) / w
        ys = (np.arange(h) + 0.5) / h
        cx = (mask.sum(axis=1) * xs).sum(axis=1)[present] / counts[present]
        cy = (mask.sum(axis=2) * ys).sum(axis=1)[present] / counts[present]
        vx, vy = np.diff(cx), np.diff(cy)
        trajectory = np.array(
            [area.mean(), area.std(), cx.std(), cy.std(), np.ptp(cx), np.ptp(cy),
             np.abs(vx).mean(), np.abs(vy).mean(), abs(vx.mean()), abs(vy.mean())]
        )  # fmt: skip
        reversals = np.array(
            [
                np.mean(np.diff(np.sign(vx)) != 0) if len(vx) > 1 else 0.0,
                np.mean(np.diff(np.sign(vy)) != 0) if len(vy) > 1 else 0.0,
            ]
        )
    else:  # nothing moves: a static clip
        trajectory = np.concatenate([[area.mean(), area.std()], np.zeros(8)])
        reversals = np.zeros(2)
    changes = np.sqrt([energy.mean(), energy.std(), energy.max(), (diff > 0.1).mean()])  # 4
    return np.concatenate([grid, changes, bands, trajectory, reversals])


def motion_features(grey: np.ndarray) -> np.ndarray:
    """``grey [2n, H, W]`` as (sampled frame, its successor) pairs: short- and long-term motion (48)."""
    base, following = grey[0::2], grey[1::2]
    return np.concatenate([short_term_motion(base, following), long_term_motion(base)])


def summary_features(
    rgb: np.ndarray, grey: np.ndarray, hue: np.ndarray, sat: np.ndarray, val: np.ndarray
) -> np.ndarray:
    pixels = rgb.reshape(-1, 3)
    mean = pixels.mean(axis=0)
    std = pixels.std(axis=0)
    centred = pixels - mean
    skew = (centred * centred * centred).mean(axis=0) / np.maximum(std, 1e-3) ** 3
    skew = np.tanh(skew / 3.0)  # bounded: a flat colour gives huge or undefined skewness
    thumb = _grid_mean(grey.mean(axis=0), 4).reshape(-1)
    thumb_std = np.sqrt(_grid_mean(grey.std(axis=0), 4).reshape(-1))
    angle = 2 * np.pi * hue
    hue_vec = np.array([(np.cos(angle) * sat).mean(), (np.sin(angle) * sat).mean()])
    sv = np.array([sat.mean(), sat.std(), val.mean(), val.std(), (sat > 0.5).mean()])
    return np.concatenate([mean, std, skew, thumb, thumb_std, hue_vec, sv])


def basic_visual_features(frames: np.ndarray) -> list[np.ndarray]:
    """The five layers of uint8 frames ``[T, H, W, 3]``: T/2 (sampled frame, next frame) pairs.

    H and W must be divisible by 4 and T even, at least 4.
    """
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ClipError(f"expected frames [T, H, W, 3], got shape {frames.shape}")
    if frames.shape[0] < 4 or frames.shape[0] % 2:
        raise ClipError(
            f"need an even number (>= 4) of frames in (frame, next frame) pairs, got {frames.shape[0]}"
        )
    rgb = frames.astype(np.float32) / 255.0
    grey = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    hue, sat, val = rgb_to_hsv(rgb)
    return [
        colour_histogram(hue, sat, val),
        spatial_layout(rgb, grey),
        edge_features(grey),
        motion_features(grey),
        summary_features(rgb, grey, hue, sat, val),
    ]


class BasicVisualExtractor(WeightFreeExtractor):
    key = "basic_visual"
    modality = VISUAL
    model_key = "layer_basic_visual"
    extractor_name = "BASIC_VISUAL"
    layer_widths = (108, 64, 64, 48, 48)

    def input_spec(self) -> VisualInput:
        return VisualInput(num_frames=NUM_FRAMES // 2, size=(FRAME_SIZE, FRAME_SIZE), pair_offset=1)

    def compute(self, data: np.ndarray) -> list[np.ndarray]:
        return basic_visual_features(data)
