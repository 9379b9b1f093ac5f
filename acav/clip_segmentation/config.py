"""Options of stage 3 (clip segmentation); YAML section ``clip_segmentation``.

Defaults follow the ACAV100M paper: scdet threshold 10 %, annealing factor 1.2 capped at 100,
10-second clips, up to 3 clips per video, 1000 clips per shard.
"""

from __future__ import annotations

from dataclasses import InitVar, dataclass, field
from typing import Any

from acav.clip_segmentation.cutter import CUT_MODES, scale_filter
from acav.clip_segmentation.diversity import DIVERSITY_MEASURES
from acav.clip_segmentation.shots import SHOT_RULES
from acav.core.config import ConfigError, deprecated
from acav.core.media import MediaInfo

SECTION = "clip_segmentation"


@dataclass
class SegmentConfig:
    threshold: float = field(
        default=10.0,
        metadata={"help": "initial scene-change threshold in percent, as ffmpeg scdet's 'threshold'"},
    )
    threshold_factor: float = field(
        default=1.2,
        metadata={"help": "annealing: multiply the threshold by this while too few shots are long enough"},
    )
    max_threshold: float = field(
        default=100.0, metadata={"help": "annealing stops at this threshold (percent)"}
    )
    clip_length: float = field(default=10.0, metadata={"help": "clip length in seconds"})
    max_clips: int = field(
        default=3,
        metadata={"help": "clips per video at most; also the number of long-enough shots annealing aims for"},
    )
    shot_rule: str = field(
        default="best",
        metadata={
            "help": "which annealing try's shots to use: 'best' = most long shots among the tries that "
            "found a cut (ties: lowest threshold), so no clip crosses a detected cut; 'original' = the "
            "release's rule (the last try that found a cut; else the centre of the whole video)",
            "choices": list(SHOT_RULES),
        },
    )
    keep_last_shot: bool = field(
        default=True,
        metadata={"help": "keep the shot after the last cut (the original drops it: --no-keep-last-shot)"},
    )
    diversity: str = field(
        default="fingerprint",
        metadata={
            "help": "how candidates are compared for the diverse choice: 'fingerprint' (in memory) or "
            "'signature' (the original's: ffmpeg's signature filter on cut candidates, slow)",
            "choices": list(DIVERSITY_MEASURES),
        },
    )
    seed: int = field(
        default=0, metadata={"help": "seed of the random first pick of the diverse clip choice"}
    )
    analysis_short_side: int = field(
        default=64,
        metadata={"help": "short side (px) the frames are reduced to for cut scores and fingerprints"},
    )
    fingerprint_grid: int = field(
        default=4, metadata={"help": "fingerprint = mean Y, U, V over a GRID x GRID grid of each frame"}
    )
    fingerprint_samples: int = field(
        default=10, metadata={"help": "frames sampled per candidate window to compare candidates"}
    )
    require_audio: bool = field(
        default=True,
        metadata={"help": "reject videos without an audio stream (later stages need sound)"},
    )
    scale_short_side: int = field(
        default=0, metadata={"help": "scale clips to this short side in px; 0 keeps the source resolution"}
    )
    cut_mode: str = field(
        default="accurate",
        metadata={
            "help": "accurate: frame-accurate re-encode; fast: the video the same with x264 ultrafast, the "
            "audio stream-copied (less CPU, larger files); copy: the original's stream copy (no "
            "re-encode; starts at a keyframe); smart: re-encode only up to the first keyframe, copy "
            "the rest and the audio (exact start; may end a frame or two late, like copy)",
            "choices": CUT_MODES,
        },
    )
    crf: int = field(
        default=23, metadata={"help": "libx264 quality of the cut clips (lower = better, larger)"}
    )
    preset: str = field(default="veryfast", metadata={"help": "libx264 preset of the cut clips"})
    audio_bitrate: str = field(default="128k", metadata={"help": "AAC bitrate of the cut clips"})
    ffmpeg_threads: int = field(
        default=0,
        metadata={"help": "threads per ffmpeg cut (0: --threads / --workers)"},
    )
    threads: int = field(
        default=0,
        metadata={
            "help": "CPU threads the stage may use in all (0: every available core); each of the "
            "--workers gets threads / workers for its decoder and its ffmpeg cuts"
        },
    )
    cut_timeout: float = field(default=600.0, metadata={"help": "seconds one ffmpeg cut may take"})
    cut_stall_timeout: float = field(
        default=60.0,
        metadata={
            "help": "seconds without progress after which an ffmpeg cut is killed and run once more "
            "(ffmpeg rarely deadlocks on a cut); 0 turns the watchdog off"
        },
    )
    workers: int = field(
        default=0,
        metadata={"help": "videos processed in parallel (processes); 0 = half the CPU cores, at least 1"},
    )
    clips_per_shard: int = field(default=1000, metadata={"help": "clips per WebDataset shard"})
    retry_failed: bool = field(
        default=False,
        metadata={"help": "re-process videos whose last record is 'failed' even if the file is unchanged"},
    )
    bundle_shards: bool = field(
        default=True,
        metadata={"help": "bundle the clips into shards after cutting", **deprecated("shards")},
    )
    # the deprecated keyword of the constructor (SegmentConfig(shards=False)); see ``bundle_shards``
    shards: InitVar[bool | None] = None

    def cut_options(self, info: MediaInfo, threads: int) -> dict[str, Any]:
        """``cut_clip``'s keyword arguments for a source described by ``info``: how these options
        cut, in one place for stage 3 and ``acav rebuild``. ``threads``: the worker's share of the
        thread budget, used unless ``--ffmpeg-threads`` is set."""
        return {
            "with_audio": info.has_audio,
            "video_filter": scale_filter(info.width, info.height, self.scale_short_side),
            "crf": self.crf,
            "preset": self.preset,
            "audio_bitrate": self.audio_bitrate,
            "threads": self.ffmpeg_threads or threads,
            "timeout": self.cut_timeout,
            "mode": self.cut_mode,
            "stall_timeout": self.cut_stall_timeout or None,
        }

    def __post_init__(self, shards: bool | None = None) -> None:
        if shards is not None:
            self.bundle_shards = bool(shards)
        # Fail early with the option's name rather than deep inside a worker.
        if self.threshold <= 0 or self.threshold > 100:
            raise ConfigError(f"threshold must be in (0, 100], got {self.threshold}")
        if self.threshold_factor <= 1.0:
            raise ConfigError(f"threshold_factor must be > 1, got {self.threshold_factor}")
        if self.shot_rule not in SHOT_RULES:
            raise ConfigError(f"shot_rule must be one of {', '.join(SHOT_RULES)}, got {self.shot_rule!r}")
        if self.diversity not in DIVERSITY_MEASURES:
            raise ConfigError(
                f"diversity must be one of {', '.join(DIVERSITY_MEASURES)}, got {self.diversity!r}"
            )
        if self.clip_length <= 0:
            raise ConfigError(f"clip_length must be > 0, got {self.clip_length}")
        if self.max_clips < 1:
            raise ConfigError(f"max_clips must be >= 1, got {self.max_clips}")
        if self.analysis_short_side < 8 or self.analysis_short_side % 2:
            raise ConfigError(
                f"analysis_short_side must be an even number >= 8, got {self.analysis_short_side}"
            )
        if self.fingerprint_grid < 1 or self.fingerprint_grid > self.analysis_short_side // 2:
            raise ConfigError(
                f"fingerprint_grid must be in [1, analysis_short_side / 2], got {self.fingerprint_grid}"
            )
        if self.fingerprint_samples < 1:
            raise ConfigError(f"fingerprint_samples must be >= 1, got {self.fingerprint_samples}")
        if self.scale_short_side < 0 or self.scale_short_side % 2:
            raise ConfigError(f"scale_short_side must be 0 or an even number, got {self.scale_short_side}")
        if self.cut_mode not in CUT_MODES:
            raise ConfigError(f"cut_mode must be one of {', '.join(CUT_MODES)}, got {self.cut_mode!r}")
        if self.clips_per_shard < 1:
            raise ConfigError(f"clips_per_shard must be >= 1, got {self.clips_per_shard}")
        if self.threads < 0:
            raise ConfigError(f"threads must be >= 0 (0: every available core), got {self.threads}")
        if self.workers < 0:
            raise ConfigError(f"workers must be >= 0, got {self.workers}")
