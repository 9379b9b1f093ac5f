"""Keyword lists and the precompiled phrase index used by rules 4 to 6.

A list is a UTF-8 text file, one phrase per line; blank lines and lines starting with ``#`` are
ignored. Lists are referred to by name (``games`` -> ``<keywords_dir>/games.txt``) or by path.

The original release's keyword files are read as they are: a ``.csv`` file has a header row, then
one phrase per row with its words in comma-separated cells (``dragon,ball,,,,``). A name with no
``.txt`` file in the directory falls back to the release's file names, so ``--keywords-dir`` can
point at the release's ``metadata_filtering/keywords`` (``gaming_keywords.csv``, ...) or at its
package's ``statics/keywords`` (``gaming.csv``, ...): see :data:`RELEASE_NAMES`.

Matching is on token sequences: a phrase matches when its tokens appear consecutively in the
text's tokens, so "bts" never matches inside "subtitles" and "call of duty" needs all three
words in order. The index maps a phrase's first token to the phrases starting with it, so a line
costs one dictionary look-up per token, whatever the number of phrases.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from acav.core.logs import get_logger

log = get_logger(__name__)

# Lists live beside the stage, in the repository (acav is installed editable from it):
# <repo>/metadata_filtering/keywords/*.txt, found relative to this file.
DEFAULT_KEYWORDS_DIR = Path(__file__).resolve().parents[2] / "metadata_filtering" / "keywords"


# Our list name -> the original release's (its files: <name>_keywords.csv in the repository,
# <name>.csv in its package).
RELEASE_NAMES = {
    "games": "gaming",
    "animation": "animation",
    "official_video": "officialvideo",
    "artists": "artist",
    "tutorial": "tutorial",
}
LIST_SUFFIXES = (".txt", ".csv")


class KeywordListError(ValueError):
    """A keyword list cannot be found or read; the message names the file."""


@dataclass(frozen=True)
class Phrase:
    text: str  # as written in the list file (used in reasons)
    list_name: str  # e.g. "games"
    tokens: tuple[str, ...]  # the form matched against the text's tokens


@dataclass(frozen=True)
class KeywordList:
    name: str
    path: Path
    phrases: tuple[str, ...]


def keywords_dir(configured: str | os.PathLike[str] | None) -> Path:
    directory = Path(configured) if configured else DEFAULT_KEYWORDS_DIR
    if not directory.is_dir():
        raise KeywordListError(
            f"keyword directory not found: {directory}. acav looks for metadata_filtering/keywords in the "
            "repository it was installed from (pip install -e .); pass --keywords-dir DIR or list paths instead."
        )
    return directory


def is_list_path(spec: str) -> bool:
    """A list spec with a slash or a ``.txt``/``.csv`` suffix is a path; anything else is a name."""
    return "/" in spec or os.sep in spec or spec.endswith(LIST_SUFFIXES)


def list_candidates(name: str, directory: Path) -> list[Path]:
    """Where a list name is looked for, in order: ``<name>.txt``, ``<name>.csv``, then the
    release's ``<release>_keywords.csv`` and ``<release>.csv``."""
    release = RELEASE_NAMES.get(name, name)
    names = [f"{name}.txt", f"{name}.csv", f"{release}_keywords.csv", f"{release}.csv"]
    return [directory / n for n in dict.fromkeys(names)]


def resolve_list(spec: str, directory: Path | None) -> Path:
    """``games`` -> ``<directory>/games.txt`` (or a release CSV, see :func:`list_candidates`);
    see :func:`is_list_path` for paths."""
    if is_list_path(spec):
        return Path(spec)
    if directory is None:
        raise KeywordListError(f"keyword list {spec!r} is a name but no keyword directory is set")
    candidates = list_candidates(spec, directory)
    for path in candidates:
        if path.is_file():
            return path
    return candidates[0]  # reading it reports the missing file


def csv_phrases(text: str) -> list[str]:
    """Phrases of a release-format CSV list: the header row skipped, each row's non-empty
    comma-separated cells joined by spaces (``dragon,ball,,,,`` -> ``dragon ball``)."""
    phrases = []
    for row in text.splitlines()[1:]:
        phrase = " ".join(cell.strip() for cell in row.split(",") if cell.strip())
        if phrase:
            phrases.append(phrase)
    return phrases


