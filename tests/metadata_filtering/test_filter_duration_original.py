"""Rule 1 (duration) against an independent statement of the original release's rule.

Facts from the original's filter (sangho-vision/acav100m, metadata_filtering wheel, filter.py):
``LatestDAFeature.VideoLength`` is used when it is a non-empty string of digits (``str.isnumeric``),
minus one; otherwise ``MediaVersionList[0].Duration`` from the TOP-LEVEL JSON object (beside
``LatestDAFeature``), when a non-empty digit string, as it is; otherwise 0. A video is kept when
30 <= duration <= 597. The reference below is written here from those facts, not from our code.
"""

from __future__ import annotations

import itertools
import json

import pytest
from mf_helpers import make_line

from acav.metadata_filtering.config import FilterConfig
from acav.metadata_filtering.records import MetadataRecord, parse_line
from acav.metadata_filtering.rules import DurationRule


def original_duration(json_text: str) -> int:
    """The original's duration of one line's JSON (only digit strings count)."""
    obj = json.loads(json_text)

    def digits(value: object) -> int | None:
        return int(value) if isinstance(value, str) and value != "" and value.isnumeric() else None

    length = digits(obj["LatestDAFeature"].get("VideoLength"))
    if length is not None:
        return length - 1
    duration = digits(obj["MediaVersionList"][0].get("Duration"))
    return 0 if duration is None else duration


def original_keeps(json_text: str) -> bool:
    return 30 <= original_duration(json_text) <= 597


LENGTHS = ["", None, "38", "0", "31", "30", "597", "598", "599", "abc", "-5", "1000"]
DURATIONS = ["", None, "37", "29", "30", "597", "598", "x", "149"]


def _rule() -> DurationRule:
    config = FilterConfig()
    return DurationRule(config.min_duration, config.max_duration)


def test_duration_equals_the_originals_on_every_combination() -> None:
    rule = _rule()
    compared = kept = 0
    for length, duration in itertools.product(LENGTHS, DURATIONS):
        line = make_line(length=length, duration=duration)
        expected = original_duration(line.decode().split("\t", 1)[1])
        record = parse_line(line)
        assert isinstance(record, MetadataRecord)
        assert record.duration == float(expected), (length, duration)
        ours_keeps = rule.check(record, None) is None  # type: ignore[arg-type]
        assert ours_keeps == original_keeps(line.decode().split("\t", 1)[1]), (length, duration)
        compared += 1
        kept += ours_keeps
    assert compared == len(LENGTHS) * len(DURATIONS)
    assert 0 < kept < compared  # both outcomes were exercised


def test_empty_video_length_falls_back_to_the_top_level_media_version_list() -> None:
    # The visible defect: this line was rejected (duration 0) although Duration is usable.
    line = make_line(length="", duration="149")
    assert json.loads(line.decode().split("\t", 1)[1])["MediaVersionList"] == [{"Duration": "149"}]
    record = parse_line(line)
    assert isinstance(record, MetadataRecord)
    assert record.duration == 149.0 and record.duration_note == ""
    assert _rule().check(record, None) is None  # type: ignore[arg-type]


def test_original_example_line_layout() -> None:
    # Same layout as the original's examples/metadata.tsv (MediaVersionList first, top level).
    body = {
        "MediaVersionList": [{"Title": "Garry Marshall", "Duration": "149", "Height": "360"}],
        "LatestDAFeature": {"Title": "Garry Marshall", "VideoLength": "", "YouTubeCategory": "Entertainment"},
    }
    line = f"https://www.youtube.com/watch?v=NgI3xyMX1Ss\t{json.dumps(body)}\n".encode()
    record = parse_line(line)
    assert isinstance(record, MetadataRecord)
    assert (record.youtube_id, record.duration) == ("NgI3xyMX1Ss", 149.0)


@pytest.mark.parametrize(("top", "nested", "expected"), [(None, "200", 200.0), ("120", "200", 120.0)])
def test_nested_media_version_list_is_accepted_top_level_wins(top, nested, expected) -> None:
    body = {"LatestDAFeature": {"VideoLength": "", "MediaVersionList": [{"Duration": nested}]}}
    if top is not None:
        body["MediaVersionList"] = [{"Duration": top}]
    record = parse_line(f"abcDEF12345\t{json.dumps(body)}\n".encode())
    assert isinstance(record, MetadataRecord)
    assert record.duration == expected


def test_decimal_strings_are_read_where_the_original_falls_back() -> None:
    # Documented tolerance (docs/DIFFERENCES.md): "150.5" is a length to us, not to the original.
    line = make_line(length="150.5", duration="20")
    json_text = line.decode().split("\t", 1)[1]
    assert original_duration(json_text) == 20
    record = parse_line(line)
    assert isinstance(record, MetadataRecord) and record.duration == 149.5
