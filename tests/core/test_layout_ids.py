from pathlib import Path

import pytest

from acav.core.ids import is_valid_youtube_id, split_id_or_url, watch_url
from acav.core.layout import DataLayout, UnsafePathError, list_shards, shard_index, shard_name


def test_shard_names() -> None:
    assert shard_name(0) == "shard-000000"
    assert shard_name(1234567) == "shard-1234567"
    assert shard_index("shard-000042.tar") == 42
    assert shard_index("data/clusters/shard-000009.pkl") == 9
    with pytest.raises(ValueError):
        shard_index("shard-12.tar")
    with pytest.raises(ValueError):
        shard_name(-1)


def test_layout_paths(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    assert layout.filtered_tsv == tmp_path / "filtered.tsv"
    assert layout.raw_video("NgI3xyMX1Ss") == tmp_path / "videos" / "raw" / "NgI3xyMX1Ss.mp4"
    assert layout.download_log == tmp_path / "videos" / "raw" / "download.log.jsonl"
    assert layout.video_shard_json(3) == tmp_path / "videos" / "shard-000003.json"
    assert layout.cluster_shard("shard-000003") == tmp_path / "clusters" / "shard-000003.pkl"
    assert layout.output_csv == tmp_path / "output.csv"


def test_default_data_dir_honours_env(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    assert DataLayout().root == tmp_path


@pytest.mark.parametrize("hostile", ["../../x", "..", "a/b", "", "x\x00y", "..\\..\\x"])
def test_inside_refuses_escapes(tmp_path: Path, hostile: str) -> None:
    with pytest.raises(UnsafePathError):
        DataLayout.inside(tmp_path, hostile)


def test_inside_refuses_symlink_escape(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    base = tmp_path / "base"
    base.mkdir()
    (base / "link").symlink_to(outside)
    with pytest.raises(UnsafePathError):
        DataLayout.inside(base, "link")


def test_list_shards_sorted_and_ignores_temps(tmp_path: Path) -> None:
    for name in [
        "shard-000010.pkl",
        "shard-000002.pkl",
        "shard-000002.pkl.tmp-abc",
        "log_1.json",
        "shard-1.pkl",
    ]:
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in list_shards(tmp_path, ".pkl")] == ["shard-000002.pkl", "shard-000010.pkl"]
    assert list_shards(tmp_path / "missing", ".pkl") == []


def test_ids_and_urls() -> None:
    assert is_valid_youtube_id("NgI3xyMX1Ss")
    assert is_valid_youtube_id("a-b_c-d_e-f")
    for bad in ["NgI3xyMX1S", "NgI3xyMX1Ssx", "../../xxxxx", "NgI3xyMX1S\u00e9", "NgI3xyMX1S/"]:
        assert not is_valid_youtube_id(bad)
    assert split_id_or_url("https://www.youtube.com/watch?v=NgI3xyMX1Ss") == (
        "NgI3xyMX1Ss",
        "https://www.youtube.com/watch?v=NgI3xyMX1Ss",
    )
    assert split_id_or_url(" NgI3xyMX1Ss ") == ("NgI3xyMX1Ss", None)
    assert watch_url("NgI3xyMX1Ss").endswith("v=NgI3xyMX1Ss")
