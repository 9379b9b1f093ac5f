"""The demo's options and the per-video plan (classes, matching, duration, shots) drawn from the seed.

Everything random is drawn here or from per-video generators seeded by ``(seed, purpose, index)``,
so a video's content does not depend on how many other videos are generated or in which order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from acav.core.ids import YOUTUBE_ID_LENGTH

# Stream tags for numpy SeedSequence so the different random parts never share a stream.
STREAM_PLAN = 1
STREAM_METADATA = 2
STREAM_VIDEO = 3
STREAM_AUDIO = 4

_ID_ALPHABET = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"))


@dataclass
class DemoConfig:
    """Options of ``acav demo generate`` (YAML section ``demo``)."""

    num_videos: int = field(
        default=96, metadata={"help": "number of source videos (metadata rows meant to pass stage 1)"}
    )
    seed: int = field(default=0, metadata={"help": "random seed; the same seed gives the same demo"})
    match_fraction: float = field(
        default=0.5, metadata={"help": "fraction of videos whose audio class equals their visual class"}
    )
    num_classes: int = field(default=6, metadata={"help": "number of visual and of audio classes (2-6)"})
    min_duration: int = field(default=32, metadata={"help": "shortest source video in seconds (>= 30)"})
    max_duration: int = field(default=60, metadata={"help": "longest source video in seconds (<= 597)"})
    width: int = field(default=160, metadata={"help": "video width in pixels (even)"})
    height: int = field(default=120, metadata={"help": "video height in pixels (even)"})
    fps: int = field(default=15, metadata={"help": "video frame rate"})
    sample_rate: int = field(default=16000, metadata={"help": "audio sample rate in Hz"})
    url_fraction: float = field(
        default=0.25, metadata={"help": "fraction of kept metadata rows whose first field is a watch URL"}
    )

    def validate(self) -> None:
        """Raise ``ValueError`` naming the option when a value cannot make a sensible demo."""
        from acav.demo.sounds import AUDIO_CLASSES
        from acav.demo.visuals import VISUAL_CLASSES

        max_classes = min(len(VISUAL_CLASSES), len(AUDIO_CLASSES))
        problems = []
        if self.num_videos < 1:
            problems.append(f"--num-videos must be >= 1 (got {self.num_videos})")
        if not 2 <= self.num_classes <= max_classes:
            problems.append(f"--num-classes must be between 2 and {max_classes} (got {self.num_classes})")
        if not 0.0 <= self.match_fraction <= 1.0:
            problems.append(f"--match-fraction must be within [0, 1] (got {self.match_fraction})")
        if not 30 <= self.min_duration <= self.max_duration <= 597:
            problems.append(
                "durations must satisfy 30 <= --min-duration <= --max-duration <= 597 so that stage 1 keeps "
                f"the videos (got {self.min_duration}..{self.max_duration})"
            )
        if self.width < 32 or self.height < 32 or self.width % 2 or self.height % 2:
            problems.append(f"--width/--height must be even and >= 32 (got {self.width}x{self.height})")
        if not 5 <= self.fps <= 60:
            problems.append(f"--fps must be within [5, 60] (got {self.fps})")
        if not 8000 <= self.sample_rate <= 48000:
            problems.append(f"--sample-rate must be within [8000, 48000] (got {self.sample_rate})")
        if not 0.0 <= self.url_fraction <= 1.0:
            problems.append(f"--url-fraction must be within [0, 1] (got {self.url_fraction})")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(frozen=True)
class VideoPlan:
    index: int
    youtube_id: str
    visual_class: int
    audio_class: int
    duration: int  # seconds; the video has exactly duration * fps frames
    shot_frames: tuple[int, ...]  # frame index where each shot starts (first is 0)
    total_frames: int

    @property
    def matching(self) -> bool:
        return self.visual_class == self.audio_class

    def shot_ranges(self) -> list[tuple[int, int]]:
        """``[(first_frame, end_frame_exclusive), ...]`` per shot."""
        ends = list(self.shot_frames[1:]) + [self.total_frames]
        return list(zip(self.shot_frames, ends, strict=True))


def rng_for(seed: int, stream: int, index: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, stream, index]))


def random_ids(rng: np.random.Generator, count: int, taken: set[str]) -> list[str]:
    """``count`` new unique YouTube-like ids, none starting with '-' (would read as an option)."""
    out: list[str] = []
    while len(out) < count:
        chars = rng.choice(_ID_ALPHABET, size=YOUTUBE_ID_LENGTH)
        value = "".join(chars)
        if value[0] == "-" or value in taken:
            continue
        taken.add(value)
        out.append(value)
    return out


def _shot_starts(rng: np.random.Generator, duration: int, fps: int) -> tuple[int, ...]:
    """3-6 shots; the longest is at least duration / count >= 10 s, so clips fit inside shots."""
    most = int(min(6, max(3, duration // 11)))
    count = int(rng.integers(3, most + 1))
    min_len = min(6.0, duration / (2 * count))
    extra = rng.dirichlet(np.full(count, 2.0)) * (duration - count * min_len)
    lengths = min_len + extra
    bounds = np.round(np.cumsum(lengths)[:-1] * fps).astype(int)
    return (0, *(int(b) for b in bounds))


def make_plan(config: DemoConfig) -> list[VideoPlan]:
    """Classes balanced over videos; ``floor(match_fraction * N + 0.5)`` matching videos, spread over the classes."""
    config.validate()
    rng = rng_for(config.seed, STREAM_PLAN)
    n, k = config.num_videos, config.num_classes
    visual = rng.permutation(np.arange(n) % k)
    # Spread the matching videos evenly over the visual classes (each class gets its share +-1)
    # and exactly floor(F * n + 0.5) in total: walk the videos class by class, in random order
    # within a class, and mark a video whenever the running total of F crosses a half-integer.
    order = np.lexsort((rng.random(n), visual))
    steps = np.floor(np.arange(1, n + 1) * config.match_fraction + 0.5) - np.floor(
        np.arange(n) * config.match_fraction + 0.5
    )
    matching = np.zeros(n, dtype=bool)
    matching[order] = steps > 0
    # Mismatched videos of a class take the other classes in turn, in a random order: the pairing
    # carries no information (uniform over the other classes) and no pair dominates by chance.
    audio = visual.copy()
    for c in range(k):
        others = rng.permutation([o for o in range(k) if o != c])
        mismatched = [i for i in order if visual[i] == c and not matching[i]]
        for j, i in enumerate(mismatched):
            audio[i] = others[j % len(others)]
    ids = random_ids(rng, n, set())
    plans = []
    for i in range(n):
        duration = int(rng.integers(config.min_duration, config.max_duration + 1))
        shots = _shot_starts(rng, duration, config.fps)
        plans.append(
            VideoPlan(
                index=i,
                youtube_id=ids[i],
                visual_class=int(visual[i]),
                audio_class=int(audio[i]),
                duration=duration,
                shot_frames=shots,
                total_frames=duration * config.fps,
            )
        )
    return plans
