"""Fault injection for the stage drivers: start ``<stage>/code/run.sh`` under a bash wrapper, kill -9
the whole process group or only the wrapper at a chosen moment, and compare what each stage wrote
with an uninterrupted run (file contents, never timestamps)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rel_helpers import ROOT, env

from acav.core.runlock import pid_alive
from acav.core.safe_pickle import safe_load


@dataclass(frozen=True)
class Stage:
    name: str  # acav subcommand
    folder: str  # stage folder with code/run.sh
    args: tuple[str, ...] = ()


def stage_env(data_dir: Path) -> dict[str, str]:
    out = env()
    out.update(DATA_DIR=str(data_dir), ACAV_SKIP_SETUP="1", ACAV_PYTHON=sys.executable)
    return out


def start(stage: Stage, data_dir: Path) -> subprocess.Popen:
    """``bash -c 'bash STAGE/code/run.sh ARGS'`` in its own process group; the wrapper stays the parent."""
    args = " ".join(a.replace("{data}", str(data_dir)) for a in stage.args)
    script = f"bash {ROOT / stage.folder / 'code' / 'run.sh'} {args} -q; exit $?"
    return subprocess.Popen(
        ["bash", "-c", script],
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=stage_env(data_dir),
    )


def run(stage: Stage, data_dir: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    proc = start(stage, data_dir)
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def kill_group(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


def kill_wrapper(proc: subprocess.Popen) -> list[int]:
    """Kill only the bash wrapper; returns the pids of the stage processes left running."""
    left = children(proc.pid)
    proc.kill()
    proc.communicate()
    return left


def wait_gone(pids: list[int], timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while any(pid_alive(p) for p in pids):
        if time.monotonic() > deadline:
            raise TimeoutError(f"stage processes {pids} still running after {timeout} s")
        time.sleep(0.2)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _pickle_digest(path: Path) -> Any:
    rows = safe_load(path)

    def norm(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            return ("array", str(value.dtype), value.shape, _digest(value.tobytes()))
        if isinstance(value, dict):
            return {k: norm(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [norm(v) for v in value]
        return value

    return norm(rows)


def outputs(stage: str, data: Path) -> dict[str, Any]:
    """What ``stage`` produced in ``data``, as comparable values (no timestamps, no run ids)."""
    out: dict[str, Any] = {}
    if stage == "filter":
        for name in ("filtered.tsv", "filtered.rejects.tsv"):
            out[name] = (data / name).read_bytes()
    elif stage == "download":
        for path in sorted((data / "videos" / "raw").glob("*.mp4")):
            out[path.name] = _digest(path.read_bytes())
    elif stage == "segment":
        for path in sorted((data / "videos").glob("shard-*.json")):
            out[path.name] = path.read_bytes()
            with tarfile.open(path.with_suffix(".tar")) as tar:
                out[path.stem + ".tar"] = [(m.name, _digest(tar.extractfile(m).read())) for m in tar]
        clips = data / "videos" / "clips"
        out["clips"] = {p.name: _digest(p.read_bytes()) for p in sorted(clips.glob("*.mp4"))}
        out["temps"] = sorted(p.name for p in clips.iterdir() if ".tmp-" in p.name)
        latest: dict[str, Any] = {}
        for line in (clips / "segmentation.log.jsonl").read_text().splitlines():
            record = json.loads(line)
            latest[record["id"]] = (record["status"], record.get("reason"), record.get("clips"))
        out["records"] = latest
    elif stage == "extract":
        for path in sorted((data / "features").glob("shard-*.pkl")):
            out[path.name] = _pickle_digest(path)
        out["temps"] = sorted(p.name for p in (data / "features").iterdir() if ".tmp-" in p.name)
    elif stage == "cluster":
        clusters = data / "clusters"
        for path in sorted(clusters.glob("shard-*.pkl")):
            out[path.name] = _pickle_digest(path)
        out["partitions"] = sorted(
            sorted(json.loads(p.read_text())["shards"]) for p in clusters.glob("log_*.json")
        )
    elif stage == "select":
        out["output.csv"] = (data / "output.csv").read_bytes()
        out["rows"] = len(list(csv.reader(io.StringIO(out["output.csv"].decode()))))
    return out
