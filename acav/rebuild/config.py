"""Options of ``acav rebuild`` (YAML section ``rebuild``).

The download options are stage 2's (section ``video_download``) and the cutting options stage 3's
(section ``clip_segmentation``): one YAML file configures a rebuild exactly as it configures the
stages, and any cutting mode stage 3 offers applies here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from acav.core.config import ConfigError
from acav.core.threads import available_cores

SECTION = "rebuild"

# Stage 3 options that choose clips (shot detection, diversity) or run the stage: a rebuild cuts
# the listed segments, so only the cutting and sharding options of stage 3 are offered.
SEGMENT_OPTIONS_NOT_USED = frozenset(
    {
        "threshold",
        "threshold_factor",
        "max_threshold",
        "clip_length",
        "max_clips",
        "shot_rule",
        "keep_last_shot",
        "diversity",
        "seed",
        "analysis_short_side",
        "fingerprint_grid",
        "fingerprint_samples",
        "require_audio",
        "workers",
        "retry_failed",
        "bundle_shards",
    }
)
# Stage 2 options a rebuild sets itself: the id list comes from LIST, videos go to DATA_DIR/videos/raw.
DOWNLOAD_OPTIONS_NOT_USED = frozenset({"input", "output_dir"})


@dataclass
class RebuildConfig:
    list_format: str = field(
        default="auto",
        metadata={
            "help": "format of LIST: auto (from the name, .gz allowed), csv (output.csv with or without "
            "a header), jsonl or parquet",
            "choices": ["auto", "csv", "jsonl", "parquet"],
        },
    )
    url_template: str = field(
        default="",
        metadata={
            "help": "download URL of a video, ending in {id} (e.g. a mirror: https://host/v/{id}); "
            "empty: https://www.youtube.com/watch?v={id}"
        },
    )
    tolerance: float = field(
        default=0.5,
        metadata={"help": "a segment may end this many seconds after the downloaded video's end"},
    )
    max_clip_length: float = field(
        default=60.0, metadata={"help": "segments longer than this many seconds are malformed rows"}
    )
    cut_workers: int = field(
        default=0,
        metadata={
            "help": "clips cut in parallel (ffmpeg processes); 0 = auto: half the CPU cores, at least 1"
        },
    )
    max_row_bytes: int = field(
        default=100_000,
        metadata={"help": "longer rows of LIST are malformed rows (read without holding them)"},
    )

    def __post_init__(self) -> None:
        if self.url_template and (
            not self.url_template.endswith("{id}") or self.url_template.count("{id}") != 1
        ):
            raise ConfigError(
                "--url-template must hold {id} once, at the end (the id is the URL's last 11 "
                f"characters), got {self.url_template!r}"
            )
        if self.tolerance < 0:
            raise ConfigError(f"--tolerance must be >= 0 seconds, got {self.tolerance}")
        if self.max_clip_length <= 0:
            raise ConfigError(f"--max-clip-length must be > 0 seconds, got {self.max_clip_length}")
        if self.cut_workers < 0:
            raise ConfigError(f"--cut-workers must be >= 0 (0 = auto), got {self.cut_workers}")
        if self.cut_workers == 0:  # auto, as --workers 0 means in every stage (stage 3's rule)
            self.cut_workers = max(1, available_cores() // 2)
        if self.max_row_bytes < 64:
            raise ConfigError(f"--max-row-bytes must be >= 64, got {self.max_row_bytes}")

    def video_url(self, video_id: str) -> str:
        """What the download stage is given for ``video_id``: the id itself or the template's URL."""
        return self.url_template.replace("{id}", video_id) if self.url_template else video_id
