"""Streaming driver: read ``metadata.tsv`` in chunks, filter them (in worker processes when asked),
and write kept lines, rejects and the report in input order.

Memory is bounded: lines are read with a size cap (longer lines are skipped over in pieces), a
chunk holds at most ``chunk_lines`` lines and ``_CHUNK_BYTES`` bytes, and at most two chunks per
worker are in flight. Results are consumed in submission order, so the outputs are the same bytes
for any number of workers.

Input is read as bytes and kept lines are written back unchanged, including a ``\\r\\n`` ending;
only a missing newline on the last line is added, so the output is always newline-terminated.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from acav.core.atomic import atomic_open, atomic_write_json, remove_stale_temps
from acav.core.config import config_to_dict
from acav.core.logs import get_logger, progress
from acav.core.threads import limit_threads
from acav.metadata_filtering.config import FilterConfig
from acav.metadata_filtering.inputs import open_input
from acav.metadata_filtering.records import Rejection, TooLongLine
from acav.metadata_filtering.report import FilterReport
from acav.metadata_filtering.rules import LineFilter

log = get_logger(__name__)

_CHUNK_BYTES = 16 * 1024 * 1024
_HEAD_BYTES = 4096  # kept of an over-long line: enough to read its id
_SKIP_BYTES = 1024 * 1024


def read_lines(handle: BinaryIO, max_line_bytes: int) -> Iterator[bytes | TooLongLine]:
    """Yield each line with its ending; a line whose content exceeds the cap becomes a
    :class:`TooLongLine` without ever being held whole in memory."""
    limit = max_line_bytes + 2  # room for "\r\n"
    while True:
        line = handle.readline(limit)
        if not line:
            return
        if line.endswith(b"\n"):
            if len(line.rstrip(b"\r\n")) <= max_line_bytes:
                yield line
            else:
                yield TooLongLine(line[:_HEAD_BYTES], len(line.rstrip(b"\r\n")), max_line_bytes)
            continue
        if len(line) < limit:  # last line, no newline
            if len(line.rstrip(b"\r")) <= max_line_bytes:
                yield line
            else:
                yield TooLongLine(line[:_HEAD_BYTES], len(line.rstrip(b"\r")), max_line_bytes)
            return
        head, size = line[:_HEAD_BYTES], len(line)
        while True:  # skip the rest of the line in bounded pieces
            piece = handle.readline(_SKIP_BYTES)
            if not piece:
                break
            size += len(piece)
            if piece.endswith(b"\n"):
                size -= 2 if piece.endswith(b"\r\n") else 1
                break
        yield TooLongLine(head, size, max_line_bytes)


def read_chunks(
    handle: BinaryIO | Iterator[bytes | Rejection], config: FilterConfig
) -> Iterator[tuple[int, list[bytes | TooLongLine]]]:
    """``(first line number, lines)`` chunks, line numbers starting at 1; ``handle`` is a TSV
    file or the converted rows of another format (:mod:`acav.metadata_filtering.inputs`)."""
    chunk: list[bytes | TooLongLine] = []
    size = 0
    start = 1
    lines = read_lines(handle, config.max_line_bytes) if hasattr(handle, "readline") else handle
    for line in lines:
        chunk.append(line)
        size += len(line) if isinstance(line, bytes) else _HEAD_BYTES
        if len(chunk) >= config.chunk_lines or size >= _CHUNK_BYTES:
            yield start, chunk
            start += len(chunk)
            chunk, size = [], 0
    if chunk:
        yield start, chunk


@dataclass
class ChunkResult:
    keep: bytes  # one byte per line: 1 kept, 0 rejected
    rejects: list[tuple[int, str, str]]  # (line number, id or "", reason)
    report: FilterReport


def filter_chunk(line_filter: LineFilter, start: int, lines: list[bytes | TooLongLine]) -> ChunkResult:
    report = FilterReport(list(line_filter.rule_names), each_rule=line_filter.config.report_each_rule)
    keep = bytearray(len(lines))
    rejects: list[tuple[int, str, str]] = []
    for offset, raw in enumerate(lines):
        result = line_filter.evaluate(raw)
        report.add(result)
        if result.reason is None:
            keep[offset] = 1
        else:
            rejects.append((start + offset, result.youtube_id, result.reason))
    return ChunkResult(bytes(keep), rejects, report)


# --- worker processes -------------------------------------------------------------------------
_WORKER_FILTER: LineFilter | None = None


def _init_worker(config: FilterConfig) -> None:
    global _WORKER_FILTER
    limit_threads(1)  # --workers N is N single-threaded filters (BLAS/OpenMP would start one per core)
    _WORKER_FILTER = LineFilter(config)


def _worker_chunk(start: int, lines: list[bytes | TooLongLine]) -> ChunkResult:
    assert _WORKER_FILTER is not None, "worker not initialised"
    return filter_chunk(_WORKER_FILTER, start, lines)


def _results(
    handle: BinaryIO, config: FilterConfig, line_filter: LineFilter
) -> Iterator[tuple[list[bytes | TooLongLine], ChunkResult]]:
    """Chunk results in input order, computed here or by ``config.workers`` processes in all.

    With N workers, N - 1 processes are started and this process filters every N-th chunk itself
    (with the filter it has already loaded), so the language model is loaded N times, not N + 1,
    and N processes share the cores.
    """
    chunks: Iterator[tuple[int, list[bytes | TooLongLine]]] = read_chunks(handle, config)
    head = list(itertools.islice(chunks, 2))
    chunks = itertools.chain(head, chunks)
    if config.workers <= 1 or len(head) < 2:  # one chunk: starting processes would only cost time
        for start, lines in chunks:
            yield lines, filter_chunk(line_filter, start, lines)
        return
    # spawn: no fork of a process holding threads (tqdm's monitor) or a loaded model.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=config.workers - 1, mp_context=context, initializer=_init_worker, initargs=(config,)
    ) as pool:
        pending: deque[tuple[list[bytes | TooLongLine], int, Future[ChunkResult] | None]] = deque()

        def done() -> tuple[list[bytes | TooLongLine], ChunkResult]:
            lines_done, start_done, future = pending.popleft()
            if future is None:  # this process's share, filtered while the workers run theirs
                return lines_done, filter_chunk(line_filter, start_done, lines_done)
            return lines_done, future.result()

        for number, (start, lines) in enumerate(chunks):
            local = number % config.workers == config.workers - 1
            pending.append((lines, start, None if local else pool.submit(_worker_chunk, start, lines)))
            if len(pending) >= 2 * config.workers:
                yield done()
        while pending:
            yield done()


def _clean_reason(reason: str) -> str:
    return reason.replace("\t", " ").replace("\r", " ").replace("\n", " ")


UTF8_BOM = b"\xef\xbb\xbf"


class _NullSink:
    def write(self, data: bytes) -> int:
        return len(data)


def filter_file(
    input_path: Path,
    kept_path: Path,
    rejects_path: Path,
    report_path: Path | None,
    config: FilterConfig,
    *,
    write_outputs: bool = True,
    line_filter: LineFilter | None = None,
) -> dict[str, Any]:
    """Filter ``input_path``; returns the report dict (also written to ``report_path``).

    ``line_filter`` (built from ``config`` when not given) filters in this process; worker
    processes always build their own from ``config``.
    """
    config.validate()
    if write_outputs and input_path.resolve() in (kept_path.resolve(), rejects_path.resolve()):
        raise ValueError(f"the output would overwrite the input {input_path}; choose another --output")
    started = time.perf_counter()
    # Built here even with workers, so a bad keyword list or model fails before any process starts.
    line_filter = line_filter or LineFilter(config)
    loop_started = time.perf_counter()
    report = FilterReport(list(line_filter.rule_names), each_rule=config.report_each_rule)
    if write_outputs:
        remove_stale_temps(kept_path.parent)  # e.g. filtered.tsv.tmp-* of a killed run (live ones stay)
    with open_input(input_path, config.input_format, config.columns, config.max_line_bytes) as handle:
        # A TSV handle (CSV/JSONL readers drop the BOM themselves): written by some editors/Excel.
        if hasattr(handle, "peek") and handle.peek(len(UTF8_BOM))[: len(UTF8_BOM)] == UTF8_BOM:
            handle.read(len(UTF8_BOM))
        if write_outputs:
            kept_cm: Any = atomic_open(kept_path, "wb")
            rejects_cm: Any = atomic_open(rejects_path, "wb")
        else:
            kept_cm = rejects_cm = contextlib.nullcontext(_NullSink())
        with (
            kept_cm as kept_out,
            rejects_cm as rejects_out,
            progress(desc="filter", unit=" lines", unit_scale=True) as bar,
        ):
            for lines, result in _results(handle, config, line_filter):
                for raw, keep in zip(lines, result.keep, strict=True):
                    if keep:
                        assert isinstance(raw, bytes)
                        kept_out.write(raw if raw.endswith(b"\n") else raw + b"\n")
                for number, youtube_id, reason in result.rejects:
                    row = f"{number}\t{youtube_id}\t{_clean_reason(reason)}\n"
                    rejects_out.write(row.encode("utf-8", "replace"))
                report.merge(result.report)
                bar.update(len(lines))
    finished = time.perf_counter()
    elapsed, loop_time = finished - started, finished - loop_started
    out = report.to_dict()
    out.update(
        {
            "input": str(input_path),
            "kept_file": str(kept_path) if write_outputs else None,
            "rejects_file": str(rejects_path) if write_outputs else None,
            "elapsed_s": round(elapsed, 3),
            # Throughput of the filtering itself (after loading models and keyword lists).
            "lines_per_s": round(report.total_lines / loop_time, 1) if loop_time > 0 else None,
            "workers": config.workers,
            "config": config_to_dict(config),
        }
    )
    if report_path is not None:
        atomic_write_json(report_path, out)
    log.info(
        "%s: %d lines, %d kept, %d rejected in %.1f s",
        input_path,
        report.total_lines,
        report.kept,
        report.rejected,
        elapsed,
    )
    return out


def derived_paths(output: Path) -> tuple[Path, Path]:
    """Rejects and report paths beside an output: ``x.tsv`` -> ``x.rejects.tsv``, ``x.report.json``."""
    stem = output.name[: -len(".tsv")] if output.name.endswith(".tsv") else output.name
    return output.with_name(f"{stem}.rejects.tsv"), output.with_name(f"{stem}.report.json")
