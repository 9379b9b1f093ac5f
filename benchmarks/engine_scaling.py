"""Engine scaling on the offline demo: stages 3-6 with the local engine (1 worker), Ray with 1 CPU
and Ray with 2 CPUs, on copies of the same downloaded demo. Prints wall and CPU seconds per stage
and checks every configuration wrote the same output.csv.

CPU time counts this process, its finished children (local pools, ffmpeg), every live descendant
and every Ray process (raylet, GCS, workers: their CPU during the stage, read from /proc), so
Ray's own daemons are part of its cost. local-2 runs stage 3 with 2 processes (the other stages
have no local pool: one process, as before). Ray is started once per configuration, before the stages (its start time is
printed apart). Wall times on a shared machine are noisy; CPU seconds are the steadier measure.

    python benchmarks/engine_scaling.py --work /tmp/scaling --videos 24 --clips-per-shard 16
"""

from __future__ import annotations

import argparse
import filecmp
import os
import resource
import shutil
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
STAGES = ("clip_segmentation", "feature_extraction", "clustering", "subset_selection")


def _stat(pid: str) -> tuple[int, float] | None:
    """``(ppid, CPU seconds)`` of a process, its waited-for children (ffmpeg) included."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), sum(int(f) for f in fields[11:15]) / TICK  # utime stime cutime cstime


def _is_ray(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"ray" in cmdline and b"engine_scaling" not in cmdline


def helpers_cpu(root: int) -> dict[int, float]:
    """CPU seconds of every live descendant of ``root`` and of every Ray process (Ray's daemons
    and workers detach from the driver), by pid."""
    table = {int(p): s for p in os.listdir("/proc") if p.isdigit() and (s := _stat(p)) is not None}
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = {}, list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found[pid] = table[pid][1]
        todo.extend(children.get(pid, []))
    found.update({pid: cpu for pid, (_, cpu) in table.items() if pid != root and _is_ray(pid)})
    return found


def cpu_now() -> tuple[float, dict[int, float]]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime, helpers_cpu(os.getpid())


def cpu_since(before: tuple[float, dict[int, float]]) -> float:
    total, live = cpu_now()  # a helper that ended during the stage is missed (Ray keeps its workers)
    return total - before[0] + sum(cpu - before[1].get(pid, 0.0) for pid, cpu in live.items())


def stage_options(clips_per_shard: int) -> dict[str, dict]:
    return {
        "clip_segmentation": {"clips_per_shard": clips_per_shard, "workers": 1},
        "feature_extraction": {
            "visual_extractor": "basic_visual",
            "audio_extractor": "basic_audio",
            "workers": -1,
        },
        "clustering": {"ncentroids": 10},
        "subset_selection": {},
    }


def prepare(base: Path, videos: int) -> None:
    import acav

    if (base / "videos" / "raw" / "download.summary.json").exists():
        return
    acav.generate_demo(base, num_videos=videos, min_duration=32, max_duration=40)
    acav.filter_metadata(base)
    acav.download_videos(base, source_dir=str(base / "source_videos"))


def run_config(
    name: str, base: Path, work: Path, clips_per_shard: int, ray_cpus: int | None, local_workers: int = 1
) -> dict:
    from acav.api import STAGE_FUNCTIONS

    data = work / name
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(base, data, ignore=shutil.ignore_patterns("source_videos"))
    row: dict = {"config": name}
    os.environ["ACAV_ENGINE"] = "ray" if ray_cpus else "local"
    if ray_cpus:
        import ray

        began = time.perf_counter()
        ray.init(address="local", num_cpus=ray_cpus, include_dashboard=False, log_to_driver=False)
        row["ray_start_s"] = time.perf_counter() - began
    options = stage_options(clips_per_shard)
    options["clip_segmentation"]["workers"] = local_workers
    for stage in STAGES:
        before, began = cpu_now(), time.perf_counter()
        STAGE_FUNCTIONS[stage](data, **options[stage])
        row[stage] = (time.perf_counter() - began, cpu_since(before))
    if ray_cpus:
        import ray

        ray.shutdown()
    row["output"] = data / "output.csv"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--clips-per-shard", type=int, default=16)
    args = parser.parse_args()
    base = args.work / "base"
    prepare(base, args.videos)
    rows = [
        run_config("local-1", base, args.work, args.clips_per_shard, None),
        run_config("local-2", base, args.work, args.clips_per_shard, None, local_workers=2),
        run_config("ray-1cpu", base, args.work, args.clips_per_shard, 1),
        run_config("ray-2cpu", base, args.work, args.clips_per_shard, 2),
    ]
    print(f"demo: {args.videos} videos; shards of {args.clips_per_shard} clips; {os.cpu_count()} cores")
    print("| stage | " + " | ".join(f"{r['config']} wall s | {r['config']} CPU s" for r in rows) + " |")
    print("|---" * (1 + 2 * len(rows)) + "|")
    for stage in STAGES:
        cells = " | ".join(f"{r[stage][0]:.1f} | {r[stage][1]:.1f}" for r in rows)
        print(f"| {stage} | {cells} |")
    for r in rows:
        if "ray_start_s" in r:
            print(f"{r['config']}: Ray start {r['ray_start_s']:.1f} s (not in the stage rows)")
    same = all(filecmp.cmp(rows[0]["output"], r["output"], shallow=False) for r in rows[1:])
    print(f"output.csv identical across configurations: {same}")


if __name__ == "__main__":
    main()
