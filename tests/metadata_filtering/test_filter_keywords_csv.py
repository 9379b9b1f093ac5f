"""The original release's keyword CSV files through ``--keywords-dir``, and the release's tutorial
rule, which rejects nothing.

Facts from the original (sangho-vision/acav100m, metadata_filtering: keywords/*_keywords.csv and
the wheel's filter.py): a CSV list has a header row, then one phrase per row, its words in
comma-separated cells padded with empty cells (``dragon,ball,,,,``); the loader skips the header,
drops empty cells, joins with spaces, strips and lower-cases. The tutorial rule tokenizes the
text, removes stop words and tokens without a letter, Porter-stems the tokens, and looks for the
phrases' unstemmed words in that list. The references below are written here from those facts.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from mf_helpers import make_line
from nltk.stem import PorterStemmer
from nltk.tokenize import NLTKWordTokenizer
from stop_words import get_stop_words

from acav.metadata_filtering.config import FilterConfig
from acav.metadata_filtering.keywords import load_lists, read_phrase_file
from acav.metadata_filtering.rules import LineFilter

DATA = Path(__file__).parent / "data"

# Phrases in the release's format (a few rows of each of its lists).
RELEASE_ROWS = {
    "gaming": ("keywords,,,,", ["fortnite,,,,", "minecraft,,,,", "call,of,duty,,", "grand,theft,auto,,"]),
    "animation": ("keywords,,,,,", ["doraemon,,,,,", "Pokémon,,,,,", "dragon,ball,,,,", "detective,conan,,,,"]),
    "officialvideo": ("keywords,", ["official,video"]),
    "artist": ("keywords", ["Pop,Smoke", "50,Cent", "Roddy,Ricch", "Luke,Combs"]),
    "tutorial": (
        "Keyword,,,",
        ["photoshop,tutorial,,", "tutorial,photoshop,,", "windows,tutorial,,", "excel,tutorial,,",
         "python,tutorial,,", "online,math,tutorial,", "sql,server,tutorial,", "premiere,pro,tutorial,",
         "blender,tutorial,,", "javascript,tutorial,,", "linux,tutorial,,", "powerpoint,tutorial,,"],
    ),
}  # fmt: skip


def original_load_csv(path: Path) -> list[list[str]]:
    """The release's CSV loading, from its facts: header skipped, cells joined, lower-cased."""
    rows = path.read_text(encoding="utf-8").split("\n")[1:]
    phrases = []
    for row in rows:
        if not row:
            continue
        words = " ".join(cell for cell in row.split(",") if cell).strip().lower()
        phrases.append(words.split(" "))
    return phrases


def write_release_dir(directory: Path, file_name: str = "{}_keywords.csv", crlf: bool = False) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, (header, rows) in RELEASE_ROWS.items():
        text = "\n".join([header, *rows]) + "\n"
        (directory / file_name.format(name)).write_bytes(
            text.replace("\n", "\r\n" if crlf else "\n").encode()
        )
    return directory


@pytest.mark.parametrize("file_name", ["{}_keywords.csv", "{}.csv"])
def test_release_csv_files_are_read_under_our_list_names(tmp_path: Path, file_name: str) -> None:
    directory = write_release_dir(tmp_path / "keywords", file_name)
    lists = load_lists(["games", "animation", "official_video", "artists", "tutorial"], directory)
    for ours, release in zip(lists, RELEASE_ROWS, strict=True):
        assert ours.path.name == file_name.format(release)
        expected = [" ".join(words) for words in original_load_csv(ours.path)]
        assert [p.lower() for p in ours.phrases] == expected
    assert lists[0].name == "games" and lists[0].phrases == (
        "fortnite",
        "minecraft",
        "call of duty",
        "grand theft auto",
    )
    assert lists[1].phrases[1] == "Pokémon"
    assert lists[2].phrases == ("official video",)


def test_csv_with_crlf_and_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "gaming.csv"
    path.write_bytes("\ufeffkeywords,,,\r\ncall,of,duty,\r\n,,,\r\nminecraft,,,\r\n".encode())
    assert read_phrase_file(path) == ("call of duty", "minecraft")


def test_filter_with_the_release_lists(tmp_path: Path) -> None:
    directory = write_release_dir(tmp_path / "keywords", crlf=True)
    config = FilterConfig(duration=False, language=False, category=False, keywords_dir=directory)
    line_filter = LineFilter(config)

    def reason(title: str, category: str = "Entertainment") -> str | None:
        return line_filter.evaluate(make_line(title=title, description="", category=category)).reason

    assert reason("Call of Duty with friends") == "keyword: call of duty (games)"
    assert reason("POKÉMON cards opening") == "keyword: Pokémon (animation)"
    assert reason("Dragon Ball Z best fights") == "keyword: dragon ball (animation)"
    assert reason("New single (Official Video)") == "keyword: official video (official_video)"
    assert reason("Pop Smoke - Dior", category="Music") == "music_artist: Pop Smoke"
    assert reason("Pop Smoke - Dior", category="People & Blogs") is None  # rule 4 is for Music only
    assert reason("Photoshop Tutorials for the weekend") == "tutorial: photoshop tutorial"
    assert reason("Minecraft survival") == "keyword: minecraft (games)"
    assert reason("Lets play Terraria") is None  # not in these lists: the release's lists are used
    assert reason("A walk by the sea") is None


def original_tutorial_rejects(title: str, description: str, phrases: list[list[str]]) -> bool:
    """The release's tutorial rule, from its facts (NLTKWordTokenizer stands in for word_tokenize,
    the stop-words package for nltk's stop word lists, which need a download)."""
    text = re.sub(r"(https|http)?://(\w|\.|/|\?|=|&|%)*\b", "", f"{title} {description}".lower())
    tokens = NLTKWordTokenizer().tokenize(text)
    stop = {w for lang in ("en", "fr", "es", "pt", "de", "ru") for w in get_stop_words(lang)}
    stemmer = PorterStemmer()
    stems = [stemmer.stem(t) for t in tokens if t not in stop and re.search(r"[a-zA-Z]", t)]
    return any(
        stems[i : i + len(phrase)] == phrase
        for phrase in phrases
        for i in range(len(stems) - len(phrase) + 1)
    )


def test_original_tutorial_rule_rejects_nothing(tmp_path: Path) -> None:
    directory = write_release_dir(tmp_path / "keywords")
    phrases = original_load_csv(directory / "tutorial_keywords.csv")
    with (DATA / "positives_tutorial.tsv").open(encoding="utf-8", newline="") as handle:
        corpus = [(r["title"], r["description"]) for r in csv.DictReader(handle, delimiter="\t")]
    assert sum(original_tutorial_rejects(t, d, phrases) for t, d in corpus) == 0
    # Not vacuous: stemming the phrases as well finds the screen tutorials the lists name.
    stemmer = PorterStemmer()
    stemmed = [[stemmer.stem(w) for w in phrase] for phrase in phrases]
    assert sum(original_tutorial_rejects(t, d, stemmed) for t, d in corpus) >= 5
    # Ours, with the same release list, fires on them.
    off = {"duration": False, "language": False, "category": False, "music_artist": False, "keywords": False}
    ours = LineFilter(FilterConfig(**off, keywords_dir=directory))
    caught = [t for t, d in corpus if ours.evaluate(make_line(title=t, description=d)).reason]
    assert len(caught) >= 5 and "Photoshop tutorial: remove a background in 2 minutes" in caught
