"""Run the stage: read the ids, skip what is done, fetch the rest in parallel, log every attempt.

Threads, not processes: a download waits on the network and on ffmpeg subprocesses, so the GIL is
not the bottleneck, and threads share the log writer and the progress bar cheaply.

With ``ACAV_ENGINE=ray`` each id to fetch becomes one Ray task (:func:`download_one`), retried by
Ray when its worker dies: the task runs the same attempts and returns the id's log records, and the
driver alone writes them and keeps the run-wide back-off (while paused it submits no new id).

Per id: ``{id}.mp4`` present -> skipped. Otherwise each attempt empties the id's private work
directory ``.{id}.part-dir/``, fetches into it, validates the file (video + audio, complete),
remuxes to mp4 if needed, and renames it to ``{id}.mp4``. Only that rename makes a video
"finished", so an interrupted run never leaves a partial file under the final name.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from acav.core.atomic import remove_stale_temps
from acav.core.layout import DataLayout, UnsafePathError
from acav.core.logs import get_logger, progress
from acav.core.runlock import AlreadyRunning  # noqa: F401  (re-exported: the CLI and tests catch it here)
from acav.core.runlock import directory_lock as core_directory_lock
from acav.engine import Engine, Resources, get_engine
from acav.video_download import log as dlog
from acav.video_download.errors import (
    INVALID_ID,
    OTHER,
    THROTTLING_HINT,
    UPDATE_HINT,
    Cancelled,
    DownloadFailure,
    SkipItem,
)
from acav.video_download.inputs import InputItem, count_lines, read_items
from acav.video_download.options import DownloadConfig
from acav.video_download.remux import remux_to_mp4
from acav.video_download.retry import RetryPolicy, RunThrottle, run_with_retries
from acav.video_download.validate import is_mp4_container, validate_video

logger = get_logger(__name__)

WORK_DIR_SUFFIX = ".part-dir"
SUMMARY_NAME = "download.summary.json"
LOG_NAME = "download.log.jsonl"
LOCK_NAME = ".download.lock"


class Fetcher(Protocol):
    name: str

    def fetch(self, item: InputItem, work_dir: Path) -> Path: ...


class AttemptLog(Protocol):
    def attempt(self, record: dict[str, Any], final: bool) -> None: ...


@dataclass
class Placed:
    size: int
    how: str  # downloaded | hard-linked | copied | remuxed (copy) | remuxed (reencode)
    duration: float
    width: int
    height: int


def directory_lock(directory: Path) -> contextlib.AbstractContextManager[None]:
    """One run per output directory: a second one would delete the first one's work directories."""
    return core_directory_lock(directory, "download", LOCK_NAME)


def clean_work_dirs(directory: Path) -> int:
    """Remove work directories and temp files an interrupted run left behind; returns how many."""
    removed = remove_stale_temps(directory)
    for entry in directory.iterdir():
        if entry.name.startswith(".") and entry.name.endswith(WORK_DIR_SUFFIX) and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed


def link_or_copy(src: Path, dst: Path) -> str:
    """Hard-link ``src`` to ``dst`` (no bytes copied); copy when linking is impossible.

    A symlinked ``src`` is resolved first: Linux ``link()`` links the symlink itself, which
    would leave ``{id}.mp4`` a link into the source directory (dangling when relative).
    """
    src = src.resolve()
    try:
        os.link(src, dst)
        return "hard-linked"
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES):
            raise
    shutil.copyfile(src, dst)
    return "copied"


