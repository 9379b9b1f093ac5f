from pathlib import Path

import pytest

from acav.core.atomic import (
    TMP_MARKER,
    atomic_open,
    atomic_path,
    atomic_write_json,
    atomic_write_text,
    remove_stale_temps,
)


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.txt"
    atomic_write_text(target, "first\n")
    atomic_write_text(target, "second\n")
    assert target.read_text() == "second\n"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_failed_write_keeps_old_content_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    atomic_write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_open(target, "w") as handle:
            handle.write("partial")
            raise RuntimeError("interrupted")
    assert target.read_text() == '{\n  "a": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_atomic_path_for_external_writers(tmp_path: Path) -> None:
    target = tmp_path / "video.mp4"
    with atomic_path(target) as tmp:
        assert TMP_MARKER in tmp.name and tmp.parent == tmp_path
        assert not target.exists()
        tmp.write_bytes(b"data")
    assert target.read_bytes() == b"data"


def test_remove_stale_temps(tmp_path: Path) -> None:
    (tmp_path / f"a.pkl{TMP_MARKER}xyz").write_bytes(b"")
    (tmp_path / "b.pkl").write_bytes(b"")
    assert remove_stale_temps(tmp_path) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["b.pkl"]


def test_atomic_open_refuses_append(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        with atomic_open(tmp_path / "x", "a"):
            pass


def test_written_files_get_umask_permissions_not_0600(tmp_path):
    import os
    import stat

    from acav.core.atomic import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "out.csv", "x\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out.csv").stat().st_mode) == 0o644
