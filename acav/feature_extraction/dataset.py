"""Reading WebDataset video shards and decoding clips in DataLoader worker processes.

A shard is ``shard-NNNNNN.tar`` (members ``{key}.mp4``) plus ``shard-NNNNNN.json`` (FORMATS.md
section 3). The tar is read with the standard ``tarfile`` module in streaming order, which is the
WebDataset layout; reading it ourselves (rather than through ``webdataset`` pipelines) lets a
worker skip the members another worker decodes without reading their bytes, and lets one
corrupt member or a truncated tar be recorded instead of ending the run.

:class:`ClipDataset` is a ``torch.utils.data.IterableDataset``. Each worker reads every shard in
order and decodes the members whose position ``i`` in the shard satisfies ``i % num_workers ==
worker_id``, so all workers progress through the same shard together (bounded memory in the main
process, and parallel decoding even when there is only one shard). After a shard, every worker
yields an ``end`` item; the main process knows a shard is complete when it has one ``end`` item
per worker.

Items (plain dicts, so they cross process boundaries cheaply):

* ``{"type": "clip", "shard", "filename", "visual", "audio", "error", "started", "decode_s"}`` -- ``visual``
  and ``audio`` are the extractors' :meth:`prepare` outputs, or ``error`` says why the clip failed.
* ``{"type": "end", "shard", "worker", "workers", "members", "error", "started"}`` -- ``error`` is a
  shard-level problem (unreadable or truncated tar) seen by that worker.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset

from acav.core.decode import output_size, read_audio
from acav.core.logs import get_logger
from acav.core.media import MediaError
from acav.core.threads import worker_threads
from acav.feature_extraction.base import AudioInput, ClipError, Extractor, VisualInput

log = get_logger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v")


@dataclass(frozen=True)
class ShardInput:
    """One input shard: its name (``shard-000042``), tar and json paths."""

    name: str
    tar: Path
    json: Path


def read_shard_json(path: Path) -> tuple[list[str] | None, str | None]:
    """The clip file names listed in a shard's json, or ``(None, reason)`` when it is missing/invalid."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, f"{path}: shard json missing; clip list taken from the tar"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        return None, f"{path}: unreadable shard json ({exc}); clip list taken from the tar"
    if not isinstance(data, list):
        return None, f"{path}: expected a JSON list of clips; clip list taken from the tar"
    names = []
    for i, entry in enumerate(data):
        if isinstance(entry, dict) and isinstance(entry.get("filename"), str):
            names.append(entry["filename"])
        else:
            log.warning("%s: entry %d has no 'filename'; ignored", path, i)
    return names, None


def _named_bytes(data: bytes, name: str) -> io.BytesIO:
    # The decoders put the source's name into their error messages.
    buffer = io.BytesIO(data)
    buffer.name = name
    return buffer


def _count_packets(container: Any, stream: Any) -> int:
    """Video packets of ``stream`` (one per frame for the codecs in clips), then back to the start."""
    count = sum(1 for packet in container.demux(stream) if packet.size)
    container.seek(0)
    return count


