"""Visual classes of the demo videos and vectorised frame rendering.

A visual class is a colour family (a dark and a bright shade of one hue) plus a shape and a motion
pattern. Shots of one video keep the class but vary its layout: consecutive shots swap which
shade is the background (so every cut changes nearly every pixel, a hard cut a shot detector
finds), and draw their own sizes, positions, speeds and slight colour jitter. Colour families are
far apart between classes and close within a class, so even a mean-colour feature separates them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from acav.demo.plan import STREAM_VIDEO, DemoConfig, VideoPlan, rng_for

# Frames rendered per numpy batch: big enough to amortise Python overhead, small enough for cache.
_BATCH = 32


@dataclass(frozen=True)
class VisualClass:
    name: str
    dark: tuple[int, int, int]
    bright: tuple[int, int, int]
    pattern: str


VISUAL_CLASSES: tuple[VisualClass, ...] = (
    VisualClass("red-bouncing-circles", (110, 12, 22), (255, 120, 120), "circles"),
    VisualClass("blue-scrolling-stripes", (12, 24, 115), (120, 150, 255), "stripes"),
    VisualClass("green-drifting-checkerboard", (12, 95, 25), (130, 250, 120), "checkerboard"),
    VisualClass("yellow-orbiting-blob", (105, 95, 0), (255, 240, 90), "blob"),
    VisualClass("magenta-expanding-rings", (95, 10, 105), (250, 120, 250), "rings"),
    VisualClass("cyan-rising-bars", (0, 90, 100), (120, 250, 250), "bars"),
)


# A pattern maps (t [T,1,1] seconds, y [1,H,1], x [1,1,W] in pixels, params) to a foreground
# weight in [0, 1] of shape [T,H,W].
Pattern = Callable[[np.ndarray, np.ndarray, np.ndarray, dict], np.ndarray]


def _triangle(value: np.ndarray, length: float) -> np.ndarray:
    """Bounce between 0 and ``length``: position of a point moving at unit speed in a box."""
    period = 2.0 * length
    phase = np.mod(value, period)
    return np.where(phase < length, phase, period - phase)


def _circles(t, y, x, p):
    weight = np.zeros(np.broadcast_shapes(t.shape, y.shape, x.shape), dtype=np.float32)
    for (x0, y0), (vx, vy), r in zip(p["starts"], p["speeds"], p["radii"], strict=True):
        cx = r + _triangle(x0 + vx * t, p["w"] - 2 * r)
        cy = r + _triangle(y0 + vy * t, p["h"] - 2 * r)
        weight = np.maximum(weight, ((x - cx) ** 2 + (y - cy) ** 2 <= r * r).astype(np.float32))
    return weight


def _stripes(t, y, x, p):
    pos = x * np.cos(p["angle"]) + y * np.sin(p["angle"]) - p["speed"] * t
    return (np.mod(pos, p["period"]) < p["period"] * 0.5).astype(np.float32)


def _checkerboard(t, y, x, p):
    cx = np.floor((x - p["vx"] * t) / p["cell"])
    cy = np.floor((y - p["vy"] * t) / p["cell"])
    return (np.mod(cx + cy, 2) == 0).astype(np.float32)


def _blob(t, y, x, p):
    angle = p["phase"] + 2 * np.pi * p["orbit_hz"] * t
    cx = p["cx"] + p["orbit"] * np.cos(angle)
    cy = p["cy"] + p["orbit"] * np.sin(angle)
    sigma = p["sigma"] * (1.0 + 0.3 * np.sin(2 * np.pi * p["pulse_hz"] * t))
    return np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma * sigma)).astype(np.float32)


def _rings(t, y, x, p):
    radius = np.sqrt((x - p["cx"]) ** 2 + (y - p["cy"]) ** 2)
    return (np.mod(radius - p["speed"] * t, p["period"]) < p["period"] * 0.5).astype(np.float32)


def _bars(t, y, x, p):
    pos = y + p["speed"] * t + 0.0 * x
    return (np.mod(pos, p["period"]) < p["period"] * p["duty"]).astype(np.float32)


PATTERNS: dict[str, Pattern] = {
    "circles": _circles,
    "stripes": _stripes,
    "checkerboard": _checkerboard,
    "blob": _blob,
    "rings": _rings,
    "bars": _bars,
}


def _shot_params(pattern: str, rng: np.random.Generator, w: int, h: int) -> dict:
    """Per-shot layout: sizes, positions and speeds (pixels, pixels per second)."""
    s = min(w, h)
    if pattern == "circles":
        count = int(rng.integers(2, 5))
        radii = rng.uniform(0.12, 0.2, count) * s
        return {
            "w": w,
            "h": h,
            "radii": radii,
            "starts": [(rng.uniform(0, w), rng.uniform(0, h)) for _ in range(count)],
            "speeds": [tuple(rng.uniform(15, 45, 2) * rng.choice([-1, 1], 2)) for _ in range(count)],
        }
    if pattern == "stripes":
        return {
            "period": rng.uniform(0.15, 0.3) * s,
            "speed": rng.uniform(10, 30) * rng.choice([-1, 1]),
            "angle": rng.uniform(-0.3, 0.3),
        }
    if pattern == "checkerboard":
        return {"cell": rng.uniform(0.12, 0.22) * s, "vx": rng.uniform(-12, 12), "vy": rng.uniform(-12, 12)}
    if pattern == "blob":
        return {
            "cx": rng.uniform(0.35, 0.65) * w,
            "cy": rng.uniform(0.35, 0.65) * h,
            "orbit": rng.uniform(0.12, 0.25) * s,
            "orbit_hz": rng.uniform(0.15, 0.4),
            "phase": rng.uniform(0, 2 * np.pi),
            "sigma": rng.uniform(0.18, 0.26) * s,
            "pulse_hz": rng.uniform(0.5, 1.0),
        }
    if pattern == "rings":
        return {
            "cx": rng.uniform(0.2, 0.8) * w,
            "cy": rng.uniform(0.2, 0.8) * h,
            "period": rng.uniform(0.15, 0.3) * s,
            "speed": rng.uniform(8, 20),
        }
    if pattern == "bars":
        return {
            "period": rng.uniform(0.2, 0.35) * s,
            "speed": rng.uniform(8, 25) * rng.choice([-1, 1]),
            "duty": rng.uniform(0.3, 0.5),
        }
    raise ValueError(f"unknown pattern {pattern!r}")


@dataclass(frozen=True)
class ShotLook:
    background: np.ndarray  # [H, W, 3] float32 (a shade with a soft vertical gradient)
    foreground: np.ndarray  # [3] float32
    params: dict


def shot_looks(plan: VideoPlan, config: DemoConfig) -> list[ShotLook]:
    """One look per shot of ``plan``: alternating shade roles, jittered colours, own layout."""
    vclass = VISUAL_CLASSES[plan.visual_class]
    rng = rng_for(config.seed, STREAM_VIDEO, plan.index)
    w, h = config.width, config.height
    looks = []
    inverted = bool(rng.integers(0, 2))
    ys = (np.arange(h, dtype=np.float32) / max(1, h - 1) - 0.5)[:, None, None]
    for _ in plan.shot_ranges():
        dark = np.asarray(vclass.dark, np.float32) + rng.uniform(-10, 10, 3)
        bright = np.asarray(vclass.bright, np.float32) + rng.uniform(-10, 10, 3)
        bg, fg = (bright, dark) if inverted else (dark, bright)
        gradient = rng.uniform(-0.15, 0.15)
        background = np.clip(bg[None, None, :] * (1.0 + gradient * ys), 0, 255) * np.ones(
            (1, w, 1), np.float32
        )
        looks.append(
            ShotLook(
                background.astype(np.float32),
                np.clip(fg, 0, 255).astype(np.float32),
                _shot_params(vclass.pattern, rng, w, h),
            )
        )
        inverted = not inverted  # every cut swaps the shades: a hard cut
    return looks


def _render(look: ShotLook, pattern: Pattern, seconds: np.ndarray, config: DemoConfig) -> np.ndarray:
    """Frames at ``seconds`` since the shot began (each shot starts its own motion)."""
    y = np.arange(config.height, dtype=np.float32)[None, :, None]
    x = np.arange(config.width, dtype=np.float32)[None, None, :]
    t = np.asarray(seconds, dtype=np.float32)[:, None, None]
    weight = pattern(t, y, x, look.params)[..., None]
    frames = look.background + weight * (look.foreground - look.background)
    return np.clip(frames + 0.5, 0, 255).astype(np.uint8)


def iter_frames(plan: VideoPlan, config: DemoConfig) -> Iterator[np.ndarray]:
    """Yield the video's frames (uint8 [H, W, 3]) in order, rendered ``_BATCH`` frames at a time."""
    pattern = PATTERNS[VISUAL_CLASSES[plan.visual_class].pattern]
    for (first, end), look in zip(plan.shot_ranges(), shot_looks(plan, config), strict=True):
        for start in range(first, end, _BATCH):
            stop = min(end, start + _BATCH)
            yield from _render(look, pattern, (np.arange(start, stop) - first) / config.fps, config)


def frames_at(plan: VideoPlan, config: DemoConfig, indices: Sequence[int]) -> np.ndarray:
    """The frames with the given indices ([len, H, W, 3] uint8), identical to :func:`iter_frames`'s."""
    pattern = PATTERNS[VISUAL_CLASSES[plan.visual_class].pattern]
    ranges = plan.shot_ranges()
    looks = shot_looks(plan, config)
    out = np.empty((len(indices), config.height, config.width, 3), dtype=np.uint8)
    for position, index in enumerate(indices):
        if not 0 <= index < plan.total_frames:
            raise IndexError(f"frame {index} outside the video's {plan.total_frames} frames")
        shot = max(i for i, (first, _) in enumerate(ranges) if first <= index)
        out[position] = _render(
            looks[shot], pattern, np.array([(index - ranges[shot][0]) / config.fps]), config
        )[0]
    return out
