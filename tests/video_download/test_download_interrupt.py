"""A real interrupted run (Ctrl-C on the CLI in a subprocess) resumes without re-downloading."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from vd_helpers import LoopbackServer, Serve, by_id, records, write_input

REPO = Path(__file__).resolve().parents[2]


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the download subprocess")
        time.sleep(0.05)


def test_interrupted_run_resumes_without_refetching(
    media, run_stage, tmp_path, out_dir, ctrl_c_handled
) -> None:
    data = media("ok").read_bytes()
    with LoopbackServer() as server:
        first = server.route("firstvideo1", Serve(data))
        second = server.route("secondvideo", Serve(data))
        # The third video trickles in during the first run (both of its GETs), then comes fast.
        trickle = Serve(data, chunk=200, chunk_delay_s=0.1)
        slow = server.route("slowvideo01", trickle, trickle, Serve(data))
        input_path = write_input(tmp_path / "filtered.tsv", [first, second, slow])
        env = dict(os.environ, ACAV_PROGRESS="0", PYTHONPATH=str(REPO))
        cmd = [
            sys.executable,
            "-m",
            "acav",
            "download",
            "--input",
            str(input_path),
            "--output-dir",
            str(out_dir),
        ]
        cmd += ["--workers", "1", "--socket-timeout", "10", "--retries", "0"]
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=ctrl_c_handled
        )
        try:
            work = out_dir / ".slowvideo01.part-dir"
            wait_for(lambda: any(p.suffix == ".part" for p in work.glob("*")) if work.is_dir() else False)
            assert (out_dir / "firstvideo1.mp4").is_file() and (out_dir / "secondvideo.mp4").is_file()
            proc.send_signal(signal.SIGINT)
            _, stderr = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 130, stderr.decode()[-2000:]
        assert not (out_dir / "slowvideo01.mp4").exists(), stderr.decode()[-3000:]
        assert not work.exists(), (list(work.iterdir()), stderr.decode()[-3000:], records(out_dir))
        summary = json.loads((out_dir / "download.summary.json").read_text())
        assert summary["interrupted"] is True and summary["status"]["ok"] == 2
        interrupted = by_id(out_dir)["slowvideo01"]
        assert [(r["status"], r["error_class"]) for r in interrupted] == [("failed", "other")]
        assert "interrupted" in interrupted[0]["message"]
        hits_before = {vid: server.hits_for(vid) for vid in ("firstvideo1", "secondvideo")}
        count_before = len(records(out_dir))

        resumed = run_stage()
        assert {vid: server.hits_for(vid) for vid in hits_before} == hits_before  # nothing fetched again
        assert (out_dir / "slowvideo01.mp4").read_bytes() == data
        assert resumed.status == {"ok": 1, "skipped": 2, "failed": 0}
        new = {r["id"]: (r["status"], r["reason"]) for r in records(out_dir)[count_before:]}
        assert new == {
            "firstvideo1": ("skipped", "already present"),
            "secondvideo": ("skipped", "already present"),
            "slowvideo01": ("ok", None),
        }
