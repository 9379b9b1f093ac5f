"""Each rule's edge cases, through LineFilter.evaluate on real metadata lines."""

from __future__ import annotations

import pytest
from mf_helpers import make_line

from acav.metadata_filtering.config import FilterConfig
from acav.metadata_filtering.rules import LineFilter

EN_TITLE = "Waves crashing on the rocks at sunset"
EN_TEXT = "Recorded on the coast with a handheld camera, just the sound of the sea."


def reason(line_filter: LineFilter, **kwargs) -> str | None:
    return line_filter.evaluate(make_line(**kwargs)).reason


def test_plain_line_is_kept(line_filter: LineFilter) -> None:
    result = line_filter.evaluate(make_line())
    assert result.reason is None and result.youtube_id == "abcDEF12345" and result.alone == ()


# --- rule 1: duration (d = VideoLength - 1) --------------------------------------------------
@pytest.mark.parametrize(
    ("length", "expected"),
    [
        ("30", "duration: 29.0 s < 30 s"),  # d = 29
        ("31", None),  # d = 30
        ("598", None),  # d = 597
        ("599", "duration: 598.0 s > 597 s"),  # d = 598
        ("13", "duration: 12.0 s < 30 s"),
    ],
)
def test_duration_bounds_on_video_length(line_filter: LineFilter, length: str, expected: str | None) -> None:
    assert reason(line_filter, length=length) == expected


@pytest.mark.parametrize(
    ("duration", "expected"),
    [("29", "duration: 29.0 s < 30 s"), ("30", None), ("597", None), ("598", "duration: 598.0 s > 597 s")],
)
def test_duration_bounds_on_fallback(line_filter: LineFilter, duration: str, expected: str | None) -> None:
    # VideoLength missing: MediaVersionList[0].Duration is used as is (no minus one).
    assert reason(line_filter, length=..., duration=duration) == expected


def test_no_duration_at_all_is_zero_and_rejected(line_filter: LineFilter) -> None:
    got = reason(line_filter, length=...)
    assert got == "duration: 0.0 s < 30 s (no usable duration: VideoLength None, MediaVersionList is null)"
    got = reason(line_filter, length="abc", duration=[])
    assert got == (
        "duration: 0.0 s < 30 s (no usable duration: VideoLength 'abc', MediaVersionList empty or without an object)"
    )


def test_duration_bounds_are_configurable() -> None:
    config = FilterConfig(
        min_duration=10, max_duration=20, language=False, music_artist=False, keywords=False, tutorial=False
    )
    line_filter = LineFilter(config)
    assert line_filter.evaluate(make_line(length="11")).reason is None
    assert line_filter.evaluate(make_line(length="10")).reason == "duration: 9.0 s < 10 s"
    assert line_filter.evaluate(make_line(length="22")).reason == "duration: 21.0 s > 20 s"


# --- rule 2: language --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("title", "description"),
    [
        ("雨の日の東京の街並み", "渋谷の交差点で録音した雨の音と人の声。電車の音も聞こえます。"),
        ("비 오는 날 서울 거리 풍경", "광화문 광장에서 녹음한 빗소리와 사람들의 목소리입니다."),
        ("Пение птиц в весеннем лесу", "Утренняя запись в лесу под Москвой, слышно соловья и дятла."),
        (
            "Una tormenta sobre el mar",
            "Grabado desde la playa durante la noche, se escuchan las olas y los truenos.",
        ),
        (
            "Ein Gewitter über dem See",
            "Aufgenommen am Ufer in der Nacht, man hört die Wellen und den Donner.",
        ),
        (
            "Un orage sur la mer",
            "Enregistré depuis la plage pendant la nuit, on entend les vagues et le tonnerre.",
        ),
        (
            "Uma tempestade sobre o mar",
            "Gravado da praia durante a noite, dá para ouvir as ondas e os trovões.",
        ),
    ],
)
def test_major_languages_are_kept(line_filter: LineFilter, title: str, description: str) -> None:
    assert reason(line_filter, title=title, description=description) is None


