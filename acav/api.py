"""The Python API: one function per stage and one for the whole pipeline, with the CLI's options.

Each function takes the data directory, an optional YAML ``config`` file (the same file as
``--config``, one section per stage) and the stage's options as keyword arguments, named as the
CLI flags with ``_`` for ``-`` (``ncentroids=64`` is ``--ncentroids 64``). The options come from the
stage's config dataclass, the one source of truth that also builds the CLI flags and reads the YAML
section; their list, types and defaults are in each function's docstring (``help(acav.cluster)``).
Values are checked as on the command line: an unknown option or a ``2.5`` for an integer option
raises :class:`acav.core.config.ConfigError`.

Every function returns a :class:`StageSummary` (the options used, what the stage's runner returned,
the time taken); :func:`run_pipeline` returns a :class:`PipelineSummary`. Stage failures raise the
stage's exception (e.g. no input yet), as the CLI's non-zero exit does.

    import acav
    acav.generate_demo("data/demo", num_videos=12)
    result = acav.run_pipeline("data/demo", video_download={"source_dir": "data/demo/source_videos"})
    print(result.stages[-1].result["selected"], result.report.path)
"""

from __future__ import annotations

import dataclasses
import os
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acav.core.config import STAGE_SECTIONS, ConfigError, config_to_dict, load_config
from acav.core.layout import DataLayout, default_data_dir

PathLike = str | os.PathLike[str]


