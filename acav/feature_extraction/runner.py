"""The stage-4 run: pick shards, skip finished ones, extract on every device, write the run log.

One process per device. On a machine with several visible GPUs, one process per GPU is spawned
(``torch.multiprocessing``), each over a disjoint set of shards; inside each process a DataLoader
with worker processes decodes clips, and the main thread batches them through the models.

Per shard, the run log ``features/extract.log.jsonl`` gets one line: counts, time, and every failed
clip with its reason. Failed clips are left out of the feature shard.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

from acav.core.atomic import remove_stale_temps
from acav.core.config import ConfigError, config_to_dict
from acav.core.layout import DataLayout, list_shards, shard_index, shard_name
from acav.core.logs import get_logger, progress
from acav.core.patterns import iter_braces
from acav.core.records import JsonlWriter, read_jsonl
from acav.core.runlock import directory_lock
from acav.core.threads import ThreadPlan, limit_threads, plan_threads
from acav.engine import Engine, Resources, get_engine
from acav.feature_extraction.base import AUDIO, VISUAL, Extractor, ExtractorOptions, create_extractor
from acav.feature_extraction.dataset import ShardInput, read_shard_json
from acav.feature_extraction.options import ExtractionConfig
from acav.feature_extraction.writer import clip_record, model_entry, write_feature_shard

log = get_logger(__name__)

RUN_LOG_NAME = "extract.log.jsonl"


class ExtractionError(RuntimeError):
    """A device process failed; the message names the cause (details in the log above it)."""


# --- which shards ------------------------------------------------------------------------------
MAX_MISSING_SHARDS = 1000  # stop expanding --shards after this many names that do not exist
MAX_PATTERN_NAMES = 10_000_000  # and after this many names in all (duplicates included)


def resolve_shards(input_dir: Path, patterns: list[str] | None) -> list[ShardInput]:
    """All shards in ``input_dir``, or those named by ``patterns`` (names, files, indices, braces).

    Patterns are expanded one name at a time and checked against the shards present, so memory is
    bounded by the shards on disk, never by the pattern (``shard-{000000..99999999}``).
    """
    tars = list_shards(input_dir, ".tar")
    if not patterns:
        return [ShardInput(p.name[:-4], p, p.with_suffix(".json")) for p in tars]
    present = {p.name[:-4] for p in tars}
    chosen: set[str] = set()
    missing: list[str] = []
    missing_count = seen = 0
    for pattern in patterns:
        for item in iter_braces(str(pattern)):
            seen += 1
            if missing_count >= MAX_MISSING_SHARDS or seen > MAX_PATTERN_NAMES:
                break
            item = item.strip()
            if not item:
                continue
            try:
                name = shard_name(int(item)) if item.isdigit() else shard_name(shard_index(item))
            except ValueError as exc:
                raise ConfigError(f"--shards: {exc}") from None
            if name in present:
                chosen.add(name)
                continue
            missing_count += 1
            if len(missing) < 5:
                missing.append(name)
    if seen > MAX_PATTERN_NAMES:
        raise ConfigError(f"--shards expands to more than {MAX_PATTERN_NAMES} names; list fewer shards")
    if missing:
        shown = ", ".join(missing) + (" ..." if missing_count > len(missing) else "")
        at_least = "at least " if missing_count >= MAX_MISSING_SHARDS else ""
        raise ConfigError(f"--shards: {at_least}{missing_count} shard(s) not found in {input_dir}: {shown}")
    names = sorted(chosen, key=shard_index)
    return [ShardInput(n, input_dir / f"{n}.tar", input_dir / f"{n}.json") for n in names]


def split_shards(shards: list[ShardInput], parts: int) -> list[list[ShardInput]]:
    """Disjoint round-robin groups, one per device (empty groups dropped)."""
    if parts < 1:
        raise ValueError(f"parts must be >= 1, got {parts}")
    groups = [shards[i::parts] for i in range(parts)]
    return [g for g in groups if g]


# --- one shard's bookkeeping -----------------------------------------------------------------
@dataclass
class ShardState:
    shard: ShardInput
    expected: list[str] | None  # file names from the json (None when it is missing/invalid)
    json_error: str | None
    started: float = field(default_factory=time.time)  # wall clock; lowered to when a worker began the shard
    ends: int = 0
    workers: int = 1
    members: int = 0
    tar_errors: list[str] = field(default_factory=list)
    order: dict[str, int] = field(default_factory=dict)  # filename -> first position in the tar
    pending: int = 0  # clips handed to a batch but not yet through the models
    features: dict[str, tuple[list[Any], list[Any]]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.ends >= self.workers and self.pending == 0


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class DeviceRunner:
    """Extract features for a list of shards on one device; returns one log record per shard."""

    def __init__(self, config: ExtractionConfig, device: Any, output_dir: Path, run_log: Path, run_id: str,
                 threads: ThreadPlan) -> None:  # fmt: skip
        self.config = config
        self.device = device
        self.output_dir = output_dir
        self.run_log = run_log
        self.run_id = run_id
        self.threads = threads
        self.num_workers = threads.workers
        options = ExtractorOptions(
            weights_dir=config.weights_dir,
            allow_random_weights=config.allow_random_weights,
            autocast=config.autocast,
            extra={
                "slowfast_pooling": config.slowfast_pooling,
                "slowfast_sampling": config.slowfast_sampling,
                "slowfast_crop": config.slowfast_crop,
            },
        )
        self.visual: Extractor = create_extractor(config.visual_extractor, options, VISUAL)
        self.audio: Extractor = create_extractor(config.audio_extractor, options, AUDIO)
        self.states: dict[str, ShardState] = {}
        self.batch: list[dict[str, Any]] = []
        self.results: list[dict[str, Any]] = []
        self.loaded = False

    def run(
        self, shards: list[ShardInput], on_clip: Callable[[int], None] | None = None
    ) -> list[dict[str, Any]]:
        from torch.utils.data import DataLoader

        from acav.feature_extraction.dataset import ClipDataset, keep_item, set_decode_threads, worker_init

        if not shards:
            return []
        dataset = ClipDataset(shards, self.visual, self.audio)
        loader = DataLoader(
            dataset,
            batch_size=None,
            num_workers=self.num_workers,
            collate_fn=keep_item,
            worker_init_fn=partial(worker_init, threads=self.threads.per_worker)
            if self.num_workers > 0
            else None,
            prefetch_factor=max(2, self.config.batch_size // max(1, self.num_workers))
            if self.num_workers > 0
            else None,
        )
        # Start the worker processes before any model touches the device: they are forked from
        # a process that has not initialised CUDA yet.
        items = iter(loader)
        # The models' (and, without workers, the decoder's) share of --threads; set after the fork,
        # so the workers do not inherit it: they set their own in worker_init.
        limit_threads(self.threads.main)
        if self.num_workers == 0:
            set_decode_threads(self.threads.main)
        if getattr(self.device, "type", "cpu") == "cuda":
            import torch

            torch.cuda.set_device(self.device)
        if not self.loaded:  # once per runner: an engine worker keeps its models across shards
            self.visual.load(self.device)
            self.audio.load(self.device)
            self.loaded = True
        with JsonlWriter(self.run_log) as writer:
            for item in items:
                state = self._state(item["shard"], shards)
                state.started = min(state.started, item.get("started", state.started))
                if item["type"] == "end":
                    state.ends += 1
                    state.workers = item["workers"]
                    state.members = max(state.members, item["members"])
                    if item["error"] and item["error"] not in state.tar_errors:
                        state.tar_errors.append(item["error"])
                else:
                    self._take_clip(state, item)
                    if on_clip is not None:
                        on_clip(1)
                if len(self.batch) >= self.config.batch_size or (state.ends >= state.workers and self.batch):
                    self._run_batch()
                self._finish_complete(writer)
            if self.batch:
                self._run_batch()
            self._finish_complete(writer)
        return self.results

    # --- internals -------------------------------------------------------------------------
    def _state(self, name: str, shards: list[ShardInput]) -> ShardState:
        if name not in self.states:
            shard = next(s for s in shards if s.name == name)
            expected, json_error = read_shard_json(shard.json)
            if json_error:
                log.warning(json_error)
            self.states[name] = ShardState(shard, expected, json_error)
        return self.states[name]

    def _take_clip(self, state: ShardState, item: dict[str, Any]) -> None:
        name = item["filename"]
        if name in state.order:
            state.failures.setdefault(
                name + "#dup", f"{name}: duplicate member in {state.shard.tar}; first kept"
            )
            return
        state.order[name] = len(state.order)
        if item["error"]:
            state.failures[name] = item["error"]
            log.warning("%s: %s", state.shard.name, item["error"])
            return
        state.pending += 1
        self.batch.append(item)

    def _run_batch(self) -> None:
        batch, self.batch = self.batch, []
        try:
            visual = self.visual.forward([it["visual"] for it in batch])
            audio = self.audio.forward([it["audio"] for it in batch])
            per_clip = [([v[i] for v in visual], [a[i] for a in audio]) for i in range(len(batch))]
        except Exception as exc:
            if len(batch) == 1:
                per_clip = [exc]  # type: ignore[list-item]
            else:  # find the clip(s) at fault: one at a time
                log.warning(
                    "batch of %d failed (%s: %s); retrying clip by clip", len(batch), type(exc).__name__, exc
                )
                for item in batch:
                    self.batch = [item]
                    self._run_batch()
                return
        for item, result in zip(batch, per_clip, strict=True):
            state = self.states[item["shard"]]
            state.pending -= 1
            if isinstance(result, Exception):
                state.failures[item["filename"]] = f"model forward: {type(result).__name__}: {result}"
                log.warning("%s: %s: model forward failed: %s", state.shard.name, item["filename"], result)
            else:
                state.features[item["filename"]] = result

    def _finish_complete(self, writer: JsonlWriter) -> None:
        for name in [n for n, s in self.states.items() if s.complete]:
            record = self._finish(self.states.pop(name))
            writer.write(record)
            self.results.append(record)

    def _finish(self, state: ShardState) -> dict[str, Any]:
        shard = state.shard
        size = len(state.expected) if state.expected is not None else state.members
        order = dict(state.order)
        if state.expected is not None:  # json order first, then clips the json does not list
            order = {n: i for i, n in enumerate(state.expected)}
            for n in state.order:
                order.setdefault(n, len(order))
            for n in state.expected:
                if n not in state.order and n not in state.failures:
                    why = (
                        f"not read: {state.tar_errors[0]}"
                        if state.tar_errors
                        else "listed in the json but not in the tar"
                    )
                    state.failures[n] = why
        records = []
        for filename in sorted(state.features, key=lambda n: order.get(n, len(order))):
            visual, audio = state.features[filename]
            records.append(
                clip_record(
                    filename,
                    shard.name,
                    size,
                    [model_entry(self.visual, visual, self.config.dtype)],
                    [model_entry(self.audio, audio, self.config.dtype)],
                )
            )
        seconds = time.time() - state.started
        unreadable = state.members == 0 and bool(state.tar_errors)
        status = "error" if unreadable else "partial" if state.tar_errors else "done"
        if not unreadable:
            write_feature_shard(self.output_dir / f"{shard.name}.pkl", records)
        failures = [{"filename": n.removesuffix("#dup"), "reason": r} for n, r in state.failures.items()]
        return {
            "event": "shard",
            "run_id": self.run_id,
            "time": _now(),
            "shard": shard.name,
            "status": status,
            "clips": size,
            "written": len(records) if not unreadable else 0,
            "failed": len(failures),
            "failures": failures,
            "errors": state.tar_errors + ([state.json_error] if state.json_error else []),
            "seconds": round(seconds, 3),
            "clips_per_s": round(len(records) / seconds, 3) if seconds > 0 else None,
            "visual_extractor": self.visual.key,
            "audio_extractor": self.audio.key,
            "dtype": self.config.dtype,
            "device": str(self.device),
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
        }


# --- the whole run -----------------------------------------------------------------------------
@dataclass
class RunSummary:
    run_id: str
    shards_total: int
    shards_skipped: int
    records: list[dict[str, Any]]
    devices: list[str]
    seconds: float

    @property
    def clips_written(self) -> int:
        return sum(r["written"] for r in self.records)

    @property
    def clips_failed(self) -> int:
        return sum(r["failed"] for r in self.records)

    @property
    def shards_failed(self) -> list[str]:
        return [r["shard"] for r in self.records if r["status"] == "error"]


def _device_process(rank: int, groups: list[list[ShardInput]], devices: list[str], config: ExtractionConfig,
                    output_dir: Path, run_log: Path, run_id: str, threads: ThreadPlan, verbosity: int) -> None:  # fmt: skip
    """Entry point of one spawned per-device process: ``devices[rank]`` (``cuda:rank`` on GPUs) over ``groups[rank]``."""
    import torch

    from acav.core.logs import setup_logging

    setup_logging(verbosity)
    # CUDA is initialised only after the DataLoader has forked its decoding workers (DeviceRunner.run).
    device = torch.device(devices[rank])
    DeviceRunner(config, device, output_dir, run_log, run_id, threads).run(groups[rank])


class ShardWorker:
    """An engine worker (a Ray actor: one per GPU, or per CPU slot without GPUs): builds its device
    runner and loads the models once, then extracts one shard per call; returns its log record."""

    def __init__(self, config: ExtractionConfig, output_dir: Path, run_log: Path, run_id: str, threads: ThreadPlan,
                 verbosity: int) -> None:  # fmt: skip
        from acav.core.device import choose_device
        from acav.core.logs import setup_logging

        setup_logging(verbosity)
        self.runner = DeviceRunner(config, choose_device(config.device), output_dir, run_log, run_id, threads)

    def __call__(self, shard: ShardInput) -> dict[str, Any]:
        self.runner.results = []
        records = self.runner.run([shard])
        return records[0]


def _extract_on_engine(engine: Engine, todo: list[ShardInput], config: ExtractionConfig, output_dir: Path,
                       run_log: Path, run_id: str, verbosity: int) -> list[dict[str, Any]]:  # fmt: skip
    """Every shard as one call on a cluster worker (``--engine ray``); a shard whose worker failed for
    good gets an ``error`` record (a re-run resumes it)."""
    gpus = engine.gpus() if config.device != "cpu" else 0
    # --workers N: N decoding processes per actor; auto: decode inside the actor. One CPU is reserved
    # per actor whatever N (asking for more could ask for more than a node has: Ray would wait), so
    # without --threads an actor's budget is that CPU.
    threads = plan_threads(config.threads or 1, max(0, config.workers), main_computes=not gpus)
    resources = Resources(cpus=1, gpus=1 if gpus else 0)
    log.info(
        "extracting %d shard(s) with %s (%s)",
        len(todo),
        engine.describe(),
        f"{gpus} GPU(s)" if gpus else "CPUs",
    )
    args = (config, output_dir, run_log, run_id, threads, verbosity)
    records = []
    for outcome in progress(engine.map_actors(ShardWorker, args, todo, workers=max(1, gpus), resources=resources),
                            total=len(todo), desc="extract", unit="shard"):  # fmt: skip
        if outcome.ok:
            records.append(outcome.value)
            continue
        log.error("%s: %s", outcome.item.name, outcome.error)
        record = {"event": "shard", "run_id": run_id, "time": _now(), "shard": outcome.item.name, "status": "error",
                  "clips": 0, "written": 0, "failed": 0, "failures": [], "errors": [outcome.error]}  # fmt: skip
        with JsonlWriter(run_log) as writer:
            writer.write(record)
        records.append(record)
    return records


def _check_extractors(config: ExtractionConfig) -> None:
    """Create both extractors (no model) and let them refuse early, e.g. missing weights."""
    options = ExtractorOptions(
        weights_dir=config.weights_dir, allow_random_weights=config.allow_random_weights
    )
    create_extractor(config.visual_extractor, options, VISUAL).check_ready()
    create_extractor(config.audio_extractor, options, AUDIO).check_ready()


def _refuse_other_extractors(done: list[ShardInput], config: ExtractionConfig, run_log: Path) -> None:
    """Resume must not mix extractors: refuse when a shard about to be skipped was last written by
    other extractors (per the run log), instead of leaving their features beside the new ones."""
    latest: dict[str, tuple[Any, Any]] = {}
    for record in read_jsonl(run_log):
        if record.get("event") == "shard" and record.get("status") != "error":
            latest[record.get("shard")] = (record.get("visual_extractor"), record.get("audio_extractor"))
    wanted = (config.visual_extractor, config.audio_extractor)
    other = [(s.name, latest[s.name]) for s in done if latest.get(s.name, wanted) != wanted]
    if other:
        name, (visual, audio) = other[0]
        raise ConfigError(
            f"{len(other)} finished shard(s) in {run_log.parent} were extracted with {visual} + {audio} "
            f"(e.g. {name}), not {wanted[0]} + {wanted[1]}: pass --overwrite to recompute them, or "
            "--output-dir for a separate feature set"
        )


def run_extraction(config: ExtractionConfig, layout: DataLayout, verbosity: int = 0) -> RunSummary:
    """Run stage 4 over ``layout`` with ``config``; finished shards are skipped unless ``overwrite``.
    One writer per data directory."""
    with directory_lock(layout.root, "extract"):
        return _run_extraction(config, layout, verbosity)


def _run_extraction(config: ExtractionConfig, layout: DataLayout, verbosity: int = 0) -> RunSummary:
    from acav.core.device import visible_devices

    started = time.perf_counter()
    input_dir = Path(config.input_dir) if config.input_dir else layout.videos_dir
    output_dir = Path(config.output_dir) if config.output_dir else layout.features_dir
    if not input_dir.is_dir():
        raise ConfigError(
            f"input directory {input_dir} does not exist (run stage 3, clip_segmentation, first)"
        )
    shards = resolve_shards(input_dir, config.shards)
    if not shards:
        raise ExtractionError(
            f"no video shards (shard-NNNNNN.tar) in {input_dir}: run stage 3 (clip_segmentation) first"
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    removed = remove_stale_temps(output_dir)
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted run in %s", removed, output_dir)
    todo = [s for s in shards if config.overwrite or not (output_dir / f"{s.name}.pkl").exists()]
    skipped = len(shards) - len(todo)
    if skipped:
        _refuse_other_extractors([s for s in shards if s not in todo], config, output_dir / RUN_LOG_NAME)
    if skipped:
        log.info(
            "%d of %d shard(s) already extracted; skipped (use --overwrite to redo)", skipped, len(shards)
        )
    if config.allow_random_weights and not (
        config.visual_extractor.startswith("basic") and config.audio_extractor.startswith("basic")
    ):
        log.warning("=" * 78)
        log.warning("--allow-random-weights: models whose weights are missing run with RANDOM weights.")
        log.warning("Their features are meaningless; use this only for tests and benchmarks.")
        log.warning("=" * 78)

    if todo:
        _check_extractors(config)
    run_id = f"{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    run_log = output_dir / RUN_LOG_NAME
    devices = visible_devices(config.device)
    groups = split_shards(todo, len(devices)) if todo else []
    device_names = [str(d) for d in devices[: max(1, len(groups))]]
    with JsonlWriter(run_log) as writer:
        writer.write({"event": "run_start", "run_id": run_id, "time": _now(), "shards": len(shards),
                      "todo": len(todo), "devices": device_names, "config": config_to_dict(config)})  # fmt: skip
    on_cpu = all(getattr(d, "type", "cpu") == "cpu" for d in devices)
    threads = config.thread_plan(len(groups) or 1, on_cpu)
    records: list[dict[str, Any]] = []
    engine = get_engine()
    if todo and engine.name != "local":
        records = _extract_on_engine(engine, todo, config, output_dir, run_log, run_id, verbosity)
    elif len(groups) > 1:
        import torch.multiprocessing as mp

        log.info("extracting %d shard(s) on %d devices, one process each", len(todo), len(groups))
        try:
            mp.spawn(
                _device_process,
                args=(groups, device_names, config, output_dir, run_log, run_id, threads, verbosity),
                nprocs=len(groups),
                join=True,
            )
        except Exception as exc:  # ProcessRaisedException / ProcessExitedException carry the child's error
            lines = [line for line in str(exc).strip().splitlines() if line.strip()]
            raise ExtractionError(
                f"a device process failed: {lines[-1] if lines else type(exc).__name__}. Finished shards are "
                f"kept; fix the cause and re-run to resume."
            ) from exc
        records = [r for r in read_jsonl(run_log) if r.get("run_id") == run_id and r.get("event") == "shard"]
    elif groups:
        log.info(
            "extracting %d shard(s) on %s with %d decoding worker(s) of %d thread(s), models %d thread(s)",
            len(todo), devices[0], threads.workers, threads.per_worker, threads.main,
        )  # fmt: skip
        runner = DeviceRunner(config, devices[0], output_dir, run_log, run_id, threads)
        expected_clips = sum(len(read_shard_json(s.json)[0] or []) for s in groups[0]) or None
        with progress(total=expected_clips, desc="extract", unit="clip") as bar:
            records = runner.run(groups[0], on_clip=bar.update)
    summary = RunSummary(run_id, len(shards), skipped, records, device_names, time.perf_counter() - started)
    with JsonlWriter(run_log) as writer:
        writer.write({"event": "run_end", "run_id": run_id, "time": _now(), "seconds": round(summary.seconds, 3),
                      "shards_done": len(records), "shards_skipped": skipped, "clips_written": summary.clips_written,
                      "clips_failed": summary.clips_failed, "shards_failed": summary.shards_failed})  # fmt: skip
    return summary