def place_video(produced: Path, work_dir: Path, final: Path, max_duration: float | None) -> Placed:
    """Validate ``produced``, make it an mp4 if needed, and atomically rename it to ``final``."""
    info = validate_video(produced)
    if max_duration is not None and info.duration > max_duration + 1.0:
        raise SkipItem(dlog.FILTERED, f"duration {info.duration:.0f}s > --max-duration {max_duration:g}s")
    inside = produced.parent == work_dir
    if is_mp4_container(produced):
        out, how = produced, "downloaded" if inside else ""
    else:
        out = work_dir / "remuxed.mp4"
        how = f"remuxed from {produced.suffix.lstrip('.') or 'unknown'} ({remux_to_mp4(produced, out)})"
        info = validate_video(out)
    if out.parent != work_dir:  # a --source-dir file: never move the user's file, link or copy it
        staged = work_dir / "video.mp4"
        how = link_or_copy(out, staged)
        out = staged
    os.replace(out, final)
    return Placed(final.stat().st_size, how, info.duration, info.width, info.height)


class DownloadRunner:
    def __init__(
        self,
        config: DownloadConfig,
        input_path: Path,
        output_dir: Path,
        fetcher: Fetcher | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.config = config
        self.input_path = input_path
        self.output_dir = output_dir
        self.stop = threading.Event()
        self.policy = policy or RetryPolicy(config.retries, config.retry_base_delay, config.retry_max_delay)
        self._bytes = 0
        self._bytes_lock = threading.Lock()
        self._fetcher = fetcher
        self.throttle = RunThrottle(
            config.backoff_threshold,
            config.backoff_window,
            config.backoff_pause,
            config.backoff_max_pause,
            on_pause=self._on_pause,
        )

    @staticmethod
    def _on_pause(seconds: float, counts: dict[str, int]) -> None:
        refused = ", ".join(f"{count} {error_class}" for error_class, count in sorted(counts.items()))
        logger.warning(
            "YouTube is refusing downloads (%s among the last attempts): pausing all downloads for %.0f s. "
            "Remedies: %s. %s.",
            refused,
            seconds,
            THROTTLING_HINT,
            UPDATE_HINT,
        )

    # -- plumbing -------------------------------------------------------------------------------
    @property
    def log_path(self) -> Path:
        return self.output_dir / LOG_NAME

    @property
    def summary_path(self) -> Path:
        return self.output_dir / SUMMARY_NAME

    def _add_bytes(self, count: int) -> None:
        with self._bytes_lock:
            self._bytes += count

    def _make_fetcher(self) -> Fetcher:
        if self._fetcher is not None:
            return self._fetcher
        if self.config.source_dir is not None:
            from acav.video_download.local_source import LocalFetcher

            return LocalFetcher(Path(self.config.source_dir))
        from acav.video_download.ytdlp_backend import YtdlpFetcher

        return YtdlpFetcher(self.config, self.output_dir / ".ytdlp-cache", self.stop, self._add_bytes)

    # -- one id ---------------------------------------------------------------------------------
    def _paths(self, item: InputItem) -> tuple[Path, Path]:
        """``{id}.mp4`` and the id's work directory; UnsafePathError when either leads outside
        the output directory (a symlink someone left there)."""
        return (
            DataLayout.inside(self.output_dir, f"{item.id}.mp4"),
            DataLayout.inside(self.output_dir, f".{item.id}{WORK_DIR_SUFFIX}"),
        )

    def _process(self, item: InputItem, fetcher: Fetcher, log: AttemptLog) -> None:
        if self.stop.is_set():
            return  # queued before Ctrl-C, not started: no attempt, no record (the next run does it)
        final, work_dir = self._paths(item)  # checked by _log_without_download before submission
        started = [time.monotonic()]
        base = {"video_id": item.id, "url": item.url, "line": item.line, "source": fetcher.name}

        def attempt(number: int) -> Placed:
            self.throttle.wait(self.stop)  # a run-wide back-off pause, when YouTube refuses us
            started[0] = time.monotonic()
            shutil.rmtree(work_dir, ignore_errors=True)
            work_dir.mkdir()
            try:
                produced = fetcher.fetch(item, work_dir)
                return place_video(produced, work_dir, final, self.config.max_duration)
            finally:
                shutil.rmtree(work_dir, ignore_errors=True)

        def on_failure(number: int, failure: DownloadFailure, will_retry: bool) -> None:
            self.throttle.record(failure.error_class)
            message = failure.message + (" (will retry)" if will_retry else "")
            log.attempt(
                dlog.make_record(
                    **base,
                    status=dlog.FAILED,
                    attempt=number,
                    error_class=failure.error_class,
                    message=message,
                    seconds=time.monotonic() - started[0],
                ),
                final=not will_retry,
            )

        attempts = [0]

        def counted(number: int) -> Placed:
            attempts[0] = number
            return attempt(number)

        try:
            placed = run_with_retries(self.policy, counted, on_failure, self.stop)
        except SkipItem as skip:
            log.attempt(
                dlog.make_record(
                    **base,
                    status=dlog.SKIPPED,
                    attempt=attempts[0],
                    reason=skip.reason,
                    message=skip.message,
                    seconds=time.monotonic() - started[0],
                ),
                final=True,
            )
            return
        except Cancelled:
            log.attempt(
                dlog.make_record(
                    **base,
                    status=dlog.FAILED,
                    attempt=attempts[0],
                    error_class=OTHER,
                    message="interrupted: the run was stopped; re-run to resume",
                    seconds=time.monotonic() - started[0],
                ),
                final=True,
            )
            return
        except Exception as exc:  # a bug or a local I/O error must not end the whole run
            logger.exception("unexpected error for %s (line %d)", item.id, item.line)
            log.attempt(
                dlog.make_record(
                    **base,
                    status=dlog.FAILED,
                    attempt=attempts[0],
                    error_class=OTHER,
                    message=f"unexpected {type(exc).__name__}: {exc}",
                    seconds=time.monotonic() - started[0],
                ),
                final=True,
            )
            return
        if placed is None:
            return  # failures were logged by on_failure
        self.throttle.record(None)
        if fetcher.name == "local":
            self._add_bytes(placed.size)
        log.attempt(
            dlog.make_record(
                **base,
                status=dlog.OK,
                attempt=attempts[0],
                message=placed.how,
                size=placed.size,
                seconds=time.monotonic() - started[0],
                duration=round(placed.duration, 3),
                width=placed.width,
                height=placed.height,
            ),
            final=True,
        )

    # -- the run --------------------------------------------------------------------------------
    def run(self) -> dlog.Summary:
        if not self.input_path.is_file():
            raise FileNotFoundError(
                f"input list {self.input_path} not found; run stage 1 (acav filter) first or pass --input FILE"
            )
        self.output_dir.mkdir(parents=True, exist_ok=True)
        with directory_lock(self.output_dir):
            return self._run_locked()

    def _run_locked(self) -> dlog.Summary:
        cleaned = clean_work_dirs(self.output_dir)
        if cleaned:
            logger.info("removed %d unfinished work file(s) left by an interrupted run", cleaned)
        selected: set[str] | None = None
        if self.config.retry_failed:
            selected = dlog.failed_ids(self.log_path)
            logger.info("--retry-failed: %d id(s) whose last attempt failed", len(selected))
        fetcher = self._make_fetcher()
        summary = dlog.Summary(
            input=str(self.input_path),
            output_dir=str(self.output_dir),
            source=fetcher.name,
            mode="retry-failed" if selected is not None else "all",
            started=dlog.utc_now(),
        )
        total = len(selected) if selected is not None else count_lines(self.input_path)
        t0 = time.monotonic()
        engine = get_engine()
        log = dlog.DownloadLog(self.log_path)
        try:
            if engine.name == "local":  # this process's thread pool, as before the engine existed
                self._dispatch(fetcher, log, selected, total, t0)
            else:
                self._dispatch_engine(engine, fetcher, log, selected, total)
        except KeyboardInterrupt:
            summary.interrupted = True
            raise
        finally:
            close_fetcher = getattr(fetcher, "close", None)  # yt-dlp: the workers' reused objects
            if close_fetcher is not None:
                close_fetcher()
            log.close()
            summary.fill(log, time.monotonic() - t0)
            summary.pauses = self.throttle.pauses
            summary.paused_seconds = round(self.throttle.paused_seconds, 3)
            summary.write(self.summary_path)
        return summary

    def _dispatch(
        self, fetcher: Fetcher, log: dlog.DownloadLog, selected: set[str] | None, total: int, t0: float
    ) -> None:
        seen: dict[str, int] = {}
        # Bounded look-ahead: never more than a few pending ids per worker, whatever the input size.
        slots = threading.BoundedSemaphore(self.config.workers * 2)
        bar = progress(total=total, desc="download", unit="video")
        bar_lock = threading.Lock()

        def tick() -> None:
            with bar_lock:
                elapsed = max(1e-6, time.monotonic() - t0)
                with self._bytes_lock:
                    rate = self._bytes / elapsed / 1e6
                # One overall bar; the postfix says how it is going (order kept: a dict, not kwargs).
                bar.set_postfix(
                    {
                        "ok": log.final_status.get(dlog.OK, 0),
                        "failed": log.final_status.get(dlog.FAILED, 0),
                        "skipped": log.final_status.get(dlog.SKIPPED, 0),
                        "MB/s": f"{rate:.2f}",
                    },
                    refresh=False,
                )
                bar.update(1)

        def done(future: Future[None]) -> None:
            slots.release()
            if not future.cancelled():
                tick()

        def feed() -> None:
            """Read the input and hand ids to the workers (runs in its own thread, see below)."""
            executor = ThreadPoolExecutor(max_workers=self.config.workers, thread_name_prefix="acav-dl")
            try:
                for item in read_items(self.input_path, self.config.allow_file_urls):
                    if self.stop.is_set():
                        break
                    if selected is not None and item.id not in selected:
                        continue
                    if self._log_without_download(item, fetcher.name, seen, log):
                        tick()
                        continue
                    while not slots.acquire(timeout=0.5):
                        if self.stop.is_set():
                            break
                    else:
                        executor.submit(self._process, item, fetcher, log).add_done_callback(done)
            finally:
                # Normal end: wait for the workers. Stop: drop the queued ids; the running workers
                # see the stop event, log their item and remove their work directories.
                executor.shutdown(wait=True, cancel_futures=self.stop.is_set())

        # The feeding runs in a helper thread and the main thread only waits. Ctrl-C (raised in
        # the main thread, at any instruction) then can never land between handing an id to a
        # worker and tracking it: it only sets the stop event and waits for a clean end.
        failure: list[BaseException] = []
        started, finished = threading.Event(), threading.Event()

        def feed_thread() -> None:
            started.set()
            try:
                if not self.stop.is_set():
                    feed()
            except BaseException as exc:
                failure.append(exc)
                self.stop.set()
            finally:
                finished.set()

        feeder = threading.Thread(target=feed_thread, name="acav-dl-feed", daemon=True)
        try:
            feeder.start()  # inside the try: the first worker may already be running when it returns
            while not finished.wait(0.5):
                pass
        except KeyboardInterrupt:
            self.stop.set()
            while started.is_set() and not finished.wait(0.5):
                pass
            raise
        finally:
            bar.close()
        if failure:
            raise failure[0]

    def _dispatch_engine(
        self, engine: Engine, fetcher: Fetcher, log: dlog.DownloadLog, selected: set[str] | None, total: int
    ) -> None:
        """One engine task per id to fetch; the driver writes every record and decides the pauses."""
        seen: dict[str, int] = {}
        bar = progress(total=total, desc=f"download ({engine.describe()})", unit="video")

        def jobs() -> Iterator[DownloadJob]:
            for item in read_items(self.input_path, self.config.allow_file_urls):
                if selected is not None and item.id not in selected:
                    continue
                if self._log_without_download(item, fetcher.name, seen, log):
                    bar.update(1)
                    continue
                self.throttle.wait(self.stop)  # a run-wide back-off pause: submit nothing new meanwhile
                yield DownloadJob(self.config, self.output_dir, item, self._fetcher, self.policy)

        try:
            outcomes = engine.map(
                download_one, jobs(), workers=self.config.workers, resources=Resources(cpus=1)
            )
            for outcome in outcomes:
                records = outcome.value if outcome.ok and outcome.value is not None else []
                if not outcome.ok:  # its worker died for good (retries used up): one final record
                    item = outcome.item.item
                    base = {"video_id": item.id, "url": item.url, "line": item.line, "source": fetcher.name}
                    message = f"worker died: {outcome.error}; re-run to resume"
                    records = [
                        (
                            dlog.make_record(**base, status=dlog.FAILED, error_class=OTHER, message=message),
                            True,
                        )
                    ]
                for record, final in records:
                    if record["status"] == dlog.FAILED:
                        self.throttle.record(record.get("error_class") or OTHER)
                    elif record["status"] == dlog.OK:
                        self.throttle.record(None)
                    log.attempt(record, final=final)
                bar.update(1)
        finally:
            bar.close()

    def _log_without_download(
        self, item: InputItem, source: str, seen: dict[str, int], log: dlog.DownloadLog
    ) -> bool:
        """Log invalid lines, duplicates and finished ids right away; True when nothing is to fetch."""
        base = {"video_id": item.id, "url": item.url, "line": item.line, "source": source}
        if not item.valid:
            log.attempt(
                dlog.make_record(
                    **base,
                    status=dlog.FAILED,
                    error_class=item.error_class or INVALID_ID,
                    message=item.message or "",
                ),
                final=True,
            )
            return True
        if item.id in seen:
            log.attempt(
                dlog.make_record(
                    **base,
                    status=dlog.SKIPPED,
                    reason=dlog.DUPLICATE,
                    message=f"duplicate of line {seen[item.id]}; downloaded once",
                ),
                final=True,
            )
            return True
        seen[item.id] = item.line
        try:
            final, _ = self._paths(item)
        except UnsafePathError as exc:
            log.attempt(
                dlog.make_record(
                    **base,
                    status=dlog.FAILED,
                    error_class=OTHER,
                    message=f"{exc} (a symlink there?); remove it and re-run",
                ),
                final=True,
            )
            return True
        if final.is_file():
            log.attempt(
                dlog.make_record(
                    **base,
                    status=dlog.SKIPPED,
                    reason=dlog.ALREADY_PRESENT,
                    message=f"{final.name} already present",
                    size=final.stat().st_size,
                ),
                final=True,
            )
            return True
        return False


@dataclass
class DownloadJob:
    """One id for an engine task: everything a worker needs to fetch it like the driver would."""

    config: DownloadConfig
    output_dir: Path
    item: InputItem
    fetcher: Fetcher | None = None
    policy: RetryPolicy | None = None


class RecordedLog:
    """A worker's stand-in for the log: keeps the id's records (and their ``final`` flags) for the
    driver, which alone writes ``download.log.jsonl``."""

    def __init__(self) -> None:
        self.records: list[tuple[dict[str, Any], bool]] = []

    def attempt(self, record: dict[str, Any], final: bool) -> None:
        self.records.append((record, final))


def download_one(job: DownloadJob) -> list[tuple[dict[str, Any], bool]]:
    """Fetch one id (the same attempts, retries and placement as the local run); returns its records.

    The worker has no run-wide back-off of its own (threshold 0): the driver keeps it from the
    records of every id and stops submitting ids while it pauses."""
    config = dataclasses.replace(job.config, backoff_threshold=0)
    runner = DownloadRunner(config, Path(os.devnull), job.output_dir, job.fetcher, job.policy)
    log = RecordedLog()
    runner._process(job.item, runner._make_fetcher(), log)
    return log.records
