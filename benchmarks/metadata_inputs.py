"""Benchmark stage 1's CSV / JSONL / parquet readers against the TSV reader on the same rows.

    python benchmarks/metadata_inputs.py                 # 100k rows
    python benchmarks/metadata_inputs.py --rows 1000000

Prints, per format, the CPU time of ``filter_file`` with only the duration rule on (so reading
and converting dominate) as a ratio to the TSV reader measured in the same run (interleaved, best
of two), and the peak memory of reading the parquet file, against one ten times smaller, to show
that parquet is read one row group at a time.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("ACAV_PROGRESS", "0")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from acav.metadata_filtering.config import FilterConfig  # noqa: E402
from acav.metadata_filtering.runner import filter_file  # noqa: E402

CATEGORIES = ["Travel & Events", "Music", "Gaming", "People & Blogs"]


def make_rows(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [
        {
            "video_id": f"v{i:010d}",
            "title": f"A walk by the sea number {i}",
            "description": "Waves and wind recorded on the coast. " * 3,
            "category": rng.choice(CATEGORIES),
            "duration": rng.randint(5, 900),
        }
        for i in range(n)
    ]


def write_all(rows: list[dict], directory: Path) -> list[Path]:
    tsv, csv_path, jsonl, parquet = (directory / f"m.{s}" for s in ("tsv", "csv", "jsonl", "parquet"))
    with open(tsv, "w") as handle:
        for r in rows:
            feature = {
                "Title": r["title"],
                "Description": r["description"],
                "YouTubeCategory": r["category"],
                "VideoLength": str(r["duration"] + 1),
            }
            handle.write(r["video_id"] + "\t" + json.dumps({"LatestDAFeature": feature}) + "\n")
    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with open(jsonl, "w") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in rows)
    write_parquet(rows, parquet)
    return [tsv, csv_path, jsonl, parquet]


def write_parquet(rows: list[dict], path: Path, group: int = 10_000) -> None:
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=group)


PEAK = """
import resource, sys
sys.path.insert(0, {root!r})
from acav.core.tables import read_parquet
count = sum(1 for _ in read_parquet({path!r}))
print(count, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def parquet_peak_mib(path: Path) -> tuple[int, int]:
    code = PEAK.format(root=str(Path(__file__).resolve().parents[1]), path=str(path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    count, peak = out.split()
    return int(count), int(peak)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    config = FilterConfig(language=False, music_artist=False, keywords=False, tutorial=False)
    with tempfile.TemporaryDirectory(prefix="acav-bench-inputs-") as tmp:
        directory = Path(tmp)
        rows = make_rows(args.rows)
        paths = write_all(rows, directory)
        small = directory / "small.parquet"
        write_parquet(rows[: max(1, args.rows // 10)], small)
        del rows
        best: dict[str, float] = {}
        for path in paths * 2:
            started = time.process_time()
            report = filter_file(path, directory / "out.tsv", directory / "out.rejects.tsv", None, config)
            cpu = time.process_time() - started
            assert report["total_lines"] == args.rows, (path, report["total_lines"])
            best[path.suffix] = min(cpu, best.get(path.suffix, float("inf")))
        print(f"stage 1 on {args.rows} rows, duration rule only (reading + converting), CPU, best of 2:")
        for suffix, cpu in best.items():
            print(
                f"  {suffix:9s} {cpu:6.2f} s  {args.rows / cpu:9.0f} rows/s  x{cpu / best['.tsv']:.2f} of TSV"
            )
        big_count, big_peak = parquet_peak_mib(paths[-1])
        small_count, small_peak = parquet_peak_mib(small)
        print(f"parquet peak RSS: {big_count} rows {big_peak} MiB, {small_count} rows {small_peak} MiB")


if __name__ == "__main__":
    main()
