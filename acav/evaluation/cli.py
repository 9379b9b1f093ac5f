"""``acav evaluate``: pretrain on an exported subset, linear evaluation, the original checkpoint,
downstream data downloads and the offline curated-vs-random proof."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from acav.core.config import add_config_arguments, load_config
from acav.core.logs import get_logger

log = get_logger(__name__)

DEFAULT_MODALITY = {"ucf101": "visual", "esc50": "audio", "kinetics-sounds": "both"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from acav.evaluation.config import PretrainConfig
    from acav.evaluation.datasets import DATASETS

    sub = parser.add_subparsers(dest="evaluate_command", metavar="{pretrain,linear,download,proof}")
    sub.required = True
    pre = sub.add_parser(
        "pretrain", help="audio-visual contrastive pretraining on exported shards (resumable)"
    )
    pre.add_argument(
        "--shards", type=Path, required=True, help="folder of exported shard-NNNNNN.tar (acav export)"
    )
    pre.add_argument(
        "--out", type=Path, required=True, help="run folder: checkpoints/ and pretrain.log.jsonl"
    )
    add_config_arguments(pre, PretrainConfig)

    lin = sub.add_parser(
        "linear", help="linear evaluation of frozen encoders on UCF101, ESC-50 or Kinetics-Sounds"
    )
    source = lin.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--checkpoint", type=Path, help="one of our pretraining checkpoints (step-NNNNNNN.pt)"
    )
    source.add_argument("--original", type=Path, help="the original release's acav100m_checkpoint.pyth")
    lin.add_argument("--dataset", choices=DATASETS, required=True)
    lin.add_argument(
        "--root", type=Path, required=True, help="the data set's folder (see evaluation/README.md)"
    )
    lin.add_argument("--split", type=int, default=1, help="UCF101 split (1-3) or ESC-50 test fold (1-5)")
    lin.add_argument(
        "--modality", choices=("visual", "audio", "both"), default=None, help="default: per data set"
    )
    lin.add_argument("--epochs", type=int, default=10)
    lin.add_argument("--lr", type=float, default=1e-2)
    lin.add_argument("--batch-size", type=int, default=64)
    lin.add_argument("--test-clips", type=int, default=10)
    lin.add_argument("--test-crops", type=int, default=3)
    lin.add_argument("--output", type=Path, default=None, help="JSON file for the result")

    down = sub.add_parser("download", help="download a downstream data set into --root (needs internet)")
    down.add_argument("dataset", choices=DATASETS)
    down.add_argument("--root", type=Path, required=True)

    proof = sub.add_parser("proof", help="offline: pretrain on curated and random demo subsets, probe both")
    proof.add_argument(
        "--pool", type=Path, required=True, help="demo data dir with export/curated and export/random"
    )
    proof.add_argument(
        "--heldout", type=Path, required=True, help="held-out demo data dir cut into clips (stages 1-3)"
    )
    proof.add_argument("--out", type=Path, required=True)
    proof.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1")
    proof.add_argument("--seed", type=int, action="append", default=None, help="only this seed (repeatable)")
    proof.add_argument("--steps", type=int, default=100)
    proof.add_argument("--batch-size", type=int, default=32)


def run(args: argparse.Namespace) -> int:
    if args.evaluate_command == "pretrain":
        from acav.evaluation.config import PretrainConfig
        from acav.evaluation.pretrain import pretrain

        config = load_config(PretrainConfig, "evaluation", args)
        summary = pretrain(args.shards, args.out, config)
        print(
            f"pretrained to step {summary['step']} in {summary['seconds']} s; checkpoints in {args.out}/checkpoints"
        )
        return 0
    if args.evaluate_command == "download":
        from acav.evaluation.datasets import DatasetError, download

        try:
            download(args.dataset, args.root)
        except DatasetError as exc:
            log.error("%s", exc)
            return 1
        return 0
    if args.evaluate_command == "proof":
        from acav.evaluation.proof import run_proof

        seeds = args.seed if args.seed is not None else list(range(args.seeds))
        run_proof(args.pool, args.heldout, args.out, seeds, args.steps, args.batch_size)
        print((args.out / "results.md").read_text())
        return 0
    return _linear(args)


def _linear(args: argparse.Namespace) -> int:
    from acav.evaluation.checkpoint import load_original_checkpoint
    from acav.evaluation.datasets import DatasetError, load_dataset
    from acav.evaluation.linear import ProbeConfig, linear_probe
    from acav.evaluation.pretrain import load_encoders

    model = load_original_checkpoint(args.original) if args.original else load_encoders(args.checkpoint)
    try:
        train, test, classes = load_dataset(args.dataset, args.root, args.split)
    except DatasetError as exc:
        log.error("%s", exc)
        return 1
    probe = ProbeConfig(
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        test_clips=args.test_clips,
        test_crops=args.test_crops,
    )
    modality = args.modality or DEFAULT_MODALITY[args.dataset]
    result = linear_probe(
        model, train, test, len(classes), modality, probe, audio_only=args.dataset == "esc50"
    )
    result.update(dataset=args.dataset, split=args.split, modality=modality)
    text = json.dumps(result, indent=2)
    if args.output:
        args.output.write_text(text + "\n")
    print(text)
    return 0
