"""The environment set-up: runtime and development dependency sets kept apart, a stamp per set
(so re-running is instant and a changed file triggers a new install), and the README's way to get
the ``acav`` command on PATH."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _requirements(name: str) -> list[str]:
    lines = (ROOT / name).read_text().splitlines()
    stripped = (line.split(" #", 1)[0].strip() for line in lines)  # drop inline comments too
    return [line for line in stripped if line and not line.startswith("#")]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!\[ ]", requirement, maxsplit=1)[0].lower()


def test_runtime_and_dev_requirements_are_split() -> None:
    runtime = _requirements("requirements.txt")
    dev = _requirements("requirements-dev.txt")
    assert dev[0] == "-r requirements.txt"  # dev = runtime + the rest
    test_only = {"pytest", "pytest-xdist", "ruff", "pytorchvideo", "fvcore", "torchvggish", "websockets"}
    assert not test_only & {_name(r) for r in runtime}
    assert test_only <= {_name(r) for r in dev[1:]}
    # pyproject's dependencies are exactly the runtime requirements
    block = re.search(r"^dependencies = \[(.*?)^\]", (ROOT / "pyproject.toml").read_text(), re.M | re.S)
    assert block is not None
    assert sorted(re.findall(r'"([^"]+)"', block.group(1))) == sorted(runtime)


def _stamp(*names: str) -> str:
    return hashlib.sha256(b"".join((ROOT / n).read_bytes() for n in names)).hexdigest()


def _setup(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ACAV_VENV=str(venv), PYTHON="/nonexistent/python3")
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "setup.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_setup_is_a_no_op_when_the_stamp_of_the_set_matches(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    runtime = _stamp("pyproject.toml", "requirements.txt")
    dev = _stamp("pyproject.toml", "requirements.txt", "requirements-dev.txt")
    # nothing stamped: it tries to install (and stops at the missing interpreter: no download here)
    proc = _setup(venv)
    assert proc.returncode == 1 and "needs Python 3.10" in proc.stderr
    (venv / ".acav-installed-runtime").write_text(runtime + "\n")
    assert _setup(venv).returncode == 0 and _setup(venv, "runtime").stderr == ""
    # the runtime set does not satisfy the dev set ...
    assert _setup(venv, "dev").returncode == 1
    (venv / ".acav-installed-dev").write_text(dev + "\n")
    assert _setup(venv, "dev").returncode == 0
    # ... but the dev set satisfies the runtime set, and a stale runtime stamp is then irrelevant
    (venv / ".acav-installed-runtime").write_text("stale\n")
    assert _setup(venv).returncode == 0
    (venv / ".acav-installed-dev").write_text("stale\n")
    assert _setup(venv).returncode == 1  # requirements changed: install again
    assert _setup(venv, "tests").returncode == 2


def test_run_sh_installs_runtime_and_test_sh_installs_dev() -> None:
    env_sh = (ROOT / "scripts" / "env.sh").read_text()
    assert 'setup.sh" "${ACAV_SETUP_SET:-runtime}"' in env_sh
    test_sh = (ROOT / "scripts" / "test.sh").read_text()
    assert "ACAV_SETUP_SET=dev" in test_sh.split("source", 1)[0]
    assert "setup-test-deps.sh" in test_sh
    assert "ACAV_SETUP_SET" not in (ROOT / "run.sh").read_text()


def test_readme_says_how_to_get_acav_on_path_and_it_works() -> None:
    readme = (ROOT / "README.md").read_text()
    line = "source .venv/bin/activate"
    assert line in readme
    # the `acav --help` example comes right after the activation line
    first_example = re.search(r"^acav -", readme, flags=re.M)
    assert first_example is not None and readme.index(line) < first_example.start()
    venv = Path(sys.executable).parent.parent
    proc = subprocess.run(
        ["bash", "-c", f"source {venv}/bin/activate && acav --help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and "report" in proc.stdout