@pytest.mark.parametrize(
    ("title", "description", "language"),
    [
        (
            "Una passeggiata nel centro di Roma",
            "Abbiamo camminato per le strade del centro storico, tra fontane e piazze.",
            "it",
        ),
        (
            "Jalan jalan di pasar malam",
            "Kami berjalan di pasar malam bersama teman teman dan membeli makanan.",
            "id",
        ),
        ("雨天的城市街道", "我们在广场上录制了雨声和人们说话的声音，还能听到汽车的声音。", "zh"),
    ],
)
def test_other_languages_are_rejected(
    line_filter: LineFilter, title: str, description: str, language: str
) -> None:
    assert reason(line_filter, title=title, description=description) == (
        f"language: {language} (not in en,es,pt,ru,ja,fr,de,ko)"
    )


def test_language_sees_lower_case_text_without_urls(line_filter: LineFilter) -> None:
    # Upper case or a URL-heavy description must not change the verdict on an English text.
    assert reason(line_filter, title=EN_TITLE.upper(), description=EN_TEXT.upper()) is None
    urls = " ".join(f"https://www.example.it/pagina/{i}/italiano" for i in range(20))
    assert reason(line_filter, description=EN_TEXT + " " + urls) is None


@pytest.mark.parametrize(
    ("title", "description"),
    [("", ""), (None, None), (..., ...), ("   ", "\n\t"), ("", "https://example.com/only-a-link")],
)
def test_empty_text_is_rejected_by_language(line_filter: LineFilter, title, description) -> None:
    assert reason(line_filter, title=title, description=description) == (
        "language: empty text (no title or description)"
    )


def test_language_list_is_configurable() -> None:
    config = FilterConfig(
        languages=["it"], duration=False, music_artist=False, keywords=False, tutorial=False
    )
    line_filter = LineFilter(config)
    italian = make_line(
        title="Una passeggiata nel centro di Roma", description="Abbiamo camminato per le strade."
    )
    assert line_filter.evaluate(italian).reason is None
    assert line_filter.evaluate(make_line()).reason == "language: en (not in it)"


# --- rule 3: category ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("Gaming", "category: Gaming"),
        ("gaming", "category: gaming"),
        ("Games", None),
        ("Music", None),
        ("", None),
        (None, None),
    ],
)
def test_gaming_category(line_filter: LineFilter, category, expected) -> None:
    assert reason(line_filter, category=category) == expected


# --- rule 4: artist names, only in Music ---------------------------------------------------------
@pytest.mark.parametrize("artist", ["taylor swift", "ed sheeran", "bts", "beyonce", "Beyoncé"])
def test_artist_in_music_is_rejected(line_filter: LineFilter, artist: str) -> None:
    got = reason(line_filter, category="Music", title=f"{artist.upper()} live in the park, crowd singing")
    assert got == f"music_artist: {artist.lower()}"


def test_artist_outside_music_is_kept(line_filter: LineFilter) -> None:
    title = "Taylor Swift fans queue in the rain outside the stadium"
    assert reason(line_filter, category="People & Blogs", title=title) is None
    assert reason(line_filter, category="Music", title=title) == "music_artist: taylor swift"


def test_artist_at_the_very_end_and_not_inside_words(line_filter: LineFilter) -> None:
    assert (
        reason(line_filter, category="Music", description=EN_TEXT + " Thanks to bts") == "music_artist: bts"
    )
    assert (
        reason(line_filter, category="Music", description=EN_TEXT + " Thanks to bts.") == "music_artist: bts"
    )
    # "bts" inside "subtitles"/"debts" is no match.
    assert reason(line_filter, category="Music", description=EN_TEXT + " subtitles and debts") is None


