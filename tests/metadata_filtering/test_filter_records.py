"""Parsing of metadata lines: every malformed input becomes a rejection with a clear reason."""

from __future__ import annotations

import json

import pytest
from mf_helpers import make_line

from acav.metadata_filtering.records import (
    MetadataRecord,
    Rejection,
    TooLongLine,
    id_of_long_line,
    parse_line,
)


def test_good_line_fields() -> None:
    record = parse_line(make_line(title="T", description="D", category=" Music ", length="120"))
    assert isinstance(record, MetadataRecord)
    assert (record.youtube_id, record.title, record.description, record.category) == (
        "abcDEF12345",
        "T",
        "D",
        "Music",
    )
    assert record.duration == 119.0 and record.duration_note == ""


def test_url_first_field_gives_the_id() -> None:
    line = make_line().replace(b"abcDEF12345", b"https://www.youtube.com/watch?v=NgI3xyMX1Ss")
    record = parse_line(line)
    assert isinstance(record, MetadataRecord) and record.youtube_id == "NgI3xyMX1Ss"


@pytest.mark.parametrize(
    ("length", "duration", "expected"),
    [
        ("120", "500", 119.0),  # VideoLength wins, minus one
        (120, None, 119.0),  # a JSON number is fine too
        (" 45.5 ", None, 44.5),
        (..., "300", 300.0),  # missing VideoLength: MediaVersionList[0].Duration, no minus one
        (None, "300", 300.0),
        ("abc", "300", 300.0),
        ("nan", "61.5", 61.5),
        (True, "300", 300.0),  # a bool is not a number of seconds
        (10**400, "300", 300.0),  # too large for a float
        ("1e999", "300", 300.0),  # infinite
    ],
)
def test_duration_fallbacks(length, duration, expected) -> None:
    record = parse_line(make_line(length=length, duration=duration))
    assert isinstance(record, MetadataRecord)
    assert record.duration == expected


@pytest.mark.parametrize(
    ("length", "versions", "note_part"),
    [
        (..., ..., "MediaVersionList is null"),
        ("abc", {"MediaVersionList": "not a list"}, "MediaVersionList is str"),
        ("abc", [], "MediaVersionList empty"),
        ("abc", [{"Duration": "x"}], "MediaVersionList[0].Duration 'x'"),
        ("abc", [{"Duration": None}], "MediaVersionList[0].Duration None"),
        ("", [5], "MediaVersionList empty or without an object"),
    ],
)
def test_no_usable_duration_is_zero_with_a_note(length, versions, note_part) -> None:
    if versions is ...:
        line = make_line(length=length)
    elif isinstance(versions, dict):
        line = make_line(length=length, extra=versions)
    else:
        line = make_line(length=length, duration=versions)
    record = parse_line(line)
    assert isinstance(record, MetadataRecord)
    assert record.duration == 0.0
    assert record.duration_note.startswith("no usable duration: VideoLength")
    assert note_part in record.duration_note


def test_missing_and_null_texts_are_empty() -> None:
    record = parse_line(make_line(title=None, description=..., category=None))
    assert isinstance(record, MetadataRecord)
    assert (record.title, record.description, record.category) == ("", "", "")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\n", "empty line"),
        (b"   \t \r\n", "empty line"),
        (b"abcDEF12345 no tab here\n", "parse: no TAB between the id and the JSON"),
        (
            b"abcDEF12345\t{not json\n",
            "parse: invalid JSON (Expecting property name enclosed in double quotes at char 1)",
        ),
        (b"abcDEF12345\t\n", "parse: invalid JSON (Expecting value at char 0)"),
        (b"abcDEF12345\t[1, 2]\n", "parse: JSON is list, expected an object"),
        (b"abcDEF12345\tnull\n", "parse: JSON is null, expected an object"),
        (b'abcDEF12345\t"text"\n', "parse: JSON is str, expected an object"),
        (b"abcDEF12345\t{}\n", "parse: LatestDAFeature is missing"),
        (b'abcDEF12345\t{"LatestDAFeature": [1]}\n', "parse: LatestDAFeature is list, expected an object"),
        (b'abcDEF12345\t{"LatestDAFeature": {"Title": 5}}\n', "parse: Title is int, expected a string"),
        (
            b'abcDEF12345\t{"LatestDAFeature": {"Description": ["a"]}}\n',
            "parse: Description is list, expected a string",
        ),
        (
            b'abcDEF12345\t{"LatestDAFeature": {"YouTubeCategory": {}}}\n',
            "parse: YouTubeCategory is dict, expected a string",
        ),
        (b"abcDEF12345\t" + b"[" * 100_000 + b"\n", "parse: invalid JSON (nested too deep)"),
    ],
)
def test_malformed_lines(raw: bytes, reason: str) -> None:
    result = parse_line(raw)
    assert isinstance(result, Rejection)
    assert result.reason == reason
    # The id is reported whenever the first field could be read.
    has_id = reason != "empty line" and b"\t" in raw.rstrip(b"\r\n")
    assert result.youtube_id == ("abcDEF12345" if has_id else "")


