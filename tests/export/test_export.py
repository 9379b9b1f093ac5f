"""``acav export`` on real stage-3 tar shards of real (tiny) mp4 clips."""

from __future__ import annotations

import json
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from acav.cli import main
from acav.clip_segmentation.shards import ClipEntry, write_shard
from acav.core.encode import encode_mp4
from acav.core.layout import DataLayout
from acav.export.config import ExportConfig
from acav.export.runner import run_export
from acav.export.sources import ExportInputError

IDS = ["vidAAAAAAA0", "vidBBBBBBB1", "vidCCCCCCC2", "vidDDDDDDD3", "vidEEEEEEE4"]


def _frames(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    frames = [rng.integers(0, 255, (32, 32, 3), dtype=np.uint8) for _ in range(4)]
    return frames


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with 2 stage-3 shards (10 clips), cluster shards, output.csv and its order file."""
    root = tmp_path_factory.mktemp("pool")
    layout = DataLayout(root)
    layout.clips_dir.mkdir(parents=True)
    clips = []
    for n in range(10):
        video_id = IDS[n % 5]
        start = 12 * (n // 5)
        entry = ClipEntry(f"{video_id}_{start:03d}.mp4", video_id, start + 0.5, start + 10.5)
        encode_mp4(layout.clips_dir / entry.filename, _frames(n), width=32, height=32, fps=4)
        clips.append(entry)
    for index in range(2):
        chunk = clips[index * 5 : index * 5 + 5]
        write_shard(layout.video_shard_tar(index), layout.video_shard_json(index), chunk, layout.clips_dir)
        records = [
            {
                "filename": c.filename,
                "shard_name": f"shard-{index:06d}",
                "video_assignments": [{"extractor_name": "V", "array": {"layer_0": i, "layer_1": 7}}],
                "audio_assignments": [{"extractor_name": "A", "array": {"layer_0": 10 + i}}],
            }
            for i, c in enumerate(chunk)
        ]
        layout.clusters_dir.mkdir(exist_ok=True)
        (layout.cluster_shard(f"shard-{index:06d}")).write_bytes(pickle.dumps(records))
    chosen = [clips[i] for i in (0, 3, 6, 9)]
    layout.output_csv.write_text(
        "".join(
            f'shard-{clips.index(c) // 5:06d},{c.filename},{c.video_id},"[{c.start}, {c.end}]"\n'
            for c in chosen
        )
    )
    (root / "output.order.csv").write_text(
        "".join(
            f"shard-{clips.index(c) // 5:06d},{c.filename},0,{step}\n"
            for step, c in zip([3, 1, 4, 2], chosen, strict=True)
        )
    )
    return root


def _read_export(directory: Path) -> dict[str, dict[str, bytes]]:
    members: dict[str, dict[str, bytes]] = {}
    for tar_path in sorted(directory.glob("shard-*.tar")):
        with tarfile.open(tar_path) as tar:
            for member in tar:
                key, ext = member.name.split(".", 1)
                members.setdefault(key, {})[ext] = tar.extractfile(member).read()
    return members


def test_curated_export_holds_every_selected_clip_once_with_its_metadata(pool: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    summary = run_export(DataLayout(pool), ExportConfig(output_dir=out, clips_per_shard=3))
    assert summary["verified"]
    manifest = summary["curated"]
    assert (manifest["clips"], manifest["shards"], manifest["shards_written"]) == (4, 2, 2)
    members = _read_export(out / "curated")
    assert sorted(members) == ["vidAAAAAAA0_000", "vidBBBBBBB1_012", "vidDDDDDDD3_000", "vidEEEEEEE4_012"]
    record = json.loads(members["vidDDDDDDD3_000"]["json"])
    assert record["id"] == "vidDDDDDDD3"
    assert record["segment"] == [0.5, 10.5]
    assert record["shard"] == "shard-000000"
    assert record["clusters"] == {"video": {"V/layer_0": 3, "V/layer_1": 7}, "audio": {"A/layer_0": 13}}
    assert record["selection_step"] == 1
    assert json.loads(members["vidEEEEEEE4_012"]["json"])["shard"] == "shard-000001"
    for key, files in members.items():
        assert files["mp4"] == (pool / "videos" / "clips" / f"{key}.mp4").read_bytes()
    # the index beside each tar lists the same records in the same order
    index = json.loads((out / "curated" / "shard-000000.json").read_text())
    assert [r["key"] for r in index] == ["vidAAAAAAA0_000", "vidDDDDDDD3_000", "vidBBBBBBB1_012"]


def test_export_resumes_skipping_finished_shards(pool: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    config = ExportConfig(output_dir=out, clips_per_shard=1)
    run_export(DataLayout(pool), config)
    first = (out / "curated" / "shard-000000.tar").stat().st_mtime_ns
    (out / "curated" / "shard-000002.json").unlink()  # as if killed between the tar and its index
    summary = run_export(DataLayout(pool), config)["curated"]
    assert (summary["shards_written"], summary["shards_skipped"]) == (1, 3)
    assert summary["verification"]["ok"]
    assert (out / "curated" / "shard-000000.tar").stat().st_mtime_ns == first


def test_random_twin_has_the_same_size_is_seeded_and_drawn_from_the_pool(pool: Path, tmp_path: Path) -> None:
    def twin(seed: int, out: Path) -> list[str]:
        run_export(
            DataLayout(pool), ExportConfig(output_dir=out, random_subset=True, seed=seed, curated=False)
        )
        return sorted(_read_export(out / "random"))

    a, again, other = twin(1, tmp_path / "a"), twin(1, tmp_path / "b"), twin(2, tmp_path / "c")
    assert len(a) == 4 and a == again
    pool_keys = {p.stem for p in (pool / "videos" / "clips").glob("*.mp4")}
    assert set(a) <= pool_keys and set(other) <= pool_keys
    draws = {tuple(twin(s, tmp_path / f"s{s}")) for s in range(3, 8)}
    assert len(draws) > 1  # the seed changes the draw
    record = json.loads(_read_export(tmp_path / "a" / "random")[a[0]]["json"])
    assert record["subset"] == "random" and record["selection_step"] is None


def test_missing_clip_fails_verification_and_keeps_clip_files(pool: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "videos" / "clips").mkdir(parents=True)
    for name in ("shard-000000.tar", "shard-000000.json", "shard-000001.json"):
        (data / "videos" / name).write_bytes((pool / "videos" / name).read_bytes())
    clip = data / "videos" / "clips" / "vidAAAAAAA0_000.mp4"
    clip.write_bytes((pool / "videos" / "clips" / clip.name).read_bytes())
    (data / "output.csv").write_text((pool / "output.csv").read_text())
    summary = run_export(DataLayout(data), ExportConfig(clips_per_shard=10, delete_clips=True))
    verification = summary["curated"]["verification"]
    assert not summary["verified"]
    assert sorted(verification["missing"]) == [
        "vidBBBBBBB1_012",
        "vidEEEEEEE4_012",
    ]  # shard-000001.tar absent
    log = [
        json.loads(line)
        for line in (data / "export" / "curated" / "export.log.jsonl").read_text().splitlines()
    ]
    assert sorted(r["clip"] for r in log) == ["vidBBBBBBB1_012.mp4", "vidEEEEEEE4_012.mp4"]
    assert clip.exists() and "deleted_clips" not in summary


def test_delete_clips_after_a_verified_export(pool: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "videos" / "clips").mkdir(parents=True)
    for path in (pool / "videos").glob("shard-*"):
        (data / "videos" / path.name).write_bytes(path.read_bytes())
    for path in (pool / "videos" / "clips").glob("*.mp4"):
        (data / "videos" / "clips" / path.name).write_bytes(path.read_bytes())
    extra = data / "videos" / "clips" / "vidZZZZZZZ9_000.mp4"  # cut but not bundled yet: kept
    extra.write_bytes(b"not in a shard")
    (data / "output.csv").write_text((pool / "output.csv").read_text())
    assert main(["export", "--data-dir", str(data), "--delete-clips", "-q"]) == 0
    assert [p.name for p in (data / "videos" / "clips").iterdir()] == [extra.name]
    assert len(_read_export(data / "export" / "curated")) == 4


def test_malformed_output_line_is_named(pool: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "output.csv").write_text('shard-000000,a_000.mp4,a,"[0.0, 10.0]"\nshard-000000,broken\n')
    with pytest.raises(ExportInputError, match=r"output.csv:2"):
        run_export(DataLayout(data), ExportConfig())
    (data / "output.csv").write_text('shard-000000,../x.mp4,a,"[0.0, 10.0]"\n')
    with pytest.raises(ExportInputError, match=r"output.csv:1"):
        run_export(DataLayout(data), ExportConfig())
