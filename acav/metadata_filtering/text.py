"""Text preparation shared by the language and keyword rules.

One normalisation (lower case, URLs removed, word joiners such as ``-`` and ``/`` turned into
spaces, whitespace collapsed) feeds every text rule, and keyword phrases go through exactly the
same steps, so a phrase in a list matches the text the same way however it was written.

Tokenisation uses nltk's ``NLTKWordTokenizer`` (it needs no downloaded data, unlike
``word_tokenize``). It is applied to each whitespace-separated chunk on its own: this splits a
sentence-final period off every word ("minecraft." -> "minecraft", "."), which the tokenizer only
does at the very end of its input, and lets us cache the result per chunk. Real titles and
descriptions repeat the same chunks endlessly, so the cache turns the tokenizer (hundreds of
microseconds per description) into a few dictionary look-ups.

nltk 3.10 runs every tokenizer regex through its ReDoS guard, which costs ~100-250 us per call
even for one word. Chunks that are a plain word, optionally with one punctuation mark before or
after it, skip the tokenizer: their tokens are known (tests check the shortcut against nltk).
"""

from __future__ import annotations

import re
import unicodedata

# http(s)://..., www.... and bare youtu.be links; a URL ends at the next whitespace.
_URL_RE = re.compile(r"(?:https?://|www\.|youtu\.be/)\S*")  # applied to lower-cased text

# Characters that join words in titles ("call-of-duty", "minecraft/fortnite", "#call_of_duty",
# "minecraft|ep 1"). Turning them into spaces lets phrase matching see the words.
_JOINERS = str.maketrans({c: " " for c in "-\u2010\u2011\u2012\u2013\u2014\u2015_/\\|"})

# Shortcut for "(word", "#word", "word," "word." ...: the tokenizer splits these single marks off a
# plain word. Words containing nltk's contractions ("cannot" -> "can", "not") are left to nltk.
_LEAD_MARKS = frozenset("([{<#@$%&*;")
_TRAIL_MARKS = frozenset(",.!?:;)]}>#@$%&*")
_CONTRACTION_RE = re.compile(r"cannot|gimme|gonna|gotta|lemme|wanna|whaddya|whatcha|'")


def normalise_text(*parts: str) -> str:
    """Lower-cased, URL-free, whitespace-collapsed join of ``parts`` (e.g. title and description).

    NFKC folds full-width and compatibility forms ("ＭＩＮＥＣＲＡＦＴ" -> "minecraft") so the
    keyword lists need one spelling only.
    """
    text = " ".join(p for p in parts if p)
    if not text:
        return ""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    text = text.lower()
    if "http" in text or "www." in text or "youtu.be/" in text:  # most texts have no URL
        text = _URL_RE.sub(" ", text)
    return " ".join(text.translate(_JOINERS).split())


def shortcut_tokens(chunk: str) -> tuple[str, ...] | None:
    """Tokens of a plain word with at most one mark on each side, or None (ask nltk)."""
    lead = trail = ""
    core = chunk
    if core and core[0] in _LEAD_MARKS:
        lead, core = core[0], core[1:]
    if core and core[-1] in _TRAIL_MARKS:
        core, trail = core[:-1], core[-1]
    if not core.isalnum() or _CONTRACTION_RE.search(core):
        return None
    return tuple(t for t in (lead, core, trail) if t)


class Tokenizer:
    """``NLTKWordTokenizer`` per whitespace chunk, with a bounded cache of chunk -> tokens."""

    def __init__(self, cache_size: int = 500_000) -> None:
        from nltk.tokenize import NLTKWordTokenizer

        self._tokenizer = NLTKWordTokenizer()
        self._cache: dict[str, tuple[str, ...]] = {}
        self._cache_size = cache_size

    def chunk_tokens(self, chunk: str) -> tuple[str, ...]:
        tokens = self._cache.get(chunk)
        if tokens is None:
            tokens = shortcut_tokens(chunk)
            if tokens is None:
                tokens = tuple(self._tokenizer.tokenize(chunk))
            if len(self._cache) >= self._cache_size:
                # Cheap bound on memory: start over rather than track recency.
                self._cache.clear()
            self._cache[chunk] = tokens
        return tokens

    def tokenize(self, normalised: str) -> list[str]:
        """Tokens of text already passed through :func:`normalise_text`."""
        out: list[str] = []
        cache = self._cache
        for chunk in normalised.split(" "):
            tokens = cache.get(chunk)
            if tokens is None:
                tokens = self.chunk_tokens(chunk)
            out.extend(tokens)
        return out


class Stemmer:
    """Porter stemming (nltk) with a bounded word -> stem cache; stemming is the slow part."""

    def __init__(self, cache_size: int = 500_000) -> None:
        from nltk.stem import PorterStemmer

        self._stemmer = PorterStemmer()
        self._cache: dict[str, str] = {}
        self._cache_size = cache_size

    def stem(self, word: str) -> str:
        stem = self._cache.get(word)
        if stem is None:
            stem = self._stemmer.stem(word)
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[word] = stem
        return stem


def load_stop_words(languages: list[str]) -> frozenset[str]:
    """Stop words of the ``stop-words`` package for the given language codes (e.g. ``["en"]``)."""
    from stop_words import StopWordError, get_stop_words

    words: set[str] = set()
    for language in languages:
        try:
            words.update(w.lower() for w in get_stop_words(language))
        except StopWordError as exc:
            raise ValueError(f"stop-words has no list for language {language!r} ({exc})") from exc
    return frozenset(words)