@dataclass
class StageSummary:
    """One stage's run: its name, the options it ran with, its runner's result and the time taken."""

    stage: str
    data_dir: Path
    config: Any  # the stage's config dataclass instance
    result: Any  # a dict (filter, segment, select) or the stage's own summary object
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (the result through its ``to_dict``/dataclass fields when it has them)."""
        result = self.result
        if hasattr(result, "to_dict"):
            result = result.to_dict()
        elif dataclasses.is_dataclass(result) and not isinstance(result, type):
            result = dataclasses.asdict(result)
        return {
            "stage": self.stage,
            "data_dir": str(self.data_dir),
            "config": config_to_dict(self.config),
            "result": result,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class PipelineSummary:
    data_dir: Path
    stages: list[StageSummary] = field(default_factory=list)
    report: Any = None  # acav.report.ReportSummary, or None with report=False

    def __getitem__(self, stage: str) -> StageSummary:
        for summary in self.stages:
            if summary.stage == stage:
                return summary
        raise KeyError(f"stage {stage!r} did not run (ran: {', '.join(s.stage for s in self.stages)})")


def _data_dir(data_dir: PathLike | None) -> Path:
    return Path(data_dir) if data_dir is not None else default_data_dir()


def _config(cls: type, section: str, config: PathLike | None, options: dict[str, Any]) -> Any:
    return load_config(cls, section, config_file=config, **options)


def _timed(stage: str, data_dir: Path, cfg: Any, work: Callable[[], Any]) -> StageSummary:
    began = time.monotonic()
    result = work()
    return StageSummary(stage, data_dir, cfg, result, time.monotonic() - began)


# ---------------------------------------------------------------------------------------- stages


def filter_metadata(
    data_dir: PathLike | None = None, *, config: PathLike | None = None, **options: Any
) -> StageSummary:
    """Stage 1: filter ``DATA_DIR/metadata.tsv`` into ``filtered.tsv`` and ``filtered.rejects.tsv``.

    The result is the filter report (a dict, also written to ``filtered.report.json``).
    """
    from acav.metadata_filtering.config import CONFIG_SECTION, FilterConfig
    from acav.metadata_filtering.runner import filter_file

    root = _data_dir(data_dir)
    cfg = _config(FilterConfig, CONFIG_SECTION, config, options)
    cfg.validate()
    layout = DataLayout(root)
    if not layout.metadata_tsv.is_file():
        raise FileNotFoundError(f"input not found: {layout.metadata_tsv} (put the metadata there)")
    return _timed(
        "metadata_filtering",
        root,
        cfg,
        lambda: filter_file(
            layout.metadata_tsv,
            layout.filtered_tsv,
            layout.filtered_rejects_tsv,
            layout.filter_report_json,
            cfg,
        ),
    )


def download_videos(
    data_dir: PathLike | None = None, *, config: PathLike | None = None, **options: Any
) -> StageSummary:
    """Stage 2: download the videos of ``filtered.tsv`` (or take them from ``source_dir``).

    The result is the download summary (``.to_dict()``; also ``videos/raw/download.summary.json``).
    """
    from acav.video_download.cli import SECTION, check_paths, resolve_paths
    from acav.video_download.options import DownloadConfig
    from acav.video_download.runner import DownloadRunner

    root = _data_dir(data_dir)
    cfg = _config(DownloadConfig, SECTION, config, options)
    check_paths(cfg)
    input_path, output_dir = resolve_paths(cfg, root)
    return _timed("video_download", root, cfg, DownloadRunner(cfg, input_path, output_dir).run)


def segment_clips(
    data_dir: PathLike | None = None, *, config: PathLike | None = None, **options: Any
) -> StageSummary:
    """Stage 3: shots, 10-second clips and WebDataset shards from ``videos/raw``.

    The result is the segmentation summary (a dict, also ``videos/clips/segmentation.report.json``).
    """
    from acav.clip_segmentation.config import SECTION, SegmentConfig
    from acav.clip_segmentation.runner import run_segmentation

    root = _data_dir(data_dir)
    cfg = _config(SegmentConfig, SECTION, config, options)
    return _timed("clip_segmentation", root, cfg, lambda: run_segmentation(DataLayout(root), cfg))


def extract_features(
    data_dir: PathLike | None = None, *, config: PathLike | None = None, **options: Any
) -> StageSummary:
    """Stage 4: visual and audio features of every clip of the video shards.

    The result is the run summary (``records`` per shard, ``clips_written``, ``devices``).
    """
    from acav.feature_extraction.options import CONFIG_SECTION, ExtractionConfig
    from acav.feature_extraction.runner import run_extraction

    root = _data_dir(data_dir)
    cfg = _config(ExtractionConfig, CONFIG_SECTION, config, options)
    return _timed("feature_extraction", root, cfg, lambda: run_extraction(cfg, DataLayout(root)))


def cluster_features(
    data_dir: PathLike | None = None, *, config: PathLike | None = None, **options: Any
) -> StageSummary:
    """Stage 5: k-means per (model, layer) over the feature shards.

    The result is the stage report (``partitions``, ``clips``, ``errors``).
    """
    from acav.clustering.config import ClusteringConfig
    from acav.clustering.stage import run_clustering

    root = _data_dir(data_dir)
    cfg = _config(ClusteringConfig, "clustering", config, options)
    return _timed("clustering", root, cfg, lambda: run_clustering(root, cfg))


def select_subset(
    data_dir: PathLike | None = None, *, config: PathLike | None = None, **options: Any
) -> StageSummary:
    """Stage 6: choose the clips that maximise audio-visual mutual information; writes ``output.csv``.

    The result is the selection log (a dict, also ``selection.log.json``).
    """
    from acav.subset_selection.config import SelectConfig
    from acav.subset_selection.runner import run_selection

    root = _data_dir(data_dir)
    cfg = _config(SelectConfig, "subset_selection", config, options)
    try:
        cfg.validate()
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    return _timed("subset_selection", root, cfg, lambda: run_selection(DataLayout(root), cfg))


def write_report(data_dir: PathLike | None = None, *, config: PathLike | None = None, **options: Any) -> Any:
    """The run report: one offline HTML file (``DATA_DIR/report.html`` unless ``output``).

    Returns :class:`acav.report.ReportSummary` (``path``, ``funnel``, ``missing`` parts, ``images``).
    """
    from acav.report.build import write_report as write
    from acav.report.config import SECTION, ReportConfig

    return write(_data_dir(data_dir), _config(ReportConfig, SECTION, config, options))


def generate_demo(
    data_dir: PathLike | None = None, *, config: PathLike | None = None, force: bool = False, **options: Any
) -> Any:
    """Generate the offline demo data set (metadata, source videos, ground truth) in ``data_dir``.

    Returns the generator's result (``status``, ``num_videos``, ``metadata_lines``).
    """
    from acav.demo.cli import default_demo_dir
    from acav.demo.generator import generate
    from acav.demo.plan import DemoConfig

    root = Path(data_dir) if data_dir is not None else default_demo_dir()
    return generate(root, _config(DemoConfig, "demo", config, options), force=force)


STAGE_FUNCTIONS: dict[str, Callable[..., StageSummary]] = dict(
    zip(
        STAGE_SECTIONS,
        (filter_metadata, download_videos, segment_clips, extract_features, cluster_features, select_subset),
        strict=True,
    )
)


def run_pipeline(
    data_dir: PathLike | None = None,
    *,
    config: PathLike | None = None,
    from_stage: str = STAGE_SECTIONS[0],
    to_stage: str = STAGE_SECTIONS[-1],
    report: bool = True,
    **stage_options: dict[str, Any],
) -> PipelineSummary:
    """Run the stages ``from_stage`` .. ``to_stage`` in order, then the report (as ``bash ./run.sh``).

    ``stage_options`` maps a stage (folder / YAML section name) to its options, e.g.
    ``clustering={"ncentroids": 10}``; ``report={...}`` is not accepted here: pass report options
    through the YAML ``config`` (section ``report``). A failing stage raises; the stages before it
    have written their outputs (re-running resumes).
    """
    for name, value in (("from_stage", from_stage), ("to_stage", to_stage)):
        if value not in STAGE_SECTIONS:
            raise ConfigError(f"{name}: unknown stage {value!r}; stages: {', '.join(STAGE_SECTIONS)}")
    first, last = STAGE_SECTIONS.index(from_stage), STAGE_SECTIONS.index(to_stage)
    if first > last:
        raise ConfigError(f"from_stage {from_stage} comes after to_stage {to_stage}")
    unknown = set(stage_options) - set(STAGE_SECTIONS)
    if unknown:
        raise ConfigError(
            f"unknown stage(s) {', '.join(sorted(unknown))}; stages: {', '.join(STAGE_SECTIONS)}"
        )
    root = _data_dir(data_dir)
    summary = PipelineSummary(root)
    for stage in STAGE_SECTIONS[first : last + 1]:
        summary.stages.append(STAGE_FUNCTIONS[stage](root, config=config, **stage_options.get(stage, {})))
    if report:
        summary.report = write_report(root, config=config)
    return summary


# ------------------------------------------------------------------------- generated docstrings

_CONFIG_CLASSES: dict[str, tuple[str, str, str]] = {
    # function name -> (module, class, YAML section / CLI command)
    "filter_metadata": ("acav.metadata_filtering.config", "FilterConfig", "metadata_filtering / acav filter"),
    "download_videos": ("acav.video_download.options", "DownloadConfig", "video_download / acav download"),
    "segment_clips": ("acav.clip_segmentation.config", "SegmentConfig", "clip_segmentation / acav segment"),
    "extract_features": (
        "acav.feature_extraction.options",
        "ExtractionConfig",
        "feature_extraction / acav extract",
    ),
    "cluster_features": ("acav.clustering.config", "ClusteringConfig", "clustering / acav cluster"),
    "select_subset": ("acav.subset_selection.config", "SelectConfig", "subset_selection / acav select"),
    "write_report": ("acav.report.config", "ReportConfig", "report / acav report"),
    "generate_demo": ("acav.demo.plan", "DemoConfig", "demo / acav demo generate"),
}


def options_doc(cls: type) -> str:
    """One line per option of a stage's config dataclass: name, type, default and help."""
    hints = typing.get_type_hints(cls)
    lines = []
    for fld in dataclasses.fields(cls):
        if fld.default is not dataclasses.MISSING:
            default = fld.default
        else:
            default = fld.default_factory()  # type: ignore[misc]
        kind = getattr(hints[fld.name], "__name__", None) or str(hints[fld.name]).replace("typing.", "")
        lines.append(f"    {fld.name} ({kind}, default {default!r}): {fld.metadata.get('help', '')}")
    return "\n".join(lines)


def _attach_docs() -> None:
    import importlib

    for name, (module, cls_name, where) in _CONFIG_CLASSES.items():
        function = globals()[name]
        cls = getattr(importlib.import_module(module), cls_name)
        function.__doc__ = (
            f"{function.__doc__}\n\n    Options (keyword arguments; YAML section / command: {where}):\n\n"
            f"{options_doc(cls)}\n"
        )


_attach_docs()