def read_phrase_file(path: Path) -> tuple[str, ...]:
    """Phrases of one list file, in file order, without comments, blanks or duplicates."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise KeywordListError(f"keyword list not found: {path}") from exc
    except UnicodeDecodeError as exc:
        raise KeywordListError(f"{path}: not UTF-8 text ({exc})") from exc
    except OSError as exc:
        raise KeywordListError(f"{path}: cannot read keyword list ({exc})") from exc
    if text.startswith("\ufeff"):  # a byte-order mark, as spreadsheet programs write
        text = text[1:]
    lines = csv_phrases(text) if path.suffix.lower() == ".csv" else text.splitlines()
    seen: set[str] = set()
    phrases: list[str] = []
    for line in lines:
        phrase = line.strip()
        if not phrase or phrase.startswith("#") or phrase in seen:
            continue
        seen.add(phrase)
        phrases.append(phrase)
    return tuple(phrases)


def load_lists(specs: Sequence[str], configured_dir: str | os.PathLike[str] | None) -> list[KeywordList]:
    directory: Path | None = None
    if not all(is_list_path(spec) for spec in specs):
        directory = keywords_dir(configured_dir)
    lists = []
    for spec in specs:
        path = resolve_list(spec, directory)
        name = path.stem if is_list_path(spec) else spec  # "games" also when read from gaming.csv
        lists.append(KeywordList(name=name, path=path, phrases=read_phrase_file(path)))
    return lists


class PhraseIndex:
    """Phrases indexed by first token; :meth:`find` returns the first match in text order."""

    def __init__(self) -> None:
        self._by_first: dict[str, list[Phrase]] = {}
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def add(self, phrase: Phrase) -> bool:
        """Add a phrase; a token sequence already present keeps its first list (returns False)."""
        if not phrase.tokens:
            return False
        bucket = self._by_first.setdefault(phrase.tokens[0], [])
        if any(p.tokens == phrase.tokens for p in bucket):
            return False
        bucket.append(phrase)
        # Longest first, so at one position the most specific phrase is reported.
        bucket.sort(key=lambda p: -len(p.tokens))
        self._size += 1
        return True

    def find(self, tokens: Sequence[str]) -> Phrase | None:
        by_first = self._by_first
        n = len(tokens)
        for i, token in enumerate(tokens):
            bucket = by_first.get(token)
            if bucket is None:
                continue
            for phrase in bucket:
                k = len(phrase.tokens)
                if k == 1 or (i + k <= n and tuple(tokens[i : i + k]) == phrase.tokens):
                    return phrase
        return None

    def phrases(self) -> list[Phrase]:
        return [p for bucket in self._by_first.values() for p in bucket]


class NaivePhraseScan:
    """Reference matcher: every phrase scanned over every line (the slow way; benchmarks/tests only).

    Same answer as :class:`PhraseIndex` (first match in text order, longest at a position).
    """

    def __init__(self, phrases: Sequence[Phrase]) -> None:
        self._phrases = list(phrases)

    def find(self, tokens: Sequence[str]) -> Phrase | None:
        best: tuple[int, int, int] | None = None
        best_phrase: Phrase | None = None
        n = len(tokens)
        for order, phrase in enumerate(self._phrases):
            k = len(phrase.tokens)
            for i in range(n - k + 1):
                if tuple(tokens[i : i + k]) == phrase.tokens:
                    key = (i, -k, order)
                    if best is None or key < best:
                        best, best_phrase = key, phrase
                    break
        return best_phrase


def build_index(
    lists: Sequence[KeywordList],
    to_tokens: Callable[[str], tuple[str, ...]],
) -> PhraseIndex:
    """Index every phrase of ``lists`` in the form ``to_tokens`` gives it (lists earlier win ties)."""
    index = PhraseIndex()
    for keyword_list in lists:
        for text in keyword_list.phrases:
            tokens = to_tokens(text)
            if not tokens:
                log.warning("%s: phrase %r has no matchable words; ignored", keyword_list.path, text)
                continue
            index.add(Phrase(text=text, list_name=keyword_list.name, tokens=tokens))
    return index
