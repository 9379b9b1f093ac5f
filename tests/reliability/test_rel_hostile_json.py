"""Hostile json and YAML: deeply nested json in the files stages read, code-running YAML tags and
alias bombs in the config. Each ends as a per-file problem or a one-line error, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from rel_helpers import acav

from acav.core.layout import DataLayout
from acav.subset_selection.synthetic import make_assignments, write_cluster_shards

DEEP = "[" * 200_000 + "]" * 200_000  # json.loads recurses: RecursionError, not a ValueError


def _data(root: Path) -> DataLayout:
    layout = DataLayout(root)
    write_cluster_shards(layout, make_assignments(40, ncentroids=4, seed=1), 20)
    return layout


def test_select_with_deeply_nested_shard_json_and_log(tmp_path: Path) -> None:
    layout = _data(tmp_path / "data")
    layout.video_shard_json(0).write_text(DEEP)
    (layout.clusters_dir / "log_0002.json").write_text(DEEP)
    done = acav("select", "--data-dir", str(layout.root), "--backend", "numpy", "--ratio", "1.0", "-q")
    assert done.returncode == 0, done.stderr[-3000:]
    rows = layout.output_csv.read_text().splitlines()
    assert len(rows) == 40 and sum(",-1," in r for r in rows) == 20  # shard 0 lost its metadata only
    problems = json.loads(layout.selection_log.read_text())["problems"]
    assert any("shard-000000.json" in p["where"] for p in problems)
    assert any("log_0002.json" in p["where"] for p in problems)


def test_segment_with_a_deeply_nested_shard_json(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path / "data")
    layout.raw_videos_dir.mkdir(parents=True)
    layout.video_shard_tar(0).write_bytes(b"")
    layout.video_shard_json(0).write_text(DEEP)
    done = acav("segment", "--data-dir", str(layout.root), "-q")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "shard-000000.json" in done.stderr.strip().splitlines()[-1]


def test_yaml_that_would_run_code_is_refused(tmp_path: Path) -> None:
    layout = _data(tmp_path / "data")
    config = tmp_path / "acav.yaml"
    marker = tmp_path / "pwned"
    config.write_text(f"subset_selection: !!python/object/apply:os.system ['touch {marker}']\n")
    done = acav("select", "--data-dir", str(layout.root), "--config", str(config), "-q")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert str(config) in done.stderr and not marker.exists()
    assert not layout.output_csv.exists()


def test_yaml_alias_bomb_is_harmless(tmp_path: Path) -> None:
    layout = _data(tmp_path / "data")
    config = tmp_path / "acav.yaml"
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]  # 10**9 leaves
    lines.append("subset_selection: {ratio: 0.5}")
    config.write_text("\n".join(lines) + "\n")
    done = acav("select", "--data-dir", str(layout.root), "--backend", "numpy", "--config", str(config), "-q",
                timeout=120)  # fmt: skip
    assert done.returncode in (0, 2) and "Traceback" not in done.stderr, done.stderr[-3000:]


def test_filter_rejects_a_deeply_nested_metadata_line(tmp_path: Path) -> None:
    from rel_helpers import metadata_line

    data = tmp_path / "data"
    data.mkdir()
    good = metadata_line("abcDEF12345")
    (data / "metadata.tsv").write_bytes(b"bcdEFG23456\t" + DEEP.encode() + b"\n" + good)
    done = acav("filter", "--data-dir", str(data), "-q")
    assert done.returncode == 0, done.stderr[-3000:]
    assert (data / "filtered.tsv").read_bytes() == good
    assert (data / "filtered.rejects.tsv").read_text().startswith("1\tbcdEFG23456\tparse: ")
