import argparse
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from acav.core.config import ConfigError, add_config_arguments, config_to_dict, load_config


@dataclass
class DemoConfig:
    min_duration: float = field(default=30.0, metadata={"help": "shortest kept"})
    languages: list[str] = field(default_factory=lambda: ["en", "es"], metadata={"help": "kept languages"})
    use_language: bool = field(default=True, metadata={"help": "language rule on/off"})
    keywords: Path | None = None
    mode: str = field(default="a", metadata={"choices": ["a", "b"]})


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, default=None)
    add_config_arguments(parser, DemoConfig)
    return parser.parse_args(argv)


def test_defaults_when_nothing_given(monkeypatch) -> None:
    monkeypatch.delenv("ACAV_CONFIG", raising=False)
    cfg = load_config(DemoConfig, "demo", _parse([]))
    assert cfg == DemoConfig()


def test_precedence_defaults_yaml_cli(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("ACAV_CONFIG", raising=False)
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text(
        "demo:\n  min-duration: 10\n  languages: [fr]\n  use_language: false\nclustering:\n  x: 1\n"
    )
    cfg = load_config(DemoConfig, "demo", _parse(["--config", str(yaml_file), "--min-duration", "5"]))
    assert cfg.min_duration == 5.0
    assert cfg.languages == ["fr"]
    assert cfg.use_language is False
    cfg = load_config(
        DemoConfig, "demo", _parse(["--config", str(yaml_file), "--use-language", "--languages", "ko", "ja"])
    )
    assert cfg.use_language is True and cfg.languages == ["ko", "ja"] and cfg.min_duration == 10.0


def test_env_config_file(tmp_path: Path, monkeypatch) -> None:
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("demo:\n  keywords: /tmp/k.txt\n")
    monkeypatch.setenv("ACAV_CONFIG", str(yaml_file))
    assert load_config(DemoConfig, "demo", _parse([])).keywords == Path("/tmp/k.txt")


def test_unknown_key_and_bad_value_are_clear_errors(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("ACAV_CONFIG", raising=False)
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("demo:\n  min_durration: 10\n")
    with pytest.raises(ConfigError, match="unknown option 'min_durration'.*c.yaml|c.yaml.*min_durration"):
        load_config(DemoConfig, "demo", _parse(["--config", str(yaml_file)]))
    yaml_file.write_text("demo:\n  min_duration: ten\n")
    with pytest.raises(ConfigError, match="demo.min_duration"):
        load_config(DemoConfig, "demo", _parse(["--config", str(yaml_file)]))
    with pytest.raises(ConfigError, match="not found"):
        load_config(DemoConfig, "demo", _parse(["--config", str(tmp_path / "missing.yaml")]))


def test_choices_enforced_and_dict_output() -> None:
    with pytest.raises(SystemExit):
        _parse(["--mode", "c"])
    assert config_to_dict(DemoConfig(keywords=Path("k")))["keywords"] == "k"


@dataclass
class IntConfig:
    workers: int = field(default=1, metadata={"help": "processes"})
    ratio: float = 0.5


def test_unknown_section_is_an_error_naming_file_and_section(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("ACAV_CONFIG", raising=False)
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("demo:\n  min_duration: 10\nclusterin:\n  ncentroids: 64\n")
    with pytest.raises(ConfigError) as info:
        load_config(DemoConfig, "demo", _parse(["--config", str(yaml_file)]))
    message = str(info.value)
    assert str(yaml_file) in message and "'clusterin'" in message and "did you mean 'clustering'" in message
    # the section asked for is always known, even when not in the central list
    yaml_file.write_text("brand_new_command:\n  workers: 3\n")
    assert load_config(IntConfig, "brand_new_command", config_file=yaml_file).workers == 3


@pytest.mark.parametrize("text", ["2.5", "'2.5'", "true"])
def test_float_or_bool_for_an_int_option_is_an_error(tmp_path: Path, text: str) -> None:
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text(f"clustering:\n  workers: {text}\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: clustering\.workers: cannot use .* as an integer"):
        load_config(IntConfig, "clustering", config_file=yaml_file)


def test_whole_numbers_are_accepted_for_int_and_ints_for_float(tmp_path: Path) -> None:
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("clustering:\n  workers: 4.0\n  ratio: 1\n")
    cfg = load_config(IntConfig, "clustering", config_file=yaml_file)
    assert cfg.workers == 4 and isinstance(cfg.workers, int) and cfg.ratio == 1.0
    # keyword overrides (the Python API) go through the same checks
    with pytest.raises(ConfigError, match="clustering.workers"):
        load_config(IntConfig, "clustering", workers=2.5)
    assert load_config(IntConfig, "clustering", workers="3").workers == 3


def _stage_args(cls: type, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, default=None)
    add_config_arguments(parser, cls)
    return parser.parse_args(argv)


def test_deprecated_spellings_still_work_and_warn(tmp_path: Path, monkeypatch, caplog) -> None:
    from acav.clip_segmentation.config import SegmentConfig
    from acav.core import config as config_mod
    from acav.feature_extraction.options import ExtractionConfig

    monkeypatch.delenv("ACAV_CONFIG", raising=False)
    monkeypatch.setattr(config_mod, "_WARNED", set())
    with caplog.at_level("WARNING", logger="acav.core.config"):
        # extract --num-workers: old -1 (auto) is new 0, old 0 (main process) is new -1
        cfg = load_config(
            ExtractionConfig, "feature_extraction", _stage_args(ExtractionConfig, ["--num-workers", "0"])
        )
        assert cfg.workers == -1 and cfg.thread_plan(1).workers == 0
    assert "'num_workers' (--num-workers) is deprecated; use 'workers' (--workers)" in caplog.text
    args = _stage_args(ExtractionConfig, ["--num-workers", "-1"])
    assert load_config(ExtractionConfig, "feature_extraction", args).workers == 0
    args = _stage_args(ExtractionConfig, ["--num-workers", "5", "--workers", "2"])
    assert load_config(ExtractionConfig, "feature_extraction", args).workers == 2  # the new name wins
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, ExtractionConfig)
    assert "--num-workers" not in parser.format_help() and "--workers" in parser.format_help()  # hidden
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("feature_extraction:\n  num_workers: 3\nclip_segmentation:\n  shards: false\n")
    assert load_config(ExtractionConfig, "feature_extraction", config_file=yaml_file).workers == 3
    assert load_config(SegmentConfig, "clip_segmentation", config_file=yaml_file).bundle_shards is False
    # segment --no-shards is now --no-bundle-shards (--shards is a list of shards elsewhere)
    args = _stage_args(SegmentConfig, ["--no-shards"])
    assert load_config(SegmentConfig, "clip_segmentation", args).bundle_shards is False
    assert load_config(SegmentConfig, "clip_segmentation", _stage_args(SegmentConfig, [])).bundle_shards
    # Python: the API keyword and the dataclass constructor keep the old names too
    assert load_config(ExtractionConfig, "feature_extraction", num_workers=0).workers == -1
    assert (
        ExtractionConfig(num_workers=0).workers == -1 and SegmentConfig(shards=False).bundle_shards is False
    )


def test_workers_zero_means_auto_in_every_stage() -> None:
    from acav.clip_segmentation.config import SegmentConfig
    from acav.core.threads import available_cores
    from acav.feature_extraction.options import ExtractionConfig
    from acav.metadata_filtering.config import FilterConfig
    from acav.video_download.options import AUTO_WORKERS, DownloadConfig

    cfg = FilterConfig(workers=0)
    cfg.validate()
    assert cfg.workers == available_cores()
    assert DownloadConfig(workers=0).workers == AUTO_WORKERS
    assert SegmentConfig(workers=0).workers == 0  # resolved when the stage runs (half the cores)
    assert ExtractionConfig(workers=0).thread_plan(1, on_cpu=False).workers == max(
        1, min(8, available_cores())
    )
    with pytest.raises(ConfigError, match="0 = auto"):
        DownloadConfig(workers=-1)
