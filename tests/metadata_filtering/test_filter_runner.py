"""The streaming driver: outputs byte for byte, counts, report numbers, workers, bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from mf_helpers import make_line

from acav.metadata_filtering import runner
from acav.metadata_filtering.config import FilterConfig
from acav.metadata_filtering.records import TooLongLine
from acav.metadata_filtering.rules import LineFilter
from acav.metadata_filtering.runner import derived_paths, filter_file, read_chunks, read_lines

KEEP_A = make_line("keepAAAAAAA")
KEEP_B = make_line("keepBBBBBBB", title="Thunderstorm over the harbour", category="Music")
SHORT = make_line("shortAAAAAA", length="20")
GAMING = make_line("gamingAAAAA", category="Gaming")
ARTIST = make_line("artistAAAAA", category="Music", title="Beyonce song played by a street band")
GAME_KW = make_line("keywordAAAA", title="Minecraft music on the radio in the car")
TUTORIAL = make_line("tutorialAAA", title="Audacity tutorial: record rain on a tin roof")
ITALIAN = make_line(
    "italianAAAA", title="Una passeggiata a Roma", description="Abbiamo camminato per il centro storico."
)
MIXED = make_line("mixedAAAAAA", length="10", category="Gaming", title="Minecraft tutorial at the lake")


def run(
    tmp_path: Path, data: bytes, line_filter: LineFilter | None = None, **options
) -> tuple[bytes, str, dict]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    source = tmp_path / "metadata.tsv"
    source.write_bytes(data)
    kept = tmp_path / "filtered.tsv"
    rejects, report_path = derived_paths(kept)
    config = FilterConfig(**options)
    report = filter_file(source, kept, rejects, report_path, config, line_filter=line_filter)
    assert json.loads(report_path.read_text(encoding="utf-8")) == report
    return kept.read_bytes(), rejects.read_text(encoding="utf-8"), report


def test_kept_lines_are_byte_identical_in_order_and_rejects_name_the_rule(
    tmp_path: Path, line_filter
) -> None:
    data = KEEP_A + SHORT + GAMING + ARTIST + KEEP_B + GAME_KW + TUTORIAL + ITALIAN
    kept, rejects, report = run(tmp_path, data, line_filter)
    assert kept == KEEP_A + KEEP_B
    assert rejects.splitlines() == [
        "2\tshortAAAAAA\tduration: 19.0 s < 30 s",
        "3\tgamingAAAAA\tcategory: Gaming",
        "4\tartistAAAAA\tmusic_artist: beyonce",
        "6\tkeywordAAAA\tkeyword: minecraft (games)",
        "7\ttutorialAAA\ttutorial: audacity tutorial",
        "8\titalianAAAA\tlanguage: it (not in en,es,pt,ru,ja,fr,de,ko)",
    ]
    assert (report["total_lines"], report["kept"], report["rejected"]) == (8, 2, 6)


def test_report_counts_alone_and_in_sequence(tmp_path: Path, line_filter) -> None:
    # MIXED is rejected by duration in sequence, and alone by duration, category, keywords, tutorial.
    data = KEEP_A + MIXED + GAMING + GAME_KW + b"\n" + b"garbage line\n" + TUTORIAL
    _, rejects, report = run(tmp_path, data, line_filter)
    rules = {r["rule"]: (r["alone"], r["in_sequence"], r["remaining_after"]) for r in report["rules"]}
    assert rules == {
        "duration": (1, 1, 4),
        "language": (0, 0, 4),
        "category": (2, 1, 3),
        "music_artist": (0, 0, 3),
        "keywords": (2, 1, 2),
        "tutorial": (2, 1, 1),
    }
    assert report["rejected_before_rules"] == {"empty line": 1, "parse": 1}
    assert (report["total_lines"], report["parseable_lines"], report["kept"], report["rejected"]) == (
        7,
        5,
        1,
        6,
    )
    assert len(rejects.splitlines()) == report["rejected"]


def test_report_without_each_rule_has_no_alone_counts_but_same_outputs(tmp_path: Path) -> None:
    data = KEEP_A + MIXED + GAMING + GAME_KW + TUTORIAL + ITALIAN
    full = run(tmp_path / "a", data)
    fast = run(tmp_path / "b", data, report_each_rule=False)
    assert full[:2] == fast[:2]
    assert [r["alone"] for r in fast[2]["rules"]] == [None] * 6
    assert [r["in_sequence"] for r in fast[2]["rules"]] == [r["in_sequence"] for r in full[2]["rules"]]


def test_bad_input_never_crashes_and_every_line_is_accounted_for(tmp_path: Path, line_filter) -> None:
    lines = [
        KEEP_A,
        b"\n",
        b"no tab in this line\n",
        b"abcDEF12345\t{broken\n",
        b"abcDEF12345\t[1]\n",
        b'abcDEF12345\t{"MediaVersionList": 7, "LatestDAFeature": {"VideoLength": "abc"}}\n',
        b'abcDEF12345\t{"LatestDAFeature": {"Title": "\xff\xfe"}}\n',
        b"tooshort\t{}\n",
        b"abcDEF12345\t" + b'{"LatestDAFeature": {"Title": "' + b"x" * 5000 + b'"}}\n',
        b'abcDEF12345\t{"LatestDAFeature": {"Title": "", "Description": "", "VideoLength": "100"}}\n',
        b"\x00\x01\x02\n",
        KEEP_B.rstrip(b"\n"),  # last line without a newline
    ]
    kept, rejects, report = run(tmp_path, b"".join(lines), line_filter, max_line_bytes=4096)
    assert kept == KEEP_A + KEEP_B  # newline added to the last line
    reasons = [row.split("\t") for row in rejects.splitlines()]
    assert [r[0] for r in reasons] == [str(n) for n in range(2, 12)]
    assert [r[2] for r in reasons] == [
        "empty line",
        "parse: no TAB between the id and the JSON",
        "parse: invalid JSON (Expecting property name enclosed in double quotes at char 1)",
        "parse: JSON is list, expected an object",
        "duration: 0.0 s < 30 s (no usable duration: VideoLength 'abc', MediaVersionList is int)",
        "parse: not UTF-8 (byte 0xff at JSON offset 31)",
        "id: 'tooshort' is not an 11-character YouTube id ([A-Za-z0-9_-])",
        "line too long: 5046 bytes > 4096",
        "language: empty text (no title or description)",
        "parse: no TAB between the id and the JSON",
    ]
    assert reasons[7][1] == "abcDEF12345"  # the id of an over-long line is still reported
    assert report["kept"] + report["rejected"] == report["total_lines"] == len(lines)


def test_crlf_lines_are_kept_as_given(tmp_path: Path, line_filter) -> None:
    data = KEEP_A.replace(b"\n", b"\r\n") + SHORT.replace(b"\n", b"\r\n") + KEEP_B
    kept, rejects, _ = run(tmp_path, data, line_filter)
    assert kept == KEEP_A.replace(b"\n", b"\r\n") + KEEP_B
    assert rejects == "2\tshortAAAAAA\tduration: 19.0 s < 30 s\n"


def test_empty_input(tmp_path: Path, line_filter) -> None:
    kept, rejects, report = run(tmp_path, b"", line_filter)
    assert (kept, rejects, report["total_lines"], report["kept"]) == (b"", "", 0, 0)


def test_read_lines_caps_long_lines_without_reading_them_whole() -> None:
    data = b"a" * 10 + b"\n" + b"b" * 11 + b"\n" + b"c" * 10 + b"\r\n" + b"d" * 3000 + b"\r\n" + b"e" * 12
    got = list(read_lines(io.BytesIO(data), max_line_bytes=10))
    assert got[0] == b"a" * 10 + b"\n"
    assert got[1] == TooLongLine(b"b" * 11 + b"\n", 11, 10)
    assert got[2] == b"c" * 10 + b"\r\n"
    assert isinstance(got[3], TooLongLine) and got[3].size == 3000 and len(got[3].head) <= 4096
    assert got[4] == TooLongLine(b"e" * 12, 12, 10)
    assert len(got) == 5


def test_chunks_number_lines_from_one() -> None:
    data = b"".join(b"%d\n" % i for i in range(7))
    chunks = list(read_chunks(io.BytesIO(data), FilterConfig(chunk_lines=3)))
    assert [(start, len(lines)) for start, lines in chunks] == [(1, 3), (4, 3), (7, 1)]


def test_same_input_same_bytes_for_any_workers_and_chunking(
    tmp_path: Path, line_filter, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [KEEP_A, SHORT, GAMING, ARTIST, KEEP_B, GAME_KW, TUTORIAL, ITALIAN, MIXED, b"bad\n", b"\n"]
    data = b"".join(lines[i % len(lines)] for i in range(300))
    one = run(tmp_path / "one", data, line_filter, chunk_lines=7)
    again = run(tmp_path / "again", data, line_filter, chunk_lines=50)
    started: list[int] = []
    real_pool = runner.ProcessPoolExecutor

    def pool(*args, max_workers: int, **kwargs):
        started.append(max_workers)
        return real_pool(*args, max_workers=max_workers, **kwargs)

    monkeypatch.setattr(runner, "ProcessPoolExecutor", pool)
    two = run(tmp_path / "two", data, workers=2, chunk_lines=7)
    assert started == [1]  # 2 workers = this process (its filter already loaded) + 1 more process
    assert one[0] == again[0] == two[0]
    assert one[1] == again[1] == two[1]
    strip = ("elapsed_s", "lines_per_s", "workers", "config", "input", "kept_file", "rejects_file")
    assert {k: v for k, v in one[2].items() if k not in strip} == {
        k: v for k, v in two[2].items() if k not in strip
    }
    assert one[2]["total_lines"] == 300


def test_refuses_to_overwrite_the_input(tmp_path: Path, line_filter) -> None:
    source = tmp_path / "metadata.tsv"
    source.write_bytes(KEEP_A)
    with pytest.raises(ValueError, match="overwrite the input"):
        filter_file(source, source, tmp_path / "r.tsv", None, FilterConfig(), line_filter=line_filter)
    assert source.read_bytes() == KEEP_A


def test_derived_paths() -> None:
    assert derived_paths(Path("d/filtered.tsv")) == (
        Path("d/filtered.rejects.tsv"),
        Path("d/filtered.report.json"),
    )
    assert derived_paths(Path("d/out")) == (Path("d/out.rejects.tsv"), Path("d/out.report.json"))


def test_a_single_chunk_is_filtered_without_starting_workers(
    tmp_path: Path, line_filter, monkeypatch: pytest.MonkeyPatch
) -> None:
    import acav.metadata_filtering.runner as runner

    def no_pool(*args, **kwargs):
        raise AssertionError("worker processes started for a one-chunk input")

    monkeypatch.setattr(runner, "ProcessPoolExecutor", no_pool)
    kept, rejects, _ = run(tmp_path, KEEP_A + SHORT, line_filter, workers=4)
    assert kept == KEEP_A and rejects == "2\tshortAAAAAA\tduration: 19.0 s < 30 s\n"
    with pytest.raises(AssertionError, match="worker processes started"):
        run(tmp_path / "two", KEEP_A + SHORT, line_filter, workers=4, chunk_lines=1)
