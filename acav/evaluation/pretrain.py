"""Audio-visual contrastive pretraining (the original's recipe), resumable, single process or DDP.

AdamW with amsgrad, weight decay on weights only (none on BatchNorm parameters and biases),
linear warm-up from 0 then linear decay to 0 at the last step. Checkpoints
``checkpoints/step-NNNNNNN.pt`` every ``checkpoint_every`` steps and at the end, written
atomically by process 0; a run started again in the same directory resumes from the newest.
Multi-GPU: ``torchrun --nproc_per_node=N -m acav evaluate pretrain ...`` (one process per GPU,
embeddings gathered across processes for the contrastive loss).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from functools import partial
from pathlib import Path

import torch

from acav.core.atomic import atomic_path
from acav.core.layout import list_shards
from acav.core.logs import get_logger
from acav.core.records import JsonlWriter
from acav.core.threads import limit_threads, worker_threads
from acav.evaluation.config import PRESETS, ModelConfig, PretrainConfig
from acav.evaluation.data import ClipStream
from acav.evaluation.models import AudioVisualModel, info_nce

log = get_logger(__name__)

CHECKPOINT_DIR = "checkpoints"


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on conv/linear weights only; none on BatchNorm parameters and biases."""
    decay, no_decay = [], []
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad:
                continue
            is_bn = isinstance(module, torch.nn.modules.batchnorm._BatchNorm)
            (no_decay if is_bn or name == "bias" else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up from 0 over ``warmup`` steps, then linear decay to 0 at ``total``."""
    if warmup > 0 and step < warmup:
        return step / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def checkpoint_path(out_dir: Path, step: int) -> Path:
    return out_dir / CHECKPOINT_DIR / f"step-{step:07d}.pt"


def latest_checkpoint(out_dir: Path) -> Path | None:
    found = sorted((out_dir / CHECKPOINT_DIR).glob("step-*.pt"))
    return found[-1] if found else None


def save_checkpoint(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _distributed() -> tuple[int, int, int]:
    """``(rank, world, local_rank)`` from torchrun's environment; (0, 1, 0) otherwise."""
    return (
        int(os.environ.get("RANK", 0)),
        int(os.environ.get("WORLD_SIZE", 1)),
        int(os.environ.get("LOCAL_RANK", 0)),
    )


def _device(choice: str, local_rank: int) -> torch.device:
    if choice == "cpu" or (choice == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if choice.startswith("cuda:"):
        return torch.device(choice)
    return torch.device("cuda", local_rank)


def pretrain(
    shards_dir: Path,
    out_dir: Path,
    config: PretrainConfig,
    model_config: ModelConfig | None = None,
    stop_after: int | None = None,
    cache_decoded: bool | dict = False,
) -> dict:
    """Train (or resume) until ``config.steps`` (or ``stop_after`` steps in this call); return a summary."""
    model_config = model_config or PRESETS[config.model]
    rank, world, local_rank = _distributed()
    device = _device(config.device, local_rank)
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if config.batch_size % world:
        raise ValueError(f"--batch-size {config.batch_size} is not divisible by {world} processes")
    per_process = config.batch_size // world
    shards = list_shards(shards_dir, ".tar")
    if not shards:
        raise FileNotFoundError(f"no shard-NNNNNN.tar in {shards_dir}: run acav export first")

    torch.manual_seed(config.seed)
    model = AudioVisualModel(model_config).to(device)
    optimizer = torch.optim.AdamW(parameter_groups(model, config.weight_decay), lr=config.lr, amsgrad=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, config.warmup_steps, config.steps)
    )
    step = 0
    resume = latest_checkpoint(out_dir)
    if resume is not None:
        state = torch.load(resume, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step = int(state["step"])
        if rank == 0:
            log.info("resuming from %s (step %d)", resume, step)
    train_model = model
    if world > 1:
        ids = [device.index] if device.type == "cuda" else None
        train_model = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)

    stream = ClipStream(
        shards,
        model_config,
        config.seed,
        rank,
        world,
        start=step * per_process,
        buffer=config.shuffle_buffer,
        cache=cache_decoded,
        batch=per_process,
    )
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", world))  # torchrun's, on this machine
    threads = config.thread_plan(local_processes, on_cpu=device.type == "cpu")
    loader = torch.utils.data.DataLoader(
        stream,
        batch_size=per_process,
        num_workers=threads.workers,
        pin_memory=device.type == "cuda",
        worker_init_fn=partial(worker_threads, threads=threads.per_worker) if threads.workers else None,
    )
    limit_threads(threads.main)  # the model's share (the workers start on the first next(); own caps)
    end = config.steps if stop_after is None else min(config.steps, step + stop_after)
    started, losses = time.time(), []
    logger = JsonlWriter(out_dir / "pretrain.log.jsonl") if rank == 0 else None
    model.train()
    batches = iter(loader)
    while step < end:
        frames, spectrograms = next(batches)
        frames = frames.to(device, non_blocking=True)
        spectrograms = spectrograms.to(device, non_blocking=True)
        v, a = train_model(frames, spectrograms)
        loss, accuracy = info_nce(v, a, model_config.temperature)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        step += 1
        losses.append(float(loss.detach()))
        if logger is not None and (step % config.log_every == 0 or step == end):
            logger.write(
                {
                    "step": step,
                    "loss": round(losses[-1], 5),
                    "accuracy": round(float(accuracy.detach()), 4),
                    "lr": scheduler.get_last_lr()[0],
                    "seconds": round(time.time() - started, 2),
                }
            )
            log.info("step %d: loss %.4f, accuracy %.3f", step, losses[-1], float(accuracy.detach()))
        if rank == 0 and (step % config.checkpoint_every == 0 or step == end):
            save_checkpoint(
                checkpoint_path(out_dir, step),
                {
                    "step": step,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "model_config": model_config.to_dict(),
                    "pretrain_config": asdict(config),
                },
            )
    if logger is not None:
        logger.close()
    if world > 1:
        torch.distributed.barrier()
    return {"step": step, "losses": losses, "seconds": round(time.time() - started, 2), "world": world}


def load_encoders(path: Path) -> AudioVisualModel:
    """The model of one of our checkpoints, in eval mode on the CPU."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    model = AudioVisualModel(ModelConfig.from_dict(state["model_config"]))
    model.load_state_dict(state["model"])
    return model.eval()
