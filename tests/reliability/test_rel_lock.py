"""One writer per data directory (stages 3-6), and temporary files of live processes are kept."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from rel_helpers import acav, dead_pid, hold_lock, metadata_line

from acav.core.layout import DataLayout
from acav.subset_selection.synthetic import make_assignments, write_cluster_shards


@pytest.mark.parametrize(
    "stage",
    [
        ["segment"],
        pytest.param(
            ["extract", "--visual-extractor", "basic_visual", "--audio-extractor", "basic_audio"],
            marks=pytest.mark.slow,  # 7 s: torch start-up
        ),
        ["cluster", "--ncentroids", "4"],
        ["select", "--backend", "numpy"],
    ],
)
def test_a_second_writer_is_refused(tmp_path: Path, stage: list[str]) -> None:
    layout = DataLayout(tmp_path / "data")
    write_cluster_shards(layout, make_assignments(40, ncentroids=4, seed=1), 20)
    layout.raw_videos_dir.mkdir(parents=True)
    (layout.videos_dir / "shard-000000.tar").write_bytes(b"")  # stage 4 finds a shard
    before = {p: p.read_bytes() for p in layout.root.rglob("*") if p.is_file() and p.name != ".acav.lock"}
    holder = hold_lock(layout.root, "cluster")
    try:
        done = acav(stage[0], "--data-dir", str(layout.root), *stage[1:], timeout=120)
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 1, done.stderr[-2000:]
    message = done.stderr.strip().splitlines()[-1]
    assert f"pid {holder.pid}" in message and "acav cluster" in message and str(layout.root) in message
    assert "Traceback" not in done.stderr
    after = {p: p.read_bytes() for p in layout.root.rglob("*") if p.is_file() and p.name != ".acav.lock"}
    assert after == before  # nothing written, nothing deleted


def test_the_lock_dies_with_its_holder(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path / "data")
    write_cluster_shards(layout, make_assignments(40, ncentroids=4, seed=1), 20)
    holder = hold_lock(layout.root)
    os.kill(holder.pid, signal.SIGKILL)  # kill -9: no clean-up code runs
    holder.wait()
    done = acav("select", "--data-dir", str(layout.root), "--backend", "numpy", "-q")
    assert done.returncode == 0, done.stderr[-2000:]
    assert layout.output_csv.read_text().count("\n") == 8


def test_temps_of_live_processes_are_kept_dead_ones_removed(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path / "data")
    write_cluster_shards(layout, make_assignments(40, ncentroids=4, seed=1), 20)
    live = hold_lock(tmp_path / "elsewhere")  # any live process that is not this one
    try:
        dead = dead_pid()
        live_tmp = layout.root / f"output.csv.tmp-{live.pid}-abcd1234"
        dead_tmp = layout.root / f"output.csv.tmp-{dead}-abcd1234"
        old_tmp = layout.root / "output.csv.tmp-k3j4h5g6"  # an older version's name: no pid
        for path in (live_tmp, dead_tmp, old_tmp):
            path.write_text("partial")
        done = acav("select", "--data-dir", str(layout.root), "--backend", "numpy", "-q")
        assert done.returncode == 0, done.stderr[-2000:]
        assert live_tmp.exists() and not dead_tmp.exists() and not old_tmp.exists()
    finally:
        live.kill()
        live.wait()


def test_filter_removes_temps_of_dead_runs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "metadata.tsv").write_bytes(metadata_line("abcDEF12345"))
    live = hold_lock(tmp_path / "elsewhere")
    try:
        dead_tmp = data / f"filtered.tsv.tmp-{dead_pid()}-x1y2z3w4"
        live_tmp = data / f"filtered.tsv.tmp-{live.pid}-x1y2z3w4"
        dead_tmp.write_bytes(b"half a line")
        live_tmp.write_bytes(b"a live run's lines")
        done = acav("filter", "--data-dir", str(data), "-q")
        assert done.returncode == 0, done.stderr[-2000:]
        assert not dead_tmp.exists() and live_tmp.exists()
        assert (data / "filtered.tsv").read_bytes() == metadata_line("abcDEF12345")
    finally:
        live.kill()
        live.wait()
