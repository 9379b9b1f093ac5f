"""A tiny real demo: files, valid mp4s with the planned durations and cuts, manifest skip/resume/force,
refusal to overwrite non-demo data, and removal of stale pipeline outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from acav.cli import main
from acav.core.decode import iter_video_frames, read_audio
from acav.core.media import probe_media
from acav.demo.generator import MANIFEST, DemoError, generate, source_video_path
from acav.demo.ground_truth import load_ground_truth
from acav.demo.plan import DemoConfig, make_plan
from acav.demo.visuals import frames_at


def _first_frames(path: Path, count: int) -> np.ndarray:
    frames = []
    for _, frame in iter_video_frames(path):
        frames.append(frame.astype(int))
        if len(frames) == count:
            break
    return np.stack(frames)


TINY = {"num_videos": 3, "num_classes": 3, "min_duration": 30, "max_duration": 34, "seed": 4}


@pytest.fixture(scope="module")
def tiny_demo(tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("demo")
    result = generate(data_dir, DemoConfig(**TINY))
    assert result.status == "generated" and result.videos_written == 3
    return data_dir


def test_files_and_ground_truth(tiny_demo: Path):
    truth = load_ground_truth(tiny_demo)
    plans = make_plan(DemoConfig(**TINY))
    assert sorted(truth["videos"]) == sorted(p.youtube_id for p in plans)
    assert (tiny_demo / "metadata.tsv").is_file() and (tiny_demo / "ground_truth.tsv").is_file()
    manifest = json.loads((tiny_demo / MANIFEST).read_text())
    assert manifest["complete"] is True and len(manifest["files"]) == 3
    lines = (tiny_demo / "metadata.tsv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(truth["metadata"]) == truth["summary"]["metadata_lines"]
    for plan in plans:
        video = truth["videos"][plan.youtube_id]
        assert video["visual_class"] == plan.visual_class and video["audio_class"] == plan.audio_class
        assert video["matching"] == plan.matching and video["duration"] == plan.duration
        # The metadata line of a video names it and is meant to be kept.
        entry = truth["metadata"][video["metadata_line"] - 1]
        assert entry["id"] == plan.youtube_id and entry["intended"] == "kept"
        assert plan.youtube_id in lines[video["metadata_line"] - 1].split("\t", 1)[0]
        assert video["shots"][0][0] == 0.0 and video["shots"][-1][1] == plan.duration
        assert video["cuts"] == [start for start, _ in video["shots"][1:]]


def test_videos_are_valid_mp4_with_planned_duration(tiny_demo: Path):
    truth = load_ground_truth(tiny_demo)
    for youtube_id, video in truth["videos"].items():
        info = probe_media(source_video_path(tiny_demo, youtube_id))
        assert info.has_video and info.has_audio
        assert (info.video_codec, info.audio_codec) == ("h264", "aac")
        assert (info.width, info.height, info.fps) == (160, 120, 15.0)
        assert abs(info.duration - video["duration"]) < 0.15, (info.duration, video["duration"])


def test_hard_cuts_at_ground_truth_times(tiny_demo: Path):
    truth = load_ground_truth(tiny_demo)
    for youtube_id, video in truth["videos"].items():
        times, frames = [], []
        for t, frame in iter_video_frames(
            source_video_path(tiny_demo, youtube_id), size=(40, 30), pix_fmt="gray"
        ):
            times.append(t)
            frames.append(frame[:, :, 0].astype(np.float32))
        assert len(frames) == video["num_frames"]
        diffs = np.abs(np.diff(np.stack(frames), axis=0)).mean(axis=(1, 2))
        # A cut changes nearly every pixel; motion inside a shot changes few.
        detected = [times[i + 1] for i in np.flatnonzero(diffs > 25)]
        assert detected == pytest.approx(video["cuts"], abs=0.5 / video["fps"]), (diffs.max(), video["cuts"])
        within = np.delete(diffs, [round(c * video["fps"]) - 1 for c in video["cuts"]])
        assert within.max() < 15


def test_decoded_frames_and_audio_match_the_rendering(tiny_demo: Path):
    config = DemoConfig(**TINY)
    plan = make_plan(config)[0]
    path = source_video_path(tiny_demo, plan.youtube_id)
    decoded = _first_frames(path, 20)
    rendered = frames_at(plan, config, list(range(20)))
    assert np.abs(decoded - rendered.astype(int)).mean() < 6
    audio = read_audio(path, sample_rate=config.sample_rate)
    assert abs(len(audio) / config.sample_rate - plan.duration) < 0.15
    assert 0.05 < np.abs(audio).max() <= 1.0


def test_second_run_is_skipped_and_force_regenerates(tiny_demo: Path):
    video = source_video_path(tiny_demo, make_plan(DemoConfig(**TINY))[0].youtube_id)
    before = video.stat().st_mtime_ns
    result = generate(tiny_demo, DemoConfig(**TINY))
    assert result.status == "up to date" and result.videos_written == 0
    assert video.stat().st_mtime_ns == before
    # A missing video is regenerated alone (resume), other videos are kept.
    video.unlink()
    result = generate(tiny_demo, DemoConfig(**TINY))
    assert result.status == "generated" and result.videos_written == 1 and video.is_file()


def test_metadata_and_ground_truth_bytes_are_reproducible(tmp_path: Path, tiny_demo: Path):
    # Same parameters, another directory: identical metadata and ground truth bytes.
    config = DemoConfig(**{**TINY, "num_videos": 1})
    a = generate(tmp_path / "a", config)
    b = generate(tmp_path / "b", config)
    assert a.status == b.status == "generated"
    for name in ("metadata.tsv", "ground_truth.json", "ground_truth.tsv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    plan = make_plan(config)[0]
    first = _first_frames(source_video_path(tmp_path / "a", plan.youtube_id), 5)
    second = _first_frames(source_video_path(tmp_path / "b", plan.youtube_id), 5)
    assert np.abs(first - second).max() <= 2


def test_refuses_to_overwrite_foreign_metadata_unless_forced(tmp_path: Path):
    (tmp_path / "metadata.tsv").write_text("mine\n")
    config = DemoConfig(**{**TINY, "num_videos": 1})
    with pytest.raises(DemoError, match="not demo data"):
        generate(tmp_path, config)
    assert (tmp_path / "metadata.tsv").read_text() == "mine\n"
    assert generate(tmp_path, config, force=True).status == "generated"
    assert (tmp_path / "metadata.tsv").read_text() != "mine\n"


def test_new_parameters_remove_stale_outputs(tmp_path: Path):
    generate(tmp_path, DemoConfig(**{**TINY, "num_videos": 1}))
    old_video = next((tmp_path / "source_videos").iterdir())
    (tmp_path / "filtered.tsv").write_text("stale\n")
    (tmp_path / "videos" / "raw").mkdir(parents=True)
    (tmp_path / "videos" / "raw" / "x.mp4").write_bytes(b"stale")
    (tmp_path / "output.csv").write_text("stale\n")
    (tmp_path / "notes.txt").write_text("user file\n")
    generate(tmp_path, DemoConfig(**{**TINY, "num_videos": 1, "seed": 99}))
    assert not (tmp_path / "filtered.tsv").exists()
    assert not (tmp_path / "videos").exists()
    assert not (tmp_path / "output.csv").exists()
    assert not old_video.exists()
    assert (tmp_path / "notes.txt").read_text() == "user file\n"  # only known outputs are removed
    assert len(list((tmp_path / "source_videos").iterdir())) == 1


def test_cli_generate_and_invalid_option(tmp_path: Path, capsys):
    args = [
        "demo",
        "generate",
        "--data-dir",
        str(tmp_path),
        "--num-videos",
        "1",
        "--min-duration",
        "30",
        "--max-duration",
        "31",
        "--seed",
        "5",
        "--match-fraction",
        "1",
    ]
    assert main(args) == 0
    assert "1 source videos" in capsys.readouterr().out
    truth = load_ground_truth(tmp_path)
    assert truth["config"]["seed"] == 5 and truth["summary"]["num_matching"] == 1
    assert main(args) == 0
    assert "up to date" in capsys.readouterr().out
    assert main(["demo", "generate", "--data-dir", str(tmp_path / "x"), "--num-classes", "9"]) == 1
    assert "--num-classes" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_demo_data_dir_defaults_to_data_demo_not_data(monkeypatch: pytest.MonkeyPatch) -> None:
    # The demo must not land in the real pipeline's data/ unless asked (issue: default data/demo/).
    from acav.cli import build_parser

    monkeypatch.delenv("DATA_DIR", raising=False)
    assert build_parser("demo").parse_args(["demo", "generate"]).data_dir == Path("data/demo")
    assert build_parser("demo").parse_args(["demo", "report"]).data_dir == Path("data/demo")
    given = build_parser("demo").parse_args(["demo", "--data-dir", "x", "generate"])
    assert given.data_dir == Path("x")
    assert build_parser("filter").parse_args(["filter"]).data_dir is None  # other commands: unchanged
    monkeypatch.setenv("DATA_DIR", "/some/where")
    assert build_parser("demo").parse_args(["demo", "generate"]).data_dir == Path("/some/where")


def test_workers_follow_the_common_convention(tmp_path: Path):
    import os

    from acav.demo.generator import default_workers

    assert default_workers() == max(1, min(4, len(os.sched_getaffinity(0))))  # 0 = auto
    with pytest.raises(DemoError, match="--workers must be >= 0"):
        generate(tmp_path / "demo", DemoConfig(), workers=-1)
    assert not (tmp_path / "demo").exists()  # refused before any work
