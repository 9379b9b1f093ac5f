"""Benchmark: the thread budget under a concurrent load, stage by stage, as whole ``acav`` processes.

    nice python benchmarks/threads.py                                  # stages 4, 1 and 3, 2 rounds
    nice python benchmarks/threads.py --stages extract --rounds 2 --clips 32 --batch-size 16
    nice python benchmarks/threads.py --stages model --rounds 2

While a busy-loop process keeps one core occupied, each variant below runs as a whole ``acav``
command (a fresh process; wall seconds, and CPU seconds of it and all its workers and ffmpeg
children from ``os.wait4``). Rounds alternate the variants, so that a change of load on a shared
machine hits all alike; the table gives the best wall time and the least CPU time of the rounds.

* ``extract`` (stage 4, SlowFast + VGGish with random weights, CPU device, default options): this
  tree (``--threads 0``: every available core shared by the decoding workers and the models;
  also with ``--workers 2``, and with ``--workers 2 --threads 6``, which on 2 cores is the thread
  layout of the baseline in this tree's code) against the code at ``--baseline`` (auto = one DataLoader worker per
  core, each decoding with FFmpeg's default of one thread per core, the models on torch's default
  of one thread per core).
* ``filter`` (stage 1): this tree with ``--workers 1`` and ``--workers 2``.
* ``segment`` (stage 3, ``--workers 2``): this tree against ``--baseline`` (each worker's decoder
  and each ffmpeg cut sized to all cores there).
* ``model`` (not run by default): SlowFast's forward alone with 1 and 2 torch threads, in this
  process (torch picks a slower convolution path on one thread for batches below 16).

The baseline is the ``acav`` package of ``--baseline`` extracted with ``git archive``. Nothing is
downloaded: the models get an empty weights directory and ``--allow-random-weights``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from select_stage import BASELINE, baseline_tree  # noqa: E402

from acav.core.threads import available_cores  # noqa: E402

SCENES = [(14, 1), (12, 1), (16, 1), (11, 1)]  # ~53 s, 4 long shots: 3 clips chosen of 4

Measure = Callable[[], tuple[float, float]]


def run_acav(tree: Path, args: list[str], cwd: Path) -> tuple[float, float]:
    """(wall s, CPU s of the process tree) of ``python -m acav ARGS`` run with the package in ``tree``."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}  # no inherited caps
    env.update(PYTHONPATH=str(tree), ACAV_PROGRESS="0")
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "acav", *args, "-q"],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        error = process.stderr.read().decode() if process.stderr else ""
        raise SystemExit(f"acav {' '.join(args)} failed with {tree}:\n{error}")
    return wall, usage.ru_utime + usage.ru_stime


