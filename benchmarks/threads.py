"""Benchmark: stage 3 with 2 workers under a concurrent load, ours (--threads budget) vs the code before it.

    nice python benchmarks/threads.py                 # 4 videos of ~60 s, 320x240, 2 workers, 2 rounds

Before the thread budget every worker's PyAV decoder and every ffmpeg cut sized their thread pools
to the whole machine, so W workers on C cores ran up to W x C busy threads. This runs
``acav segment --workers 2`` on the same generated videos with this tree (default ``--threads 0``:
every available core, split over the workers) and with the tree of ``--baseline`` (extracted with
``git archive``), while a busy-loop process keeps one core occupied, and prints wall and CPU
seconds (the ``acav`` process and its workers and ffmpeg children, from ``os.wait4``). Rounds
alternate the two trees so that a change of load on a shared machine hits both alike.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from select_stage import BASELINE, baseline_tree  # noqa: E402

from clip_segmentation import make_video  # noqa: E402

SCENES = [(14, 1), (12, 1), (16, 1), (11, 1)]  # ~53 s, 4 long shots: 3 clips chosen of 4


def run_segment(tree: Path, videos: list[Path], work: Path, workers: int) -> tuple[float, float]:
    """(wall s, CPU s of the process tree) of one ``acav segment`` run on fresh copies of ``videos``."""
    data = work / "data"
    shutil.rmtree(data, ignore_errors=True)
    raw = data / "videos" / "raw"
    raw.mkdir(parents=True)
    for video in videos:
        shutil.copy(video, raw / video.name)
    env = {**os.environ, "PYTHONPATH": str(tree), "ACAV_PROGRESS": "0"}
    command = [
        sys.executable,
        "-m",
        "acav",
        "segment",
        "--data-dir",
        str(data),
        "--workers",
        str(workers),
        "-q",
    ]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(
            f"acav segment failed in {tree}: {process.stderr.read().decode() if process.stderr else ''}"
        )
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline", default=BASELINE)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="acav-bench-threads-") as tmp_name:
        tmp = Path(tmp_name)
        old_tree = baseline_tree(args.baseline, tmp)
        videos = []
        for i in range(args.videos):
            path = tmp / f"threads_{i:04d}.mp4"  # an 11-character id
            make_video(path, SCENES, seed=i, scale=1.0)
            videos.append(path)
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            times: dict[str, list[tuple[float, float]]] = {"ours": [], "baseline": []}
            for _ in range(args.rounds):
                for name, tree in (("ours", ROOT), ("baseline", old_tree)):
                    times[name].append(run_segment(tree, videos, tmp / name, args.workers))
        finally:
            busy.kill()
            busy.wait()
        print(
            f"acav segment, {args.videos} videos, --workers {args.workers}, {os.cpu_count()} cores, "
            f"one core kept busy by another process; best of {args.rounds} rounds (wall), CPU of that round"
        )
        best = {name: min(runs) for name, runs in times.items()}
        for name, (wall, cpu) in best.items():
            print(f"  {name:<9} wall {wall:7.2f} s   CPU {cpu:7.2f} s")
        print(
            f"  baseline / ours: wall {best['baseline'][0] / best['ours'][0]:.2f}x, "
            f"CPU {best['baseline'][1] / best['ours'][1]:.2f}x"
        )


if __name__ == "__main__":
    main()
