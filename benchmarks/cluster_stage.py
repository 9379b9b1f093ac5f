"""Benchmark: stage 5 as a user runs it (a whole process), ours vs a model of the release's stage.

    nice python benchmarks/cluster_stage.py                 # 10,000 clips in 20 shards
    nice python benchmarks/cluster_stage.py --clips 20000 --rounds 2

Data: feature shards in the FORMATS.md section 4 layout with the real layer widths (SlowFast 8x8
R50: 88, 352, 704, 1408, 2304; VGGish: 64, 128, 256, 512, 128; float32, about 24 kB per clip),
drawn around 32 centres per layer; kept under ``data/bench_cluster/`` and reused.

Ours: ``python -m acav cluster`` with its defaults (one partition, 32 centroids, 2 epochs, the
CPU, one thread), which also writes the columnar companions stage 6 reads; and the same with
``--cache-mb -1`` (every pass reads the shards from disk again, as when a partition is larger
than the cache).

Release model (restated from the release's facts, sangho-vision/acav100m clustering/code:
run_clustering.py, process_batch.py, sgd_clustering.py, config.py; not our code): every epoch
reads all feature shards again, in a shuffled order, and feeds batches of 32 clips (the last
partial batch dropped) to one k-means per (model, layer): each batch is stacked into a tensor per
layer and applied with the release's update (``ReleaseKMeans`` in clustering_original.py: random
centres for the first 10 k points, rate 0.01, under-used discount); 2 epochs (lr ``0.1 ** (2 +
epoch // 5)``); then one more pass in file order assigns every clip in batches of 32 (with the
discount) and writes one cluster-shard pickle per feature shard (a list of dicts). The release ran
this on a GPU with 40 loader workers; here both run on one CPU thread, so the comparison is the
pipeline's work per clip, not the release's hardware.

Both run as subprocesses; CPU time (user + system, children included, from ``os.wait4``) and
peak RSS are reported, rounds interleaved, best of ``--rounds``.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from select_stage import ONE_THREAD  # noqa: E402  (one thread for BLAS, OpenMP and numba)

MODELS = {  # model_key -> (side, extractor, dataset, layer widths)
    "layer_slow_fast": ("video", "SLOWFAST_8x8_R50", "kinetics-400", (88, 352, 704, 1408, 2304)),
    "layer_vggish": ("audio", "VGGish", "YouTube-8M", (64, 128, 256, 512, 128)),
}
K = 32
BATCH = 32
EPOCHS = 2


def make_data(root: Path, clips: int, shard_size: int) -> Path:
    """Feature shards for ``clips`` clips under ``root/<clips>/features`` (reused when complete)."""
    directory = root / str(clips)
    if (directory / "complete").exists():
        return directory
    if directory.exists():
        shutil.rmtree(directory)
    features = directory / "features"
    features.mkdir(parents=True)
    rng = np.random.default_rng(0)
    centres = {
        (key, i): rng.normal(size=(K, width)).astype(np.float32) * 3
        for key, (_, _, _, widths) in MODELS.items()
        for i, width in enumerate(widths)
    }
    for s, first in enumerate(range(0, clips, shard_size)):
        count = min(shard_size, clips - first)
        name = f"shard-{s:06d}"
        label = rng.integers(0, K, count)
        rows = []
        for c in range(count):
            row = {
                "filename": f"vid{s:04d}x{c:04d}_{10 * c:03d}.mp4",
                "shard_name": name,
                "shard_size": count,
            }
            row["video_features"], row["audio_features"] = [], []
            for key, (side, extractor, dataset, widths) in MODELS.items():
                array = {
                    f"layer_{i}": centres[(key, i)][label[c]] + rng.normal(size=width).astype(np.float32)
                    for i, width in enumerate(widths)
                }
                entry = {"model_key": key, "extractor_name": extractor, "dataset": dataset, "array": array}
                row[f"{side}_features"].append(entry)
            rows.append(row)
        (features / f"{name}.pkl").write_bytes(pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL))
    (directory / "complete").write_text("ok\n")
    return directory


def release_model(data: Path, output: Path, seed: int = 0) -> None:
    """The release's stage 5 as described in the module docstring (runs in a subprocess)."""
    import torch
    from clustering_original import ReleaseKMeans

    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    shards = sorted((data / "features").glob("shard-*.pkl"))
    layers = [(key, f"layer_{i}") for key, (*_, widths) in MODELS.items() for i in range(len(widths))]
    widths = {(key, f"layer_{i}"): w for key, (*_, ws) in MODELS.items() for i, w in enumerate(ws)}
    kmeans = {layer: ReleaseKMeans(widths[layer], K, gen) for layer in layers}

    def batches(order_shards: list[Path], shuffle: bool, drop_last: bool):
        pending: list[dict] = []
        for path in order_shards:
            rows = pickle.loads(path.read_bytes())
            if shuffle:
                rows = [rows[i] for i in rng.permutation(len(rows))]
            pending.extend(rows)
            while len(pending) >= BATCH:
                yield pending[:BATCH]
                pending = pending[BATCH:]
        if pending and not drop_last:
            yield pending

    def stacked(batch: list[dict]) -> dict[tuple[str, str], torch.Tensor]:
        out = {}
        for key, (side, *_rest) in MODELS.items():
            entries = [next(e for e in row[f"{side}_features"] if e["model_key"] == key) for row in batch]
            for layer in entries[0]["array"]:
                out[(key, layer)] = torch.from_numpy(np.stack([e["array"][layer] for e in entries]))
        return out

    for epoch in range(EPOCHS):
        lr = 0.1 ** (2 + epoch // 5)
        order = [shards[i] for i in rng.permutation(len(shards))]
        for batch in batches(order, shuffle=True, drop_last=True):
            tensors = stacked(batch)
            for layer in layers:
                kmeans[layer].add(tensors[layer], lr)
    output.mkdir(parents=True, exist_ok=True)
    for path in shards:  # assignment: file order, every clip, written per shard
        out_rows = []
        for batch in batches([path], shuffle=False, drop_last=False):
            tensors = stacked(batch)
            labels = {layer: kmeans[layer].best(tensors[layer]).tolist() for layer in layers}
            for c, row in enumerate(batch):
                assigned = {
                    key: {layer: labels[(key, layer)][c] for (k2, layer) in layers if k2 == key}
                    for key in MODELS
                }
                out_rows.append(
                    {
                        "filename": row["filename"],
                        "shard_name": row["shard_name"],
                        "shard_size": row["shard_size"],
                    }
                    | {"assignments": assigned}
                )
        (output / path.name).write_bytes(pickle.dumps(out_rows))


def run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(CPU seconds incl. children, peak RSS MiB) of one process."""
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    stderr = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr[-3000:]}")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=10_000)
    parser.add_argument("--shard-size", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "bench_cluster")
    parser.add_argument("--release-model", type=Path, help=argparse.SUPPRESS)  # internal: run the model
    args = parser.parse_args()
    if args.release_model is not None:
        release_model(args.release_model, args.release_model / "release_clusters")
        return
    started = time.perf_counter()
    data = make_data(args.data, args.clips, args.shard_size)
    print(f"data: {args.clips:,} clips in {data} ({time.perf_counter() - started:.0f} s)", flush=True)
    env = {**os.environ, **ONE_THREAD, "PYTHONPATH": str(ROOT)}
    acav = [sys.executable, "-m", "acav", "cluster", "--data-dir", str(data), "-q"]
    variants = {
        "ours, no cache": (acav + ["--cache-mb", "-1"], "clusters"),
        "release model": (
            [sys.executable, str(Path(__file__).resolve()), "--release-model", str(data)],
            "release_clusters",
        ),
        "ours": (acav, "clusters"),  # last: its cluster shards are the ones left for the check below
    }
    best = {name: (float("inf"), 0.0) for name in variants}
    for _ in range(args.rounds):
        for name, (command, output) in variants.items():
            shutil.rmtree(data / output, ignore_errors=True)
            best[name] = min(best[name], run(command, env))
    written = sorted(p.name for p in (data / "clusters").glob("shard-*.pkl"))
    assert written == sorted(p.name for p in (data / "release_clusters").glob("shard-*.pkl")), (
        "shard sets differ"
    )
    print(f"stage 5, whole process, one thread, {args.clips:,} clips, best of {args.rounds}:")
    for name, (cpu, rss) in best.items():
        print(f"  {name:<14} {cpu:7.2f} s CPU  {rss:6.0f} MiB peak  {1e3 * cpu / args.clips:.2f} ms/clip")
    print(f"  ratio release model / ours: {best['release model'][0] / best['ours'][0]:.2f}x CPU")
    print(
        f"  ratio release model / ours without the cache: {best['release model'][0] / best['ours, no cache'][0]:.2f}x"
    )


if __name__ == "__main__":
    main()