def sample_frames(data: bytes, spec: VisualInput, name: str = "<clip>") -> np.ndarray:
    """``spec.num_frames`` frames spread uniformly over the clip (plus successors, see ``pair_offset``).

    Returns uint8 ``[T, H, W, 3]``.

    Every frame must be decoded (H.264 frames depend on each other), but only the sampled ones are
    converted (``frame.reformat``) straight to the target size: no full-size RGB copies.
    """
    import av

    try:
        with av.open(_named_bytes(data, name)) as container:
            if not container.streams.video:
                raise ClipError(f"{name}: no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            if DECODE_THREADS:
                stream.thread_count = DECODE_THREADS
            width, height = output_size(
                stream.codec_context.width, stream.codec_context.height, spec.short_side, spec.size
            )

            def convert(frame: Any) -> np.ndarray:
                return frame.reformat(width=width, height=height, format="rgb24").to_ndarray()

            # Containers without a frame count in the header (WebM, MKV): count the packets
            # (demuxing only, no decoding), then rewind; conversion stays limited to sampled frames.
            total = int(stream.frames or 0) or _count_packets(container, stream)
            if total <= 0:
                raise ClipError(f"{name}: no video frames decoded")
            wanted = spec.frame_indices(total)
            slots: dict[int, list[int]] = {}
            for slot, index in enumerate(wanted.tolist()):
                slots.setdefault(index, []).append(slot)
            picked: list[np.ndarray | None] = [None] * len(wanted)
            last = None
            for i, frame in enumerate(container.decode(stream)):
                last = frame
                if i in slots:
                    image = convert(frame)
                    for slot in slots[i]:
                        picked[slot] = image
                if i >= wanted.max():
                    break
            if last is None:
                raise ClipError(f"{name}: no video frames decoded")
            if any(p is None for p in picked):
                # The header (or packet count) promised more frames than decoded: repeat the last one.
                filler = convert(last)
                picked = [filler if p is None else p for p in picked]
            frames = np.stack(picked)  # type: ignore[arg-type]
    except (ClipError, MediaError):
        raise
    except Exception as exc:  # PyAV/FFmpeg raise many error types on corrupt data
        raise MediaError(f"{name}: video decode failed ({type(exc).__name__}: {exc})") from exc
    if spec.crop:
        h, w = frames.shape[1:3]
        if h < spec.crop or w < spec.crop:
            raise ClipError(f"{name}: frames {w}x{h} are smaller than the {spec.crop} crop")
        top, left = (h - spec.crop) // 2, (w - spec.crop) // 2
        if spec.crop_position == "start":  # PySlowFast spatial_idx 0: the top or left crop
            top = left = 0
        frames = np.ascontiguousarray(frames[:, top : top + spec.crop, left : left + spec.crop])
    return frames


def decode_audio(data: bytes, spec: AudioInput, name: str = "<clip>") -> np.ndarray:
    """Mono float32 audio at ``spec.sample_rate``; :class:`ClipError` when shorter than ``spec.min_seconds``."""
    audio = read_audio(_named_bytes(data, name), sample_rate=spec.sample_rate)
    seconds = audio.shape[0] / spec.sample_rate
    if seconds < spec.min_seconds:
        raise ClipError(f"{name}: audio too short ({seconds:.3f} s < {spec.min_seconds} s)")
    return audio


def process_clip(data: bytes, name: str, visual: Extractor, audio: Extractor) -> dict[str, Any]:
    """Decode one clip and run both extractors' ``prepare``; failures become an ``error`` string."""
    item: dict[str, Any] = {"type": "clip", "filename": name, "visual": None, "audio": None, "error": None,
                            "started": time.time()}  # fmt: skip
    start = time.perf_counter()
    step = "video decode"
    try:
        frames = sample_frames(data, visual.input_spec(), name)  # type: ignore[arg-type]
        step = "audio decode"
        wave = decode_audio(data, audio.input_spec(), name)  # type: ignore[arg-type]
        step = f"{visual.key} prepare"
        item["visual"] = visual.prepare(frames)
        step = f"{audio.key} prepare"
        item["audio"] = audio.prepare(wave)
    except Exception as exc:  # one clip's failure must never stop the shard
        message = str(exc)
        if name not in message:
            message = f"{name}: {message}"
        item["error"] = f"{step}: {type(exc).__name__}: {message}"
        item["visual"] = item["audio"] = None
    item["decode_s"] = time.perf_counter() - start
    return item


def member_problem(member: tarfile.TarInfo, listed: set[str] | None) -> str | None:
    """Why a video tar member is not a clip, or None. With a shard json, only the regular-file
    members it lists (by exact name) are clips; without one, regular files with a plain name are."""
    name = member.name
    if listed is not None:
        if name not in listed:
            return f"tar member {name!r} is not listed in the shard json: not a clip, ignored"
    elif "/" in name or "\\" in name or name in ("", ".", ".."):
        return f"tar member {name!r} is not a plain file name: not a clip, ignored"
    if not member.isfile():
        return f"tar member {name!r} is not a regular file: not a clip, ignored"
    return None


def iter_tar_members(
    path: Path, listed: set[str] | None = None
) -> Iterator[tuple[str, tarfile.TarFile, tarfile.TarInfo, str | None]]:
    """Video members of a tar in stream order, each with :func:`member_problem` (None for a clip).
    Other members (a sample's .txt/.json companions, directories) are not clips and are skipped."""
    with tarfile.open(path, mode="r:") as tar:
        for member in tar:
            if member.name.lower().endswith(VIDEO_EXTENSIONS):
                yield member.name, tar, member, member_problem(member, listed)


def _worker_position() -> tuple[int, int]:
    info = torch.utils.data.get_worker_info()
    return (0, 1) if info is None else (info.id, info.num_workers)


class ClipDataset(IterableDataset):
    """Iterable over decoded clips of ``shards``; see the module docstring for the item protocol."""

    def __init__(self, shards: list[ShardInput], visual: Extractor, audio: Extractor) -> None:
        super().__init__()
        self.shards = list(shards)
        self.visual = visual
        self.audio = audio

    def __iter__(self) -> Iterator[dict[str, Any]]:
        worker, workers = _worker_position()
        for shard in self.shards:
            started = time.time()
            members = 0
            error = None
            names, _ = read_shard_json(shard.json)
            listed = set(names) if names is not None else None
            try:
                for index, (name, tar, member, problem) in enumerate(iter_tar_members(shard.tar, listed)):
                    members += problem is None
                    if index % workers != worker:
                        continue
                    if problem is not None:  # reported in the run log with the shard's failures
                        yield {"type": "clip", "shard": shard.name, "filename": name, "visual": None,
                               "audio": None, "error": problem, "started": time.time(), "decode_s": 0.0}  # fmt: skip
                        continue
                    try:
                        handle = tar.extractfile(member)
                        data = handle.read() if handle is not None else b""
                    except (tarfile.TarError, OSError, EOFError) as exc:
                        raise tarfile.ReadError(f"member {member.name}: {exc}") from exc
                    item = process_clip(data, name, self.visual, self.audio)
                    item["shard"] = shard.name
                    yield item
            except (tarfile.TarError, OSError, EOFError) as exc:
                error = f"{shard.tar}: tar unreadable after {members} member(s) ({type(exc).__name__}: {exc})"
            yield {"type": "end", "shard": shard.name, "worker": worker, "workers": workers,
                   "members": members, "error": error, "started": started}  # fmt: skip


def keep_item(item: Any) -> Any:
    """DataLoader ``collate_fn``: keep items as they are (numpy arrays stay numpy)."""
    return item


# FFmpeg decoder threads per clip (0: FFmpeg's default, one per core); set by set_decode_threads.
DECODE_THREADS = 0


def set_decode_threads(threads: int) -> None:
    """Decoder threads of the clips decoded in this process from now on."""
    global DECODE_THREADS
    DECODE_THREADS = threads


def worker_init(_worker_id: int, threads: int = 1) -> None:
    """DataLoader ``worker_init_fn`` (bind ``threads`` with ``functools.partial``): the worker's
    share of the thread budget (``ThreadPlan.per_worker``) for its decoder and BLAS; torch and
    OpenMP stay at 1 (:func:`acav.core.threads.worker_threads`)."""
    set_decode_threads(threads)
    worker_threads(_worker_id, threads)
