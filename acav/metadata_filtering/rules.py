"""The six rules of the paper and :class:`LineFilter`, which applies them to one input line.

Each rule returns ``None`` (pass) or a reason ``"<rule>: <detail>"``. Rules run in the paper's
order; the first reason rejects the line. With ``report_each_rule`` every enabled rule also runs
on every parseable line, so the report can say what each rule rejects on its own.

Text features (normalised text, tokens) are computed lazily, once per line, and shared by
the rules that need them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from acav.metadata_filtering.config import FilterConfig
from acav.metadata_filtering.keywords import PhraseIndex, build_index, load_lists
from acav.metadata_filtering.records import (
    MetadataRecord,
    Rejection,
    TooLongLine,
    id_of_long_line,
    parse_line,
)
from acav.metadata_filtering.text import Stemmer, Tokenizer, load_stop_words, normalise_text

RULE_NAMES = ("duration", "language", "category", "music_artist", "keywords", "tutorial")


class TextTools:
    """Tokenizer, stemmer and stop words shared by the rules (one per process)."""

    def __init__(self, stop_word_languages: list[str]) -> None:
        self.tokenizer = Tokenizer()
        self.stemmer = Stemmer()
        self.stop_words = load_stop_words(stop_word_languages)

    def phrase_tokens(self, phrase: str) -> tuple[str, ...]:
        return tuple(self.tokenizer.tokenize(normalise_text(phrase)))


class TextView:
    """Lazily computed text features of one record."""

    __slots__ = ("_record", "_tools", "_text", "_tokens")

    def __init__(self, record: MetadataRecord, tools: TextTools) -> None:
        self._record = record
        self._tools = tools
        self._text: str | None = None
        self._tokens: list[str] | None = None

    @property
    def text(self) -> str:
        """Lower-cased title + description, URLs removed (what the language model sees)."""
        if self._text is None:
            self._text = normalise_text(self._record.title, self._record.description)
        return self._text

    @property
    def tokens(self) -> list[str]:
        if self._tokens is None:
            self._tokens = self._tools.tokenizer.tokenize(self.text) if self.text else []
        return self._tokens


class Rule(Protocol):
    name: str

    def check(self, record: MetadataRecord, view: TextView) -> str | None: ...


def _number(value: float) -> str:
    return f"{value:g}"


class DurationRule:
    name = "duration"

    def __init__(self, min_duration: float, max_duration: float) -> None:
        self.min_duration = min_duration
        self.max_duration = max_duration

    def check(self, record: MetadataRecord, view: TextView) -> str | None:
        d = record.duration
        note = f" ({record.duration_note})" if record.duration_note else ""
        if d < self.min_duration:
            return f"duration: {d:.1f} s < {_number(self.min_duration)} s{note}"
        if d > self.max_duration:
            return f"duration: {d:.1f} s > {_number(self.max_duration)} s"
        return None


class LanguageRule:
    name = "language"

    def __init__(self, languages: list[str], model_path: str, max_chars: int, min_score: float) -> None:
        from acav.metadata_filtering.language import LanguageIdentifier

        self.languages = frozenset(languages)
        self._shown = ",".join(languages)
        self.min_score = min_score
        self.identifier = LanguageIdentifier(model_path or None, max_chars)

    def check(self, record: MetadataRecord, view: TextView) -> str | None:
        text = view.text
        if not text:
            return "language: empty text (no title or description)"
        language, score = self.identifier.identify(text)
        if language not in self.languages:
            return f"language: {language or '?'} (not in {self._shown})"
        if score < self.min_score:
            return f"language: {language} with probability {score:.2f} < {self.min_score:g}"
        return None


class CategoryRule:
    name = "category"

    def __init__(self, categories: list[str]) -> None:
        self.categories = frozenset(c.strip().casefold() for c in categories)

    def check(self, record: MetadataRecord, view: TextView) -> str | None:
        if record.category and record.category.casefold() in self.categories:
            return f"category: {record.category}"
        return None


class MusicArtistRule:
    name = "music_artist"

    def __init__(self, categories: list[str], index: PhraseIndex) -> None:
        self.categories = frozenset(c.strip().casefold() for c in categories)
        self.index = index

    def check(self, record: MetadataRecord, view: TextView) -> str | None:
        if record.category.casefold() not in self.categories:
            return None
        phrase = self.index.find(view.tokens)
        return f"music_artist: {phrase.text}" if phrase else None


class KeywordRule:
    name = "keywords"

    def __init__(self, index: PhraseIndex) -> None:
        self.index = index

    def check(self, record: MetadataRecord, view: TextView) -> str | None:
        phrase = self.index.find(view.tokens)
        return f"keyword: {phrase.text} ({phrase.list_name})" if phrase else None


class TutorialRule:
    """Phrases matched on Porter stems after stop-word removal.

    Stop words that occur in a phrase of the lists (or share a stem with a phrase word) are not
    removed (from the text or the phrases): otherwise "how to" would vanish and "how to draw" would shrink to "draw". Other
    stop words are removed from the text, so "tips and some tricks" still matches "tips and
    tricks". Punctuation is kept, so a phrase never matches across a comma or full stop.
    """

    name = "tutorial"

    def __init__(self, index: PhraseIndex, removable: frozenset[str], stemmer: Stemmer) -> None:
        self.index = index
        self.removable = removable
        self._stem = stemmer.stem

    def stems(self, tokens: list[str]) -> list[str]:
        removable, stem = self.removable, self._stem
        return [stem(t) for t in tokens if t not in removable]

    def check(self, record: MetadataRecord, view: TextView) -> str | None:
        phrase = self.index.find(self.stems(view.tokens))
        return f"tutorial: {phrase.text}" if phrase else None


def _tutorial_rule(config: FilterConfig, tools: TextTools) -> TutorialRule:
    lists = load_lists(config.tutorial_lists, config.keywords_dir)
    stem = tools.stemmer.stem
    phrase_words = {t for kl in lists for phrase in kl.phrases for t in tools.phrase_tokens(phrase)}
    phrase_stems = {stem(t) for t in phrase_words}
    # A stop word stays when it, or its stem, is a phrase word ("tip" for "tips and tricks").
    removable = frozenset(
        w for w in tools.stop_words if w not in phrase_words and stem(w) not in phrase_stems
    )
    index = build_index(lists, lambda phrase: tuple(stem(t) for t in tools.phrase_tokens(phrase)))
    return TutorialRule(index, removable, tools.stemmer)


def build_rules(config: FilterConfig, tools: TextTools) -> list[Rule]:
    """The enabled rules, in the paper's order, with their keyword indexes compiled."""
    rules: list[Rule] = []
    if config.duration:
        rules.append(DurationRule(config.min_duration, config.max_duration))
    if config.language:
        rules.append(
            LanguageRule(
                config.languages, config.language_model, config.language_max_chars, config.language_min_score
            )
        )
    if config.category:
        rules.append(CategoryRule(config.drop_categories))
    if config.music_artist:
        lists = load_lists(config.artist_lists, config.keywords_dir)
        rules.append(MusicArtistRule(config.artist_categories, build_index(lists, tools.phrase_tokens)))
    if config.keywords:
        lists = load_lists(config.keyword_lists, config.keywords_dir)
        rules.append(KeywordRule(build_index(lists, tools.phrase_tokens)))
    if config.tutorial:
        rules.append(_tutorial_rule(config, tools))
    return rules


