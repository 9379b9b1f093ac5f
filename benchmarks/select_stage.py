"""Benchmark: ``acav select`` as a user runs it (a whole process), ours vs the code at a fixed commit.

    nice python benchmarks/select_stage.py                              # 100k and 1M clips
    nice python benchmarks/select_stage.py --sizes 10000000 --baseline-max 1000000

For each size it writes synthetic cluster shards (10 clusterings = 2 models x 5 layers, 32
centroids, 1000 clips per shard, with the video shard json metadata; kept under
``data/bench_select/`` and reused), then runs ``python -m acav select`` as a subprocess on them,
three times: this tree as stage 5 leaves the data (each cluster shard with its columnar
``.labels.npz`` companion), this tree on the pickles alone (a mirror directory of symlinks without
the companions: what a user with cluster shards from the original release or an older version
gets), and the tree of ``--baseline`` (extracted with ``git archive`` into a temporary directory);
it reports each process's CPU time (user + system) and peak resident
memory (the process's own VmHWM; CPU from ``os.wait4``). Both run on one thread (OMP/BLAS/numba threads = 1), with the default
options (ratio 0.2, batch 20, top 4, combination pairing, backend auto = the CPU loop without a
GPU). Both trees are warmed up on a tiny dataset first so that numba's on-disk cache is compiled
before timing. The output.csv files must be byte-identical; the script stops if they are not.
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

from acav.core.layout import DataLayout  # noqa: E402
from acav.subset_selection.synthetic import make_assignments, write_cluster_shards  # noqa: E402

BASELINE = "ccca78c"  # main before issue 15 (whole-process loading/output rewrite)
ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "ACAV_PROGRESS": "0",
}


def make_data(root: Path, n: int, shard_size: int) -> Path:
    """Synthetic cluster shards + metadata for ``n`` clips under ``root/n`` (reused when complete)."""
    directory = root / str(n)
    done = directory / "complete"
    if done.exists():
        return directory
    if directory.exists():
        shutil.rmtree(directory)
    layout = DataLayout(directory)
    started = time.perf_counter()
    chunk = 100 * shard_size  # generate 100 shards at a time: bounded memory at 10M clips
    for first in range(0, n, chunk):
        data = make_assignments(min(chunk, n - first), ncentroids=32, seed=first)
        write_cluster_shards(layout, data, shard_size, first_shard=first // shard_size, log_name=None)
    names = [p.stem for p in sorted(layout.clusters_dir.glob("shard-*.pkl"))]
    (layout.clusters_dir / "log_0001.json").write_text(
        '{"hostname": "synthetic", "pid": 0, "timestamp": "0001", "time": 0.0, "shards": ['
        + ", ".join(f'"{s}"' for s in names)
        + "]}\n"
    )
    done.write_text("ok\n")
    print(f"  generated {n:,} clips in {time.perf_counter() - started:.0f} s", flush=True)
    return directory


def baseline_tree(commit: str, into: Path) -> Path:
    """The ``acav`` package as it was at ``commit`` (git archive, no worktree bookkeeping)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "acav"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


# Runs ``acav`` and, at exit, reports the process's own peak RSS (VmHWM). getrusage's ru_maxrss of
# a child also counts the parent's memory at the fork (torch in subset_selection.py: +350 MB).
_MEASURED = (
    "import atexit, runpy, sys\n"
    "def peak():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            sys.stderr.write('ACAV_VMHWM_KB ' + line.split()[1] + '\\n')\n"
    "atexit.register(peak)\n"
    "sys.argv = ['acav', *sys.argv[1:]]\n"
    "runpy.run_module('acav', run_name='__main__')\n"
)


def run_select(tree: Path, data: Path, output: Path) -> tuple[float, float, float]:
    """(CPU seconds, peak RSS MiB, wall seconds) of one ``acav select`` process."""
    env = {**os.environ, **ONE_THREAD, "PYTHONPATH": str(tree)}
    command = [sys.executable, "-c", _MEASURED, "select", "--data-dir", str(data), "-q"]
    command += ["--output", str(output), "--selection-log", str(output.with_suffix(".log.json"))]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    stderr = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"acav select failed in {tree} on {data}:\n{stderr}")
    peaks = [int(line.split()[1]) for line in stderr.splitlines() if line.startswith("ACAV_VMHWM_KB ")]
    rss = peaks[-1] / 1024 if peaks else usage.ru_maxrss / 1024  # not Linux: the rusage figure
    return usage.ru_utime + usage.ru_stime, rss, wall