# --- rule 5: games / animation / official video ----------------------------------------------
@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Minecraft with my brother at the lake", "keyword: minecraft (games)"),
        ("We played FORTNITE all night by the lake", "keyword: fortnite (games)"),
        ("Call-of-Duty night by the lake", "keyword: call of duty (games)"),
        ("league of legends finals crowd at the arena", "keyword: league of legends (games)"),
        ("Pokemon cards by the lake", "keyword: pokemon (animation)"),
        ("SpongeBob toys at the beach", "keyword: spongebob (animation)"),
        ("Anime convention walk around", "keyword: anime (animation)"),
        ("Rain on the roof (Official Video)", "keyword: official video (official_video)"),
        ("Rain on the roof [Official Music Video]", "keyword: official music video (official_video)"),
    ],
)
def test_keyword_phrases(line_filter: LineFilter, title: str, expected: str) -> None:
    assert reason(line_filter, title=title, category="Entertainment") == expected


def test_keyword_at_the_very_end_of_the_text(line_filter: LineFilter) -> None:
    assert reason(line_filter, description=EN_TEXT + " minecraft") == "keyword: minecraft (games)"
    assert reason(line_filter, description=EN_TEXT + " call of duty") == "keyword: call of duty (games)"


def test_keyword_phrase_needs_its_words_in_order(line_filter: LineFilter) -> None:
    # "call" and "duty" apart, or a word that merely contains a keyword, do not match.
    assert reason(line_filter, description=EN_TEXT + " a call to duty of care") is None
    assert reason(line_filter, description=EN_TEXT + " the minecrafter") is None


def test_first_match_in_text_order_is_reported(line_filter: LineFilter) -> None:
    got = reason(line_filter, title="Spongebob and minecraft at the lake", category="Entertainment")
    assert got == "keyword: spongebob (animation)"


# --- rule 6: tutorials, after stop words and stemming ----------------------------------------
# The matching mechanism is tested on a list of generic phrases written here: the shipped list
# holds only screen-tutorial phrases (test_filter_keyword_corpora.py measures it).
MECHANISM_PHRASES = [
    "how to", "howto", "tutorial", "step by step", "diy", "tips and tricks", "tips & tricks",
    "beginner's guide", "for beginners",
]  # fmt: skip


@pytest.fixture(scope="module")
def tutorial_filter(tmp_path_factory: pytest.TempPathFactory) -> LineFilter:
    path = tmp_path_factory.mktemp("lists") / "generic_tutorial.txt"
    path.write_text("\n".join(MECHANISM_PHRASES) + "\n", encoding="utf-8")
    off = {"duration": False, "language": False, "category": False, "music_artist": False, "keywords": False}
    return LineFilter(FilterConfig(**off, tutorial_lists=[str(path)]))


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("How to change a bike tyre in the rain", "tutorial: how to"),
        ("Changing a bike tyre, a tutorial", "tutorial: tutorial"),
        ("Bike TUTORIALS by the river", "tutorial: tutorial"),  # only matches after stemming
        ("Howto: change a bike tyre", "tutorial: howto"),
        ("How-to change a bike tyre", "tutorial: how to"),
        ("Fixing a bike tyre step-by-step", "tutorial: step by step"),
        ("Fixing a bike tyre, Step By Step", "tutorial: step by step"),
        ("DIY wooden boat on the lake", "tutorial: diy"),
        ("Bike tips and some tricks", "tutorial: tips and tricks"),  # stop word "some" removed
        ("Bike Tip & Tricks", "tutorial: tips & tricks"),
        ("The Beginner's Guide to the lake shore", "tutorial: beginner's guide"),
        ("Lake fishing for beginners", "tutorial: for beginners"),
    ],
)
def test_tutorial_phrases(tutorial_filter: LineFilter, title: str, expected: str) -> None:
    assert reason(tutorial_filter, title=title) == expected