def test_integer_over_the_digit_limit_is_a_parse_error() -> None:
    raw = b'abcDEF12345\t{"LatestDAFeature": {"VideoLength": ' + b"9" * 5000 + b"}}\n"
    result = parse_line(raw)
    assert isinstance(result, Rejection)
    assert result.reason.startswith("parse: invalid JSON (Exceeds the limit (4300 digits)")


def test_non_utf8_json_names_the_byte() -> None:
    raw = b'abcDEF12345\t{"LatestDAFeature": {"Title": "caf\xe9"}}\n'
    result = parse_line(raw)
    assert isinstance(result, Rejection)
    assert result.reason == "parse: not UTF-8 (byte 0xe9 at JSON offset 34)"
    assert result.youtube_id == "abcDEF12345"


@pytest.mark.parametrize(
    ("first", "reason"),
    [
        (b"short", "id: 'short' is not an 11-character YouTube id ([A-Za-z0-9_-])"),
        (b"abcDEF123456", "id: 'abcDEF123456' is not an 11-character YouTube id ([A-Za-z0-9_-])"),
        (b"../../etc/pa", "id: '../../etc/pa' is not an 11-character YouTube id ([A-Za-z0-9_-])"),
        (b"abc DEF1234", "id: 'abc DEF1234' is not an 11-character YouTube id ([A-Za-z0-9_-])"),
        (b"", "id: '' is not an 11-character YouTube id ([A-Za-z0-9_-])"),
        (b"abcDEF1234\xff", "id: not UTF-8"),
        (
            b"https://youtu.be/NgI3xyMX1Ss?t=5",
            "id: 'https://youtu.be/NgI3xyMX1Ss?t=5' is not an 11-character YouTube id ([A-Za-z0-9_-])",
        ),
    ],
)
def test_bad_ids(first: bytes, reason: str) -> None:
    raw = first + b"\t" + json.dumps({"LatestDAFeature": {}}).encode() + b"\n"
    result = parse_line(raw)
    assert isinstance(result, Rejection)
    assert result.reason == reason
    assert result.youtube_id == ""


def test_lone_surrogates_are_replaced_not_fatal() -> None:
    raw = b'abcDEF12345\t{"LatestDAFeature": {"Title": "bad \\ud800 surrogate", "VideoLength": "100"}}\n'
    record = parse_line(raw)
    assert isinstance(record, MetadataRecord)
    record.title.encode("utf-8")  # must not raise
    assert record.title == "bad ? surrogate"


def test_raw_control_characters_inside_strings_are_accepted() -> None:
    raw = b'abcDEF12345\t{"LatestDAFeature": {"Title": "tab\there", "VideoLength": "100"}}\n'
    record = parse_line(raw)
    assert isinstance(record, MetadataRecord) and record.title == "tab\there"


def test_id_of_long_line() -> None:
    assert id_of_long_line(TooLongLine(b"abcDEF12345\t{...", 5_000_000, 1000)) == "abcDEF12345"
    assert id_of_long_line(TooLongLine(b"no tab at all", 5_000_000, 1000)) == ""
    assert id_of_long_line(TooLongLine(b"bad\t{", 5_000_000, 1000)) == ""
