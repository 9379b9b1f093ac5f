"""Keyword lists, the phrase index (against the naive scan) and the text preparation."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from nltk.tokenize import NLTKWordTokenizer

from acav.metadata_filtering.keywords import (
    DEFAULT_KEYWORDS_DIR,
    KeywordListError,
    NaivePhraseScan,
    Phrase,
    PhraseIndex,
    load_lists,
    read_phrase_file,
)
from acav.metadata_filtering.text import Tokenizer, normalise_text, shortcut_tokens

REQUIRED = {
    "games": ["minecraft", "fortnite", "call of duty", "league of legends"],
    "artists": ["taylor swift", "ed sheeran", "bts", "beyonce"],
    "animation": ["pokemon", "spongebob", "anime"],
    "official_video": ["official video", "official music video"],
    "tutorial": ["photoshop tutorial", "excel tutorial", "screencast", "screen recording"],
}
MIN_SIZES = {"games": 300, "artists": 300, "animation": 200, "official_video": 10, "tutorial": 150}


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_shipped_lists_hold_the_required_phrases(name: str) -> None:
    phrases = read_phrase_file(DEFAULT_KEYWORDS_DIR / f"{name}.txt")
    assert len(phrases) >= MIN_SIZES[name]
    for phrase in REQUIRED[name]:
        assert phrase in phrases
    assert all(not p.startswith("#") and p == p.strip() and p for p in phrases)


def test_phrase_file_comments_blanks_and_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "mine.txt"
    path.write_text(
        "# a comment\n\n  rain dance  \nthunder\nrain dance\n   # indented comment\n", encoding="utf-8"
    )
    assert read_phrase_file(path) == ("rain dance", "thunder")


def test_lists_by_name_and_by_path(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("alpha\n", encoding="utf-8")
    other = tmp_path / "sub" / "other.txt"
    other.parent.mkdir()
    other.write_text("beta gamma\n", encoding="utf-8")
    lists = load_lists(["mine", str(other)], tmp_path)
    assert [(k.name, k.phrases) for k in lists] == [("mine", ("alpha",)), ("other", ("beta gamma",))]


def test_missing_or_unreadable_lists_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(KeywordListError, match="keyword list not found: .*nope.txt"):
        load_lists(["nope"], tmp_path)
    with pytest.raises(KeywordListError, match="keyword directory not found"):
        load_lists(["games"], tmp_path / "missing")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"caf\xe9\n")
    with pytest.raises(KeywordListError, match="bad.txt: not UTF-8"):
        load_lists([str(bad)], None)


def _phrase(*tokens: str, name: str = "l") -> Phrase:
    return Phrase(" ".join(tokens), name, tuple(tokens))


def test_index_finds_first_match_longest_at_a_position() -> None:
    index = PhraseIndex()
    for p in [_phrase("call", "of", "duty"), _phrase("call"), _phrase("duty"), _phrase("of", "duty")]:
        index.add(p)
    assert index.find("we answer the call of duty".split()).text == "call of duty"
    assert index.find("call me".split()).text == "call"
    assert index.find("a call of".split()).text == "call"
    assert index.find("nothing here".split()) is None
    assert index.find([]) is None
    assert index.find("the end is duty".split()).text == "duty"  # last token


def test_duplicate_phrase_keeps_its_first_list() -> None:
    index = PhraseIndex()
    assert index.add(_phrase("pokemon", name="animation"))
    assert not index.add(_phrase("pokemon", name="games"))
    assert index.find(["pokemon"]).list_name == "animation" and len(index) == 1


def test_index_agrees_with_the_naive_scan_on_random_texts() -> None:
    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(40)]
    phrases = {tuple(rng.choice(vocab) for _ in range(rng.randint(1, 4))) for _ in range(120)}
    index = PhraseIndex()
    for tokens in sorted(phrases):
        index.add(_phrase(*tokens))
    naive = NaivePhraseScan(index.phrases())
    hits = 0
    for _ in range(500):
        text = [rng.choice(vocab) for _ in range(rng.randint(0, 30))]
        expected = naive.find(text)
        assert index.find(text) == expected
        hits += expected is not None
    assert 50 < hits < 500  # both outcomes are exercised


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("Hello", "World"), "hello world"),
        (("Call-of-Duty / Minecraft | ep_1",), "call of duty minecraft ep 1"),
        (("see https://youtu.be/abc?x=1 and www.example.com/page now",), "see and now"),
        (("ＭＩＮＥＣＲＡＦＴ  full\twidth\n",), "minecraft full width"),
        (("", None, "  "), ""),
        (("Ünïcödé Straße",), "ünïcödé straße"),
    ],
)
def test_normalise_text(parts, expected: str) -> None:
    assert normalise_text(*parts) == expected


def test_shortcut_tokens_equal_nltk() -> None:
    nltk = NLTKWordTokenizer()
    cores = [
        "word",
        "a",
        "x1",
        "42",
        "minecraft",
        "日本語",
        "слово",
        "café",
        "cannot",
        "gonna",
        "wanna",
        "i",
        "s",
    ]
    marks = list("([{<#@$%&*;,.!?:)]}>\"'`") + ["", "...", "''"]
    checked = 0
    for lead in marks:
        for core in cores:
            for trail in marks:
                chunk = lead + core + trail
                shortcut = shortcut_tokens(chunk)
                if shortcut is not None:
                    assert shortcut == tuple(nltk.tokenize(chunk)), chunk
                    checked += 1
    assert checked > 500


def test_tokenizer_splits_sentence_periods_and_caches() -> None:
    tokenizer = Tokenizer(cache_size=3)
    text = normalise_text('I love minecraft. It\'s great, (really) "fun" cannot stop')
    assert tokenizer.tokenize(text) == [
        "i", "love", "minecraft", ".", "it", "'s", "great", ",", "(", "really", ")", "``", "fun", "''", "can",
        "not", "stop",
    ]  # fmt: skip
    assert len(tokenizer._cache) <= 3  # bounded