def test_tutorial_words_must_be_consecutive(tutorial_filter: LineFilter) -> None:
    # "how" ... "to" across other words or a comma is no "how to".
    assert reason(tutorial_filter, title="How we rode our bikes to the lake") is None
    assert reason(tutorial_filter, title="Guess how, to be fair, the lake looked") is None
    assert reason(tutorial_filter, description=EN_TEXT + " step one, then another step") is None


def test_tutorial_at_the_very_end(tutorial_filter: LineFilter) -> None:
    assert reason(tutorial_filter, description=EN_TEXT + " full tutorials") == "tutorial: tutorial"


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Photoshop Tutorials: layers", "tutorial: photoshop tutorial"),  # stemmed
        ("Excel formulas for the office", "tutorial: excel formulas"),
        ("My screen recording of the new app", "tutorial: screen recording"),
        ("How to make bread at home", None),  # filmed how-tos are not screen tutorials
        ("DIY bookshelf, step by step", None),
        ("A relaxing walk through the old town", None),
        ("Guest lecture on volcanoes", None),
    ],
)
def test_shipped_tutorial_list_names_screen_subjects(line_filter: LineFilter, title: str, expected) -> None:
    assert reason(line_filter, title=title) == expected


# --- order, switches and "alone" ------------------------------------------------------------------
def test_rules_run_in_order_and_alone_lists_every_rule(line_filter: LineFilter) -> None:
    line = make_line(length="10", category="Gaming", title="Minecraft tutorial by the lake")
    result = line_filter.evaluate(line)
    names = line_filter.rule_names
    assert names == ["duration", "language", "category", "music_artist", "keywords", "tutorial"]
    assert result.reason == "duration: 9.0 s < 30 s"
    assert result.first_rule == 0
    assert [names[i] for i in result.alone] == ["duration", "category", "keywords", "tutorial"]


def test_without_report_each_rule_evaluation_stops_at_the_first_rule() -> None:
    line_filter = LineFilter(FilterConfig(report_each_rule=False, language=False))
    result = line_filter.evaluate(make_line(length="10", category="Gaming"))
    assert result.reason == "duration: 9.0 s < 30 s" and result.alone == (0,)


@pytest.mark.parametrize("rule", ["duration", "language", "category", "music_artist", "keywords", "tutorial"])
def test_each_rule_can_be_switched_off(rule: str) -> None:
    lines = {
        "duration": make_line(length="10"),
        "language": make_line(
            title="Una passeggiata", description="Abbiamo camminato per le strade del centro."
        ),
        "category": make_line(category="Gaming"),
        "music_artist": make_line(category="Music", title="Ed Sheeran busking in the rain"),
        "keywords": make_line(title="Minecraft on a rainy day by the sea"),
        "tutorial": make_line(title="Photoshop tutorial: the sea at sunset"),
    }
    config = FilterConfig(**{rule: False}, report_each_rule=False)
    line_filter = LineFilter(config)
    assert rule not in line_filter.rule_names
    assert line_filter.evaluate(lines[rule]).reason is None
    # The other rules still work.
    for other, line in lines.items():
        if other != rule:
            assert line_filter.evaluate(line).reason.startswith(other.replace("keywords", "keyword"))


def test_a_failing_rule_costs_one_line_not_the_run(line_filter: LineFilter) -> None:
    class Broken:
        name = "broken"

        def check(self, record, view):
            raise RuntimeError("boom")

    broken = LineFilter(FilterConfig(language=False), rules=[Broken()])
    result = broken.evaluate(make_line())
    assert result.reason == "error: rule broken failed (RuntimeError: boom)"


def test_an_unexpected_parse_failure_costs_one_line(
    monkeypatch: pytest.MonkeyPatch, line_filter: LineFilter
) -> None:
    import acav.metadata_filtering.rules as rules

    def explode(raw: bytes):
        raise MemoryError("simulated")

    monkeypatch.setattr(rules, "parse_line", explode)
    result = line_filter.evaluate(make_line())
    assert result.reason == "parse: unexpected error (MemoryError: simulated)" and not result.parsed
