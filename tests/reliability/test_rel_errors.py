"""Clear one-line errors, a non-zero exit and untouched earlier outputs: read-only data directories,
a full disk (small tmpfs mounts; root only), output paths that cannot be files, unknown devices."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from rel_helpers import acav, metadata_line

from acav.core.layout import DataLayout
from acav.subset_selection.synthetic import make_assignments, write_cluster_shards


def _can_mount() -> bool:
    return os.geteuid() == 0 and subprocess.run(["which", "mount"], capture_output=True).returncode == 0


needs_root = pytest.mark.skipif(not _can_mount(), reason="needs root to mount a tmpfs")


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _remount_ro(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)


def _one_clear_line(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert done.returncode != 0, done.stdout[-1000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    for needle in needles:
        assert needle in last, last
    return last


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@needs_root
def test_filter_on_a_read_only_data_dir(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "1m") as data:
        (data / "metadata.tsv").write_bytes(metadata_line("abcDEF12345"))
        (data / "filtered.tsv").write_bytes(b"previous\n")
        _remount_ro(data)
        before = _snapshot(data)
        done = acav("filter", "--data-dir", str(data), "-q")
        _one_clear_line(done, str(data), "read-only")
        assert _snapshot(data) == before


@needs_root
def test_download_on_a_read_only_data_dir(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "1m") as data:
        (data / "filtered.tsv").write_bytes(metadata_line("abcDEF12345"))
        source = tmp_path / "sources"
        source.mkdir()
        _remount_ro(data)
        done = acav("download", "--data-dir", str(data), "--source-dir", str(source), "-q")
        _one_clear_line(done, str(data), "read-only")


@needs_root
def test_filter_on_a_full_disk_keeps_the_previous_output(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "full", "64k") as data:
        lines = b"".join(
            metadata_line(f"abcDEF{i:05d}", title=f"Waves crashing number {i}") for i in range(400)
        )
        metadata = tmp_path / "metadata.tsv"  # the input lives elsewhere; the outputs go to the full disk
        metadata.write_bytes(lines)
        (data / "filtered.tsv").write_bytes(b"previous\n")
        before = _snapshot(data)
        done = acav("filter", "--data-dir", str(data), "--input", str(metadata), "-q")
        _one_clear_line(done, "disk is full")
        assert _snapshot(data) == before  # no temp file left, the previous output intact


@needs_root
def test_select_on_a_full_disk_keeps_the_previous_output(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path / "data")
    write_cluster_shards(layout, make_assignments(3000, ncentroids=8, seed=2), 1000)
    with tmpfs(tmp_path / "full", "32k") as out:
        output = out / "output.csv"
        output.write_bytes(b"previous\n")
        (out / "filler").write_bytes(b"x" * 20_000)
        before = _snapshot(out)
        done = acav(
            "select", "--data-dir", str(layout.root), "--backend", "numpy", "--output", str(output), "-q"
        )
        _one_clear_line(done, "disk is full")
        assert _snapshot(out) == before


@pytest.mark.parametrize("where", ["directory", "missing folder"])
@pytest.mark.parametrize("stage", ["filter", "select"])
def test_output_that_cannot_be_a_file(tmp_path: Path, stage: str, where: str) -> None:
    layout = DataLayout(tmp_path / "data")
    write_cluster_shards(layout, make_assignments(40, ncentroids=4, seed=1), 20)
    layout.metadata_tsv.write_bytes(metadata_line("abcDEF12345"))
    target = tmp_path / "out_dir" if where == "directory" else tmp_path / "missing" / "out.csv"
    if where == "directory":
        target.mkdir()
    extra = ["--backend", "numpy"] if stage == "select" else []
    done = acav(stage, "--data-dir", str(layout.root), "--output", str(target), *extra, "-q")
    _one_clear_line(done, str(target), "directory" if where == "directory" else "does not exist")
    assert not (tmp_path / "missing").exists()
    assert not list(target.iterdir()) if where == "directory" else True


@pytest.mark.parametrize(
    "stage",
    [
        ["select", "--backend", "torch"],
        ["cluster", "--ncentroids", "4"],
        pytest.param(
            ["extract", "--visual-extractor", "basic_visual", "--audio-extractor", "basic_audio"],
            marks=pytest.mark.slow,
        ),
    ],
)
def test_unknown_device(tmp_path: Path, stage: list[str]) -> None:
    layout = DataLayout(tmp_path / "data")
    write_cluster_shards(layout, make_assignments(40, ncentroids=4, seed=1), 20)
    layout.features_dir.mkdir(parents=True)
    (layout.features_dir / "shard-000000.pkl").write_bytes(layout.cluster_shard("shard-000000").read_bytes())
    (layout.videos_dir / "shard-000000.tar").write_bytes(b"")
    before = _snapshot(layout.root)
    done = acav(stage[0], "--data-dir", str(layout.root), *stage[1:], "--device", "tpu", "-q")
    _one_clear_line(done, "'tpu'", "cuda:N")
    after = _snapshot(layout.root)
    assert {k: v for k, v in after.items() if not k.endswith(".lock")} == before