@dataclass(frozen=True)
class LineResult:
    youtube_id: str
    reason: str | None  # None: kept
    parsed: bool  # reached the rules (the population of the "alone" counts)
    first_rule: int  # index of the rule that rejected it in sequence, -1 if none
    alone: tuple[int, ...]  # indexes of the rules that reject it on their own


def reason_code(reason: str) -> str:
    """The stable code of a reason: the text before the first colon ("duration", "parse", ...)."""
    return reason.split(":", 1)[0]


class LineFilter:
    """Applies the configured rules to single lines (one instance per process)."""

    def __init__(self, config: FilterConfig, rules: list[Rule] | None = None) -> None:
        self.config = config
        self.tools = TextTools(config.stop_word_languages)
        self.rules = rules if rules is not None else build_rules(config, self.tools)
        self.rule_names = [r.name for r in self.rules]

    def evaluate(self, raw: bytes | TooLongLine | Rejection) -> LineResult:
        if isinstance(raw, Rejection):  # a row of a CSV/parquet/JSONL input that could not be read
            return LineResult(raw.youtube_id, raw.reason, False, -1, ())
        if isinstance(raw, TooLongLine):
            reason = f"line too long: {raw.size} bytes > {raw.limit}"
            return LineResult(id_of_long_line(raw), reason, False, -1, ())
        try:
            parsed: MetadataRecord | Rejection = parse_line(raw)
        except Exception as exc:  # parse_line handles every case we know; never stop the run
            parsed = Rejection(f"parse: unexpected error ({type(exc).__name__}: {str(exc)[:80]})")
        if isinstance(parsed, Rejection):
            return LineResult(parsed.youtube_id, parsed.reason, False, -1, ())
        view = TextView(parsed, self.tools)
        first_reason: str | None = None
        first_rule = -1
        alone: list[int] = []
        for i, rule in enumerate(self.rules):
            try:
                reason = rule.check(parsed, view)
            except Exception as exc:  # a rule bug must cost one line, not the run
                reason = f"error: rule {rule.name} failed ({type(exc).__name__}: {exc})"
            if reason is None:
                continue
            alone.append(i)
            if first_reason is None:
                first_reason, first_rule = reason, i
                if not self.config.report_each_rule:
                    break
        return LineResult(parsed.youtube_id, first_reason, True, first_rule, tuple(alone))
