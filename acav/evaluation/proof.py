"""Offline proof on demo data: pretrain small models on the curated subset and on its random twin
(same size, steps and seeds), then linear-probe the frozen encoders on held-out demo clips: the
visual encoder by visual class, the audio encoder by audio class.

Inputs: a demo data directory after ``run.sh --demo`` (with ``export/curated`` and
``export/random`` from ``acav export --random-subset``) and a second, held-out demo (another seed)
cut into clips (stages 1-3). Output: ``rows-seed{N}.json`` per seed, and ``results.csv`` (one row per subset
and seed) and ``results.md`` (mean ± std over seeds) over every seed finished in ``out_dir`` (so
seeds can run as separate processes on a machine with more cores).
"""

from __future__ import annotations

import csv
import io
import json
import statistics
import tarfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from acav.core.atomic import atomic_write_text
from acav.core.layout import list_shards
from acav.core.logs import get_logger
from acav.core.threads import limit_threads
from acav.evaluation.config import SMALL, ModelConfig, PretrainConfig
from acav.evaluation.linear import Item, ProbeConfig, linear_probe
from acav.evaluation.models import AudioVisualModel
from acav.evaluation.pretrain import latest_checkpoint, load_encoders, pretrain

log = get_logger(__name__)

# The small model without scale jitter: every decode of a clip is then identical, so decoded clips
# are cached in memory and pretraining costs model time only (crop, flip, window and masks stay).
PROOF_MODEL = replace(SMALL, jitter=(72, 72))
SUBSETS = ("curated", "random")


def heldout_clips(heldout_dir: Path) -> list[tuple[str, bytes, int, int]]:
    """``(clip name, mp4 bytes, visual class, audio class)`` of every clip of the held-out demo."""
    truth = json.loads((heldout_dir / "ground_truth.json").read_text(encoding="utf-8"))["videos"]
    clips = []
    for tar_path in list_shards(heldout_dir / "videos", ".tar"):
        with tarfile.open(tar_path) as tar:
            for member in tar:
                video_id = member.name.rsplit("_", 1)[0]
                handle = tar.extractfile(member)
                if handle is None or video_id not in truth:
                    continue
                v = truth[video_id]
                clips.append((member.name, handle.read(), int(v["visual_class"]), int(v["audio_class"])))
    if not clips:
        raise FileNotFoundError(
            f"no clips in {heldout_dir}/videos/shard-*.tar: run stages 1-3 on the held-out demo"
        )
    return clips


