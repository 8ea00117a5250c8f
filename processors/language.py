"""Language identification for short social posts.

Detection runs on the post without URLs, mentions, cashtags and emojis (``text_for_langid``), over a
configurable candidate set (restricting the candidates is what makes short-text detection usable).
When detection is not confident — too few letters, or a top probability below ``min_confidence`` —
the event's ``lang_hint`` (from the network) is used; without a hint the result is ``fallback``
("und" by default).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from processors.languages import DETECTED_ONLY, LANGUAGES
from processors.normalize_text import text_for_langid

# What the detector may answer: the languages the enricher analyses, and some it only recognises.
DEFAULT_CANDIDATES: tuple[str, ...] = (*LANGUAGES, *DETECTED_ONLY)
UNDETERMINED = "und"


class LanguageDetector(Protocol):
    """Scores a (cleaned) text over a fixed candidate set."""

    version: str
    candidates: tuple[str, ...]

    def detect(self, text: str) -> tuple[str, float]:
        """Best language and its probability in [0, 1]."""
        ...


class Py3LangidDetector:
    """py3langid (naive Bayes over byte n-grams, model shipped in the wheel) restricted to ``candidates``."""

    def __init__(self, candidates: Sequence[str] = DEFAULT_CANDIDATES) -> None:
        import py3langid
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self.candidates = tuple(candidates)
        self._identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        self._identifier.set_languages(list(self.candidates))
        self.version = f"py3langid-{py3langid.__version__}"

    def detect(self, text: str) -> tuple[str, float]:
        lang, prob = self._identifier.classify(text)
        return str(lang), float(prob)


@dataclass(frozen=True)
class LanguageResult:
    language: str  # ISO 639-1 or "und"
    confidence: float
    source: Literal["detector", "hint", "fallback"]


@dataclass(frozen=True)
class LanguagePolicy:
    min_letters: int = 8  # fewer letters than this after cleaning: don't trust the detector
    min_confidence: float = 0.60  # top probability below this: prefer the hint
    hint_confidence: float = 0.50  # confidence reported when the hint decides
    fallback: str = UNDETERMINED  # neither confident detection nor a hint


_HINT_RE = re.compile(r"^([a-zA-Z]{2,3})(?:[-_][A-Za-z0-9]+)*$")


def normalise_hint(hint: str | None) -> str | None:
    """ "en-US" -> "en", "es_419" -> "es"; empty, "und", "zxx" or malformed -> None."""
    if not hint:
        return None
    m = _HINT_RE.match(hint.strip())
    if m is None:
        return None
    code = m.group(1).casefold()
    if code in {"und", "zxx", "mul", "qme", "qht", "qam", "qst"}:  # X's "undetermined"-like codes
        return None
    return code


def identify(
    text: str,
    lang_hint: str | None,
    detector: LanguageDetector,
    policy: LanguagePolicy = LanguagePolicy(),  # noqa: B008 - frozen, so a shared default is safe
) -> LanguageResult:
    hint = normalise_hint(lang_hint)
    cleaned = text_for_langid(text)
    letters = sum(ch.isalpha() for ch in cleaned)
    if letters >= policy.min_letters:
        lang, prob = detector.detect(cleaned)
        if prob >= policy.min_confidence:
            return LanguageResult(lang, round(prob, 4), "detector")
    if hint is not None:
        return LanguageResult(hint, policy.hint_confidence, "hint")
    return LanguageResult(policy.fallback, 0.0, "fallback")
