"""Helpers for the download tests: input files, log reading, and a loopback HTTP server (127.0.0.1,
port chosen by the OS) serving scripted responses to yt-dlp.

Each path has a list of behaviours consumed one per GET; the last one repeats. Hits are counted
per path, so tests can prove what was (not) downloaded again.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acav.core.records import read_jsonl


@dataclass
class Serve:
    """200 with ``data``; optionally stall after ``stall_after`` bytes for ``stall_s`` seconds,
    trickle the body in ``chunk``-byte pieces every ``chunk_delay_s`` seconds, or drop the
    connection after ``drop_after`` bytes."""

    data: bytes
    content_type: str = "video/mp4"
    stall_after: int | None = None
    stall_s: float = 0.0
    chunk: int | None = None
    chunk_delay_s: float = 0.0
    drop_after: int | None = None  # close the connection after this many bytes


@dataclass
class Status:
    code: int


class LoopbackServer:
    def __init__(self) -> None:
        self.routes: dict[str, list[Serve | Status]] = {}
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                behaviour = owner._next(self.path)
                if behaviour is None or isinstance(behaviour, Status):
                    code = 404 if behaviour is None else behaviour.code
                    body = b"error"
                    self.send_response(code)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                data = behaviour.data
                self.send_response(200)
                self.send_header("Content-Type", behaviour.content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    if behaviour.drop_after is not None:
                        self.wfile.write(data[: behaviour.drop_after])
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                    elif behaviour.stall_after is not None:
                        self.wfile.write(data[: behaviour.stall_after])
                        self.wfile.flush()
                        time.sleep(behaviour.stall_s)
                        self.wfile.write(data[behaviour.stall_after :])
                    elif behaviour.chunk:
                        for start in range(0, len(data), behaviour.chunk):
                            self.wfile.write(data[start : start + behaviour.chunk])
                            self.wfile.flush()
                            time.sleep(behaviour.chunk_delay_s)
                    else:
                        self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout, cancel): expected in these tests

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # clients that time out or cancel reset the connection: expected here

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _next(self, path: str) -> Serve | Status | None:
        with self._lock:
            self.hits[path] += 1
            queue = self.routes.get(path)
            if not queue:
                return None
            return queue.pop(0) if len(queue) > 1 else queue[0]

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def route(self, video_id: str, *behaviours: Serve | Status) -> str:
        """Serve ``behaviours`` at ``/v/{video_id}``; returns the URL (its last 11 chars are the id)."""
        path = f"/v/{video_id}"
        with self._lock:
            self.routes[path] = list(behaviours)
        return self.base + path

    def hits_for(self, video_id: str) -> int:
        return self.hits[f"/v/{video_id}"]

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def write_input(path: Path, lines: list[str | bytes]) -> Path:
    """A filtered.tsv: each entry is the first field (str) or a whole raw line (bytes)."""
    meta = json.dumps({"LatestDAFeature": {"Title": "t"}}).encode()
    with open(path, "wb") as handle:
        for line in lines:
            handle.write(
                line + b"\n" if isinstance(line, bytes) else line.encode("utf-8") + b"\t" + meta + b"\n"
            )
    return path


def records(output_dir: Path) -> list[dict[str, Any]]:
    return list(read_jsonl(output_dir / "download.log.jsonl"))


def by_id(output_dir: Path) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for record in records(output_dir):
        out.setdefault(record["id"], []).append(record)
    return out
