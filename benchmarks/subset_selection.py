"""Benchmark: our exact incremental MI selection vs a faithful re-implementation of the original.

    python benchmarks/subset_selection.py                  # 10k and 200k clips (a few minutes)
    python benchmarks/subset_selection.py --sizes 1000000  # bigger; --sizes 10000000 for 10M
    python benchmarks/subset_selection.py --sizes 10000000 --no-original   # ours only

Ours is timed with the compiled (numba) loop when numba is installed, and with our numpy loop too
(``--numpy-loop``, on by default up to 1M clips); both select the same clips. The kernel is loaded
(or compiled, on the first run after an install) once before timing; that one-off cost is printed.
Ours runs ``--repeats`` times, half before and half after the original (the machine may be shared),
and the median CPU time is the one compared.

The original is warmed up (50 untimed steps of a throwaway run) before it is timed. The kernels
are only part of what a user waits for: ``--whole-process`` (on by default) also runs ``acav select``
as a subprocess on cluster shards of each size (``benchmarks/select_stage.py``'s data: same
distribution, other draws) and prints its CPU time and peak memory, loading and output included.

Same synthetic assignments for both (10 clusterings = 2 models x 5 layers, 32 centroids, 45
pairs with the combination pairing, ratio 0.2, batch 20, top 4), one CPU thread. The original
runs to completion up to ``--full-original-max`` clips; above that it runs ``--original-iterations``
iterations, and we report its time per selected clip and the extrapolated total, and compare
objectives at the size it reached (ours run to the same size on the same data). Times are CPU
times of this process (one thread), robust when the machine is shared. Objectives are
the exact mean MI (nats) over pairs of each returned subset.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one CPU core, as the performance bar says

import argparse  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from original_selection import run_original  # noqa: E402
from select_stage import make_data, run_select  # noqa: E402

from acav.subset_selection.greedy import (  # noqa: E402
    ENGINES,
    PairIndex,
    SelectionParams,
    select_partition,
    target_size,
)
from acav.subset_selection.mi import GAIN_SCALE, gain_table, objective_of_subset  # noqa: E402
from acav.subset_selection.pairings import make_pairs  # noqa: E402
from acav.subset_selection.synthetic import make_assignments  # noqa: E402


def reset_peak_rss() -> bool:
    try:  # Linux: writing 5 resets the peak resident set size (VmHWM) of this process
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def check_agreement(labels, pairs, ncentroids, start, steps, subset_size) -> tuple[float, float]:
    """Follow the original's own trajectory and score each of its batches exactly with our method.

    Returns the fraction of steps where the original's k picks are also our top k (up to exact ties
    in our integer scores), and the largest shortfall of its picks' gain vs ours, in nats.
    """
    index = PairIndex(pairs, ncentroids, labels.shape[1])
    gains = gain_table(subset_size + 1)
    counts = np.zeros(index.size, dtype=np.int64)
    np.add.at(counts, index.indices(labels[[start]]).ravel(), 1)
    agree, worst, n = 0, 0.0, 1
    for batch, chosen in steps:
        batch, chosen = batch.numpy(), chosen.numpy()
        positions = index.indices(labels[batch])
        scores = gains[counts[positions]] @ index.sign
        picked = np.flatnonzero(np.isin(batch, chosen))
        ours = np.sort(scores)[::-1][: picked.size]
        theirs = np.sort(scores[picked])[::-1]
        agree += int(np.array_equal(ours, theirs))
        worst = max(worst, float((ours - theirs).max()) / GAIN_SCALE / (len(pairs) * (n + 1)))
        np.add.at(counts, positions[picked].ravel(), 1)
        n += picked.size
    return agree / max(1, len(steps)), worst


def time_ours(labels, ncentroids, pairs, size, params, repeats) -> tuple[list[float], list[float], object]:
    """CPU and wall seconds of ``repeats`` runs of our selection (and the last result)."""
    cpu, wall, result = [], [], None
    for _ in range(repeats):
        started, clock = time.process_time(), time.perf_counter()
        result = select_partition(labels, ncentroids, pairs, size, params)
        cpu.append(time.process_time() - started)  # CPU time (one thread): robust on a shared machine
        wall.append(time.perf_counter() - clock)
    return cpu, wall, result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 200_000])
    parser.add_argument("--ratio", type=float, default=0.2)
    parser.add_argument("--ncentroids", type=int, default=32)
    parser.add_argument("--layers", type=int, default=5, help="layers per modality (2 x 5 = 10 clusterings)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--original-iterations", type=int, default=300, help="iterations of the original when capped"
    )
    parser.add_argument(
        "--full-original-max", type=int, default=10_000, help="run the original to the end up to this N"
    )
    parser.add_argument("--no-original", action="store_true", help="time ours only")
    parser.add_argument(
        "--seeds", type=int, default=5, help="seeds of ours averaged for the objective comparison"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=0,
        help="timed runs of ours per size (default: 6 up to 1M clips, else 1)",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="auto",
        help="our CPU loop: auto (numba if installed), numba, numpy",
    )
    parser.add_argument(
        "--numpy-loop",
        choices=("auto", "yes", "no"),
        default="auto",
        help="also time our numpy loop (auto: up to 1M clips)",
    )
    parser.add_argument(
        "--whole-process",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time `acav select` as a whole process on cluster shards of each size",
    )
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    engine = SelectionParams(engine=args.engine)
    compiled = engine.use_numba()
    if compiled:
        # Load (or, first time, compile) the kernels for this label dtype outside the timings.
        tiny = make_assignments(200, args.ncentroids, args.layers, seed=1)
        clock = time.perf_counter()
        select_partition(
            tiny.labels, args.ncentroids, make_pairs(tiny.clusterings, "combination"), 40, engine
        )
        print(
            f"compiled loop (numba) ready in {time.perf_counter() - clock:.2f} s wall (one-off per process: "
            "load from numba's cache, or compile on the first run after an install)",
            flush=True,
        )
    loop_name = "numba" if compiled else "numpy"
    rows = []
    for n in args.sizes:
        data = make_assignments(n, args.ncentroids, args.layers, seed=args.seed)
        pairs = make_pairs(data.clusterings, "combination")
        size = target_size(n, args.ratio, None)
        params = SelectionParams(seed=args.seed, engine=args.engine)
        repeats = args.repeats or (6 if n <= 1_000_000 else 1)
        baseline_rss = peak_rss_mb() if reset_peak_rss() else None
        cpu, wall, ours = time_ours(data.labels, args.ncentroids, pairs, size, params, (repeats + 1) // 2)
        ours_rss = peak_rss_mb()
        row = {
            "n": n,
            "selected": size,
            "pairs": len(pairs),
            "loop": loop_name,
            "ours_objective": ours.objective,
            "random_objective": ours.random_objective,
            "ours_precision": float(data.positive[ours.selected].mean()),
            "base_rate": float(data.positive.mean()),
            "ours_peak_rss_mb": ours_rss,
            "ours_rss_growth_mb": None if baseline_rss is None else ours_rss - baseline_rss,
            "labels_mb": data.labels.nbytes / 2**20,
        }
        if not args.no_original:
            full = n <= args.full_original_max
            cap = None if full else args.original_iterations
            record: list = []
            selected, seconds, iterations = run_original(
                data.labels, pairs, args.ncentroids, size, args.seed, cap, record=record
            )
        more_cpu, more_wall, _ = time_ours(data.labels, args.ncentroids, pairs, size, params, repeats // 2)
        cpu += more_cpu
        wall += more_wall
        ours_total = float(np.median(cpu))
        row.update(
            {
                "ours_s": ours_total,
                "ours_s_min": min(cpu),
                "ours_wall_s": float(np.median(wall)),
                "ours_ms_per_clip": 1e3 * ours_total / size,
            }
        )
        growth = (
            "" if row["ours_rss_growth_mb"] is None else f", +{row['ours_rss_growth_mb']:.0f} MB during it"
        )
        print(
            f"[N={n:,}] ours ({loop_name} loop): {size:,} clips in {ours_total:.4f} s CPU, median of {len(cpu)} "
            f"(min {min(cpu):.4f} s; wall {row['ours_wall_s']:.4f} s; {row['ours_ms_per_clip'] * 1e3:.3f} us/clip), "
            f"objective {ours.objective:.5f} (random {ours.random_objective:.5f}), "
            f"precision {row['ours_precision']:.3f} vs base rate {row['base_rate']:.3f}, "
            f"peak RSS {ours_rss:.0f} MB{growth} (labels {row['labels_mb']:.0f} MB)",
            flush=True,
        )
        if compiled and (args.numpy_loop == "yes" or (args.numpy_loop == "auto" and n <= 1_000_000)):
            np_params = SelectionParams(seed=args.seed, engine="numpy")
            np_cpu, np_wall, np_result = time_ours(
                data.labels, args.ncentroids, pairs, size, np_params, max(1, min(3, repeats))
            )
            same = bool(np.array_equal(np_result.selected, ours.selected))
            row.update({"numpy_loop_s": float(np.median(np_cpu)), "numpy_loop_same_clips": same})
            print(
                f"[N={n:,}] our numpy loop: {row['numpy_loop_s']:.3f} s CPU "
                f"({1e6 * row['numpy_loop_s'] / size:.2f} us/clip; compiled loop "
                f"{row['numpy_loop_s'] / ours_total:.1f}x faster); same clips as the compiled loop: {same}",
                flush=True,
            )
        if not args.no_original:
            got = len(selected)
            agree, worst = check_agreement(
                data.labels, pairs, args.ncentroids, record[0], record[1:], got + 1
            )
            seed_objectives = [ours.objective if full else None]
            for seed in range(args.seed + (1 if full else 0), args.seed + args.seeds):
                seed_objectives.append(
                    select_partition(
                        data.labels, args.ncentroids, pairs, got, SelectionParams(seed=seed)
                    ).objective
                )
            orig_ms = 1e3 * seconds / got
            orig_objective = objective_of_subset(data.labels, np.asarray(selected), pairs)
            # Ours at the size the original reached (all of it when it ran to the end), over several seeds.
            seed_objectives = [x for x in seed_objectives if x is not None]
            ours_same = float(np.mean(seed_objectives))
            row.update(
                {
                    "original_full": full,
                    "original_iterations": iterations,
                    "original_selected": got,
                    "original_ms_per_clip": orig_ms,
                    "original_total_s": orig_ms * size / 1e3,
                    "original_objective": orig_objective,
                    "ours_objective_same_size": ours_same,
                    "objective_diff_pct": 100.0 * (ours_same - orig_objective) / orig_objective,
                    "original_precision": float(data.positive[np.asarray(selected)].mean()),
                    "speedup_per_clip": orig_ms / row["ours_ms_per_clip"],
                    "ours_seed_objectives": seed_objectives,
                    "ours_seed_std_pct": 100.0 * float(np.std(seed_objectives)) / ours_same,
                    "agreement": agree,
                    "worst_gain_shortfall": worst,
                }
            )
            print(
                f"[N={n:,}] along the original's own trajectory, its top-{4} picks equal our exact top-{4} in "
                f"{100 * agree:.2f}% of {iterations} steps (largest gain shortfall of its picks {worst:.2e} nats); "
                f"ours over {len(seed_objectives)} seeds: mean {ours_same:.5f}, std {row['ours_seed_std_pct']:.2f}%",
                flush=True,
            )
            print(
                f"[N={n:,}] original: {iterations} iterations, {got:,} clips in {seconds:.2f} s CPU "
                f"({orig_ms:.3f} ms/clip; {'measured' if full else 'extrapolated'} total "
                f"{row['original_total_s']:.1f} s), objective {orig_objective:.5f} vs ours {ours_same:.5f} "
                f"at the same size ({row['objective_diff_pct']:+.3f}%), precision {row['original_precision']:.3f}; "
                f"speed-up per selected clip {row['speedup_per_clip']:,.0f}x",
                flush=True,
            )
        if args.whole_process:
            root = Path(__file__).resolve().parent.parent
            shards = make_data(root / "data" / "bench_select", n, 1000)
            stage_cpu, stage_rss, _ = run_select(root, shards, shards / "output.bench.csv")
            row.update({"stage_s": stage_cpu, "stage_rss_mb": stage_rss})
            print(
                f"[N={n:,}] `acav select` whole process (load shards, select, write output.csv): "
                f"{stage_cpu:.2f} s CPU, peak RSS {stage_rss:.0f} MB (selection kernel: {ours_total:.2f} s)",
                flush=True,
            )
        rows.append(row)

    print(
        "\n| clips | selected | original ms/clip | ours ms/clip | speed-up | objective ours vs original "
        "(seed mean; step agreement) | ours total CPU (wall) | peak RSS | `acav select` whole process |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        orig = f"{r['original_ms_per_clip']:.3f}" if "original_ms_per_clip" in r else "-"
        speed = f"{r['speedup_per_clip']:,.0f}x" if "speedup_per_clip" in r else "-"
        diff = "-"
        if "objective_diff_pct" in r:
            diff = f"{r['objective_diff_pct']:+.3f}% (agree {100 * r['agreement']:.1f}%)"
        print(
            f"| {r['n']:,} | {r['selected']:,} | {orig} | {r['ours_ms_per_clip']:.5f} | {speed} | {diff} | "
            f"{r['ours_s']:.3f} s ({r['ours_wall_s']:.3f} s) | {r['ours_peak_rss_mb']:.0f} MB | "
            + (f"{r['stage_s']:.2f} s CPU, {r['stage_rss_mb']:.0f} MB |" if "stage_s" in r else "- |")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
