import subprocess
import sys
from pathlib import Path

from acav.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_every_stage(capsys) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    for command in ("filter", "download", "segment", "extract", "cluster", "select", "demo"):
        assert command in out


def test_unknown_command_fails() -> None:
    proc = subprocess.run([sys.executable, "-m", "acav", "frobnicate"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr


def test_every_stage_folder_has_readme_and_driver() -> None:
    for stage in (
        "metadata_filtering",
        "video_download",
        "clip_segmentation",
        "feature_extraction",
        "clustering",
        "subset_selection",
    ):
        assert (ROOT / stage / "README.md").is_file(), stage
        driver = (ROOT / stage / "code" / "run.sh").read_text()
        assert '"$@"' in driver and "DATA_DIR" in driver
    for folder in ("evaluation", "correspondence_retrieval"):
        assert (ROOT / folder / "README.md").is_file()
        assert (ROOT / folder / "code" / "run.sh").is_file()


def test_command_modules_exist_for_every_registered_command() -> None:
    for module_name, _ in COMMANDS.values():
        path = ROOT / (module_name.replace(".", "/") + ".py")
        assert path.is_file(), f"{module_name} is registered in acav.cli but {path} is missing"


def test_run_sh_rejects_unknown_options() -> None:
    proc = subprocess.run(["bash", str(ROOT / "run.sh"), "--bogus"], capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown option" in proc.stderr