def split_by_video(clips: list, seed: int = 0) -> tuple[list, list]:
    """Half of the source videos for training the probe, the other half for testing it."""
    videos = sorted({name.rsplit("_", 1)[0] for name, *_ in clips})
    rng = np.random.default_rng(seed)
    train_videos = set(rng.permutation(videos)[: len(videos) // 2].tolist())
    train = [c for c in clips if c[0].rsplit("_", 1)[0] in train_videos]
    test = [c for c in clips if c[0].rsplit("_", 1)[0] not in train_videos]
    return train, test


def probe_items(clips: list, label: int) -> list[Item]:
    """Items labelled by the visual (``label=2``) or audio (``label=3``) class of their source video."""
    return [Item(c[1], c[label], c[0]) for c in clips]


def probe_model(
    model: AudioVisualModel, train: list, test: list, classes: int, probe: ProbeConfig, cache: dict
) -> dict:
    visual = linear_probe(
        model, probe_items(train, 2), probe_items(test, 2), classes, "visual", probe, cache=cache
    )
    audio = linear_probe(
        model, probe_items(train, 3), probe_items(test, 3), classes, "audio", probe, cache=cache
    )
    return {"visual_top1": visual["top1"], "audio_top1": audio["top1"], "test_clips": visual["test_videos"]}


def run_proof(
    pool_dir: Path,
    heldout_dir: Path,
    out_dir: Path,
    seeds: list[int],
    steps: int,
    batch_size: int = 32,
    model_config: ModelConfig = PROOF_MODEL,
    probe: ProbeConfig | None = None,
    threads: int = 1,
) -> list[dict]:
    """Pretrain and probe for every seed; write and return the result rows. ``threads``: torch
    intra-op threads (1 is fastest for these small models on a shared CPU)."""
    limit_threads(threads)
    probe = probe or ProbeConfig(epochs=100, batch_size=32, train_views=2, test_clips=3, test_crops=1)
    clips = heldout_clips(heldout_dir)
    classes = 1 + max(max(c[2], c[3]) for c in clips)
    train, test = split_by_video(clips)
    cache: dict = {}  # decoded probe views, shared by every model
    decoded: dict = {}  # decoded pool clips, shared by every pretraining run
    rows: list[dict] = []
    for seed in seeds:
        torch.manual_seed(seed)
        untrained = AudioVisualModel(model_config).eval()
        rows.append(
            {
                "subset": "untrained",
                "seed": seed,
                "clips": 0,
                "final_loss": None,
                **probe_model(untrained, train, test, classes, replace(probe, seed=seed), cache),
            }
        )
        for subset in SUBSETS:
            shards = pool_dir / "export" / subset
            run_dir = out_dir / subset / f"seed{seed}"
            config = PretrainConfig(
                model="small",
                steps=steps,
                batch_size=batch_size,
                warmup_steps=max(1, steps // 10),
                checkpoint_every=steps,
                workers=-1,
                threads=threads,
                seed=seed,
                device="cpu",
                log_every=max(1, steps // 5),
                shuffle_buffer=64,
            )
            summary = pretrain(shards, run_dir, config, model_config, cache_decoded=decoded)
            model = load_encoders(latest_checkpoint(run_dir))
            clips_in_subset = json.loads((shards / "manifest.json").read_text())["clips"]
            result = probe_model(model, train, test, classes, replace(probe, seed=seed), cache)
            losses = summary["losses"][-10:]
            row = {
                "subset": subset,
                "seed": seed,
                "clips": clips_in_subset,
                "final_loss": round(sum(losses) / len(losses), 4) if losses else None,
                **result,
            }
            log.info("%s", row)
            rows.append(row)
        seed_rows = [r for r in rows if r["seed"] == seed]
        atomic_write_text(out_dir / f"rows-seed{seed}.json", json.dumps(seed_rows, indent=1) + "\n")
    # the table covers every seed finished in out_dir (seeds may run as separate processes)
    all_rows = [r for p in sorted(out_dir.glob("rows-seed*.json")) for r in json.loads(p.read_text())]
    write_results(out_dir, all_rows, steps, batch_size, len(train), len(test))
    return rows


def _mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.1f} ± {100 * std:.1f}"


def write_results(out_dir: Path, rows: list[dict], steps: int, batch: int, n_train: int, n_test: int) -> str:
    out_dir.mkdir(parents=True, exist_ok=True)
    fields = ["subset", "seed", "clips", "final_loss", "visual_top1", "audio_top1", "test_clips"]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: r.get(k) for k in fields} for r in rows)
    atomic_write_text(out_dir / "results.csv", text.getvalue())
    seeds = sorted({r["seed"] for r in rows})
    lines = [
        f"Linear probes on held-out demo clips ({n_train} training / {n_test} test clips, split by source "
        f"video), top-1 % mean ± std over seeds {seeds}; pretraining {steps} steps of batch {batch}.",
        "",
        "| pretrained on | clips | visual probe (visual class) | audio probe (audio class) |",
        "|---|---|---|---|",
    ]
    for subset in ("untrained", *SUBSETS):
        chosen = [r for r in rows if r["subset"] == subset]
        if chosen:
            lines.append(
                f"| {subset} | {chosen[0]['clips']} | {_mean_std([r['visual_top1'] for r in chosen])} | "
                f"{_mean_std([r['audio_top1'] for r in chosen])} |"
            )
    table = "\n".join(lines) + "\n"
    atomic_write_text(out_dir / "results.md", table)
    return table