def pickles_only(data: Path) -> Path:
    """A mirror of ``data`` without the cluster shards' columnar companions (symlinks to the rest)."""
    mirror = data.with_name(f"{data.name}-pickles")
    if (mirror / "complete").exists():
        return mirror
    if mirror.exists():
        shutil.rmtree(mirror)
    (mirror / "clusters").mkdir(parents=True)
    for path in (data / "clusters").iterdir():
        if path.suffix in (".pkl", ".json"):  # not the .labels.npz companions
            (mirror / "clusters" / path.name).symlink_to(path.resolve())
    (mirror / "videos").symlink_to((data / "videos").resolve(), target_is_directory=True)
    (mirror / "complete").write_text("ok\n")
    return mirror


def unpickle_cost(data: Path, shards: int = 20) -> float:
    """Microseconds of CPU per clip to unpickle ``shards`` cluster shards now: a yardstick of how
    fast the (shared) machine is at the moment, since CPU time too inflates under heavy contention."""
    from acav.core.safe_pickle import safe_load

    paths = sorted((data / "clusters").glob("shard-*.pkl"))[:shards]
    started = time.process_time()
    clips = sum(len(safe_load(path)) for path in paths)
    return 1e6 * (time.process_time() - started) / max(1, clips)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--baseline", default=BASELINE, help="git commit of the code to compare with")
    parser.add_argument(
        "--baseline-max", type=int, default=1_000_000, help="run the baseline only up to this many clips"
    )
    parser.add_argument("--shard-size", type=int, default=1000)
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "bench_select")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="acav-baseline-") as tmp:
        old_tree = baseline_tree(args.baseline, Path(tmp))
        warm = make_data(args.data, 2000, args.shard_size)
        for tree in (ROOT, old_tree):  # compile numba's cache for both trees before timing
            run_select(tree, warm, Path(tmp) / "warm.csv")
        print(f"acav select, whole process, one thread; baseline = {args.baseline}")
        print("ours = companions read (stage 5's output); pickles = ours on the pickles alone")
        print(
            f"{'clips':>11} {'ours CPU s':>10} {'ours MiB':>9} {'pickles s':>10} {'pickles MiB':>11}"
            f" {'base CPU s':>10} {'base MiB':>9} {'CPU ratio':>9}"
        )
        for n in args.sizes:
            data = make_data(args.data, n, args.shard_size)
            ours_csv = Path(tmp) / f"ours-{n}.csv"
            cpu, rss, _ = run_select(ROOT, data, ours_csv)
            plain_csv = Path(tmp) / f"pickles-{n}.csv"
            plain_cpu, plain_rss, _ = run_select(ROOT, pickles_only(data), plain_csv)
            if plain_csv.read_bytes() != ours_csv.read_bytes():
                raise SystemExit(
                    f"output.csv from the pickles alone differs from the companions' at {n} clips"
                )
            line = f"{n:>11,} {cpu:>10.2f} {rss:>9.0f} {plain_cpu:>10.2f} {plain_rss:>11.0f}"
            if n <= args.baseline_max:
                base_csv = Path(tmp) / f"base-{n}.csv"
                base_cpu, base_rss, _ = run_select(old_tree, data, base_csv)
                if ours_csv.read_bytes() != base_csv.read_bytes():
                    raise SystemExit(f"output.csv differs from the baseline's at {n} clips")
                line += f" {base_cpu:>10.2f} {base_rss:>9.0f} {base_cpu / cpu:>8.1f}x  (output.csv identical)"
            else:
                line += f" {'-':>10} {'-':>9} {'-':>9}  (baseline not run above --baseline-max)"
            line += f"; companions {plain_cpu / cpu:.1f}x the pickles"
            print(line, flush=True)
            print(
                f"{'':>11} ours: {1e6 * cpu / n:.2f} us CPU per clip; yardstick: unpickling costs "
                f"{unpickle_cost(data):.2f} us per clip now (about 2.3 on a quiet core)",
                flush=True,
            )


if __name__ == "__main__":
    main()
