"""Hostile or unusual inputs: huge --shards patterns, a UTF-8 BOM in metadata.tsv, unusable
paths and values that must end with one clear line and a non-zero exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from braceexpand import braceexpand
from rel_helpers import acav, env, metadata_line

from acav.core.patterns import iter_braces


@pytest.mark.parametrize(
    "pattern",
    ["shard-{000000..000012}", "shard-{000001,000007}", "a{1..3}b{x,y}", "s-{0..10..3}", "x{a..e}", "n{10..1}",
     "{a,b{1..2}}c", "plain", "lit{x}y", "shard-{0..12}", "x{-3..2}", "x{005..12}", "{00..3}"],
)  # fmt: skip
def test_streaming_expansion_equals_braceexpand(pattern: str) -> None:
    assert list(iter_braces(pattern)) == list(braceexpand(pattern))


def test_huge_shard_pattern_is_refused_fast_and_small(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    for i in range(2):
        (videos / f"shard-{i:06d}.tar").write_bytes(b"")
    code = (
        "import resource, sys, time\n"
        "from pathlib import Path\n"
        "from acav.feature_extraction.runner import resolve_shards\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "start = time.process_time()\n"
        "try:\n"
        "    resolve_shards(Path(sys.argv[1]), ['shard-{000000..99999999}'])\n"
        "    print('accepted')\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base, time.process_time() - start)\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, str(videos)], capture_output=True, text=True, timeout=60, env=env()
        )
    except subprocess.TimeoutExpired:
        pytest.fail("expanding shard-{000000..99999999} took more than 60 s")
    message, numbers = done.stdout.strip().splitlines()
    grown_kib, seconds = numbers.split()
    assert message.startswith("ConfigError") and "at least 1000 shard(s) not found" in message
    assert int(grown_kib) < 50_000 and float(seconds) < 5


def test_bom_at_the_start_of_metadata_is_stripped(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    lines = [metadata_line("abcDEF12345"), metadata_line("bcdEFG23456")]
    (data / "metadata.tsv").write_bytes(b"\xef\xbb\xbf" + b"".join(lines))
    done = acav("filter", "--data-dir", str(data), "-q")
    assert done.returncode == 0, done.stderr[-2000:]
    assert (data / "filtered.tsv").read_bytes() == b"".join(lines)
    assert (data / "filtered.rejects.tsv").read_bytes() == b""