def interleaved(variants: dict[str, Measure], rounds: int) -> dict[str, tuple[float, float]]:
    """Best wall and least CPU seconds of each variant over ``rounds`` rounds, variants alternating."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, measure in variants.items():
            times[name].append(measure())
    return {name: (min(w for w, _ in runs), min(c for _, c in runs)) for name, runs in times.items()}


# --- stage 4 -----------------------------------------------------------------------------------
def extract_variants(tmp: Path, old_tree: Path, clips: int, seconds: float, batch: int) -> dict[str, Measure]:
    from feature_extraction import make_data

    data = tmp / "extract"
    make_data(data, shards=1, clips_per_shard=clips, seconds=seconds, size=(320, 240))
    empty = tmp / "no_weights"
    empty.mkdir()
    common = ["--data-dir", str(data), "--device", "cpu", "--overwrite", "--allow-random-weights",
              "--weights-dir", str(empty), "--batch-size", str(batch)]  # fmt: skip
    return {
        "ours, default (auto workers)": lambda: run_acav(ROOT, ["extract", *common], tmp),
        "ours, --workers 2": lambda: run_acav(ROOT, ["extract", *common, "--workers", "2"], tmp),
        # decoding in the main process: the models get the whole budget
        "ours, --workers -1": lambda: run_acav(ROOT, ["extract", *common, "--workers", "-1"], tmp),
        # the layout of before on 2 cores (2 decoders x 2 threads, models 2), in this tree's code
        "ours, --workers 2 --threads 6": lambda: run_acav(
            ROOT, ["extract", *common, "--workers", "2", "--threads", "6"], tmp
        ),
        f"before ({BASELINE}), default": lambda: run_acav(old_tree, ["extract", *common], tmp),
    }


# --- stage 1 -----------------------------------------------------------------------------------
def filter_variants(tmp: Path, lines: int) -> dict[str, Measure]:
    from metadata_filtering import generate_file

    source = tmp / "metadata.tsv"
    generate_file(source, lines)

    def run(workers: int) -> tuple[float, float]:
        out = tmp / f"filter{workers}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        args = [
            "filter",
            "--input",
            str(source),
            "--output",
            str(out / "kept.tsv"),
            "--workers",
            str(workers),
        ]
        return run_acav(ROOT, args, tmp)

    return {"ours, --workers 1": lambda: run(1), "ours, --workers 2": lambda: run(2)}


# --- stage 3 -----------------------------------------------------------------------------------
def segment_variants(tmp: Path, old_tree: Path, videos: int, workers: int) -> dict[str, Measure]:
    from clip_segmentation import make_video

    paths = []
    for i in range(videos):
        path = tmp / f"threads_{i:04d}.mp4"  # an 11-character id
        make_video(path, SCENES, seed=i, scale=1.0)
        paths.append(path)

    def run(name: str, tree: Path) -> tuple[float, float]:
        data = tmp / name / "data"
        shutil.rmtree(data, ignore_errors=True)
        raw = data / "videos" / "raw"
        raw.mkdir(parents=True)
        for path in paths:
            shutil.copy(path, raw / path.name)
        return run_acav(tree, ["segment", "--data-dir", str(data), "--workers", str(workers)], tree)

    return {
        f"ours, --workers {workers}": lambda: run("ours", ROOT),
        f"before ({BASELINE}), --workers {workers}": lambda: run("before", old_tree),
    }


# --- stage 4's model alone: torch threads ------------------------------------------------------
def model_variants(tmp: Path, batches: list[int]) -> dict[str, Measure]:
    """SlowFast's forward (random weights) on ``batch`` clips with 1 and with 2 torch threads, in
    this process: torch's convolution takes its native path instead of oneDNN for kernels whose last
    two sizes are 1 (SlowFast's 1x1x1 and 3x1x1) when it runs on one thread and the batch is < 16."""
    import numpy as np
    import torch

    from acav.feature_extraction.base import VISUAL, ExtractorOptions, create_extractor

    options = ExtractorOptions(weights_dir=tmp / "no_weights_model", allow_random_weights=True)
    model = create_extractor("slowfast_r50", options, VISUAL)
    model.load(torch.device("cpu"))
    frames = np.random.default_rng(0).integers(0, 256, (32, 256, 256, 3), dtype=np.uint8)
    clip = model.prepare(frames)

    def run(batch: int, threads: int) -> tuple[float, float]:
        torch.set_num_threads(threads)
        cpu, wall = time.process_time(), time.perf_counter()
        model.forward([clip] * batch)
        return time.perf_counter() - wall, time.process_time() - cpu

    model.forward([clip])  # warm-up
    return {
        f"batch {batch}, {threads} torch thread(s)": (lambda b=batch, t=threads: run(b, t))
        for batch in batches
        for threads in (1, 2)
    }


def print_table(stage: str, results: dict[str, tuple[float, float]]) -> None:
    reference_wall, reference_cpu = next(iter(results.values()))
    print(
        f"\n{stage}\n\n| variant | wall s | CPU s | wall / first | CPU / first |\n|---|---:|---:|---:|---:|"
    )
    for name, (wall, cpu) in results.items():
        print(
            f"| {name} | {wall:.2f} | {cpu:.2f} | {wall / reference_wall:.2f} | {cpu / reference_cpu:.2f} |"
        )
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stages", nargs="+", default=["extract", "filter", "segment"],
                        choices=["extract", "filter", "segment", "model"])  # fmt: skip
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument("--clips", type=int, default=12, help="stage 4: clips in the shard")
    parser.add_argument("--seconds", type=float, default=4.0, help="stage 4: seconds per clip")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=4,
        help="stage 4: clips per model call (below --clips: decoding overlaps)",
    )
    parser.add_argument(
        "--model-batches", type=int, nargs="+", default=[4, 16], help="model: SlowFast batch sizes"
    )
    parser.add_argument("--lines", type=int, default=100_000, help="stage 1: metadata lines")
    parser.add_argument("--videos", type=int, default=3, help="stage 3: videos of ~53 s")
    parser.add_argument("--workers", type=int, default=2, help="stage 3: --workers")
    args = parser.parse_args()
    print(
        f"{available_cores()} available cores, one kept busy by another process; "
        f"best wall and least CPU of {args.rounds} interleaved rounds"
    )
    with tempfile.TemporaryDirectory(prefix="acav-bench-threads-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "baseline").mkdir()
        old_tree = baseline_tree(args.baseline, tmp / "baseline")
        titles = {
            "extract": f"stage 4: acav extract, {args.clips} clips of {args.seconds:g} s (320x240) in batches of "
            f"{args.batch_size}, SlowFast + VGGish with random weights, CPU device",
            "filter": f"stage 1: acav filter, {args.lines} generated metadata lines",
            "segment": f"stage 3: acav segment, {args.videos} generated videos of ~53 s",
            "model": "stage 4's model alone: SlowFast forward (random weights) in this process",
        }
        stages = {
            "extract": lambda: extract_variants(tmp, old_tree, args.clips, args.seconds, args.batch_size),
            "filter": lambda: filter_variants(tmp, args.lines),
            "segment": lambda: segment_variants(tmp, old_tree, args.videos, args.workers),
            "model": lambda: model_variants(tmp, args.model_batches),
        }
        for stage in args.stages:
            variants = stages[stage]()  # data made before the load starts
            busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            try:
                results = interleaved(variants, args.rounds)
            finally:
                busy.kill()
                busy.wait()
            print_table(titles[stage], results)


if __name__ == "__main__":
    main()
