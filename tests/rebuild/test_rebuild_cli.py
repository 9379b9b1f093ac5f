"""The rebuild command's options: its own, stage 2's and stage 3's cutting options, from flags and
from one YAML file with the stages' sections."""

from __future__ import annotations

from pathlib import Path

import pytest

from acav.cli import build_parser, main
from acav.clip_segmentation.config import SegmentConfig
from acav.core.config import ConfigError, load_config
from acav.rebuild.config import RebuildConfig
from acav.video_download.options import DownloadConfig


def test_flags_and_yaml_sections_reach_the_three_configs(tmp_path: Path) -> None:
    config = tmp_path / "acav.yaml"
    config.write_text(
        "rebuild:\n  tolerance: 0.25\nclip_segmentation:\n  crf: 30\nvideo_download:\n  retries: 7\n"
    )
    args = build_parser("rebuild").parse_args(
        [
            "rebuild",
            "list.csv",
            "--config",
            str(config),
            "--ytdlp-option",
            "geo_bypass=true",
            "--preset",
            "fast",
        ]
        + ["--cut-workers", "3", "--workers", "5", "--retry-failed", "--clips-per-shard", "10"]
    )
    rebuild = load_config(RebuildConfig, "rebuild", args)
    download = load_config(DownloadConfig, "video_download", args)
    segment = load_config(SegmentConfig, "clip_segmentation", args)
    assert (rebuild.tolerance, rebuild.cut_workers) == (0.25, 3)
    assert (download.workers, download.retries, download.retry_failed) == (5, 7, True)
    assert download.extra_ytdlp_options() == {"geo_bypass": True}
    assert (segment.crf, segment.preset, segment.clips_per_shard) == (30, "fast", 10)
    # Options that choose clips or name stage 2's input are not offered: the list decides.
    with pytest.raises(SystemExit):
        build_parser("rebuild").parse_args(["rebuild", "list.csv", "--threshold", "20"])
    with pytest.raises(SystemExit):
        build_parser("rebuild").parse_args(["rebuild", "list.csv", "--input", "x.tsv"])


def test_bad_options_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="url-template"):
        RebuildConfig(url_template="https://host/{id}/watch")
    assert (
        RebuildConfig(url_template="http://127.0.0.1:8000/v/{id}")
        .video_url("abcDEF12345")
        .endswith("/v/abcDEF12345")
    )
    listed = tmp_path / "output.csv"
    listed.write_text('shard-000000,abcDEF12345_001.mp4,abcDEF12345,"[1.0, 11.0]"\n')
    code = main(
        ["rebuild", str(listed), "--data-dir", str(tmp_path / "d"), "--source-dir", str(tmp_path / "no")]
    )
    assert code == 2 and not (tmp_path / "d" / "rebuild.status.jsonl").exists()
