"""Language identification policy: cleaning, hint normalisation and fallbacks."""

from __future__ import annotations

import pytest

from processors.language import LanguagePolicy, identify, normalise_hint
from processors.normalize_text import body_of, text_for_langid


class FixedDetector:
    version = "fixed-1"
    candidates = ("en", "es")

    def __init__(self, lang: str, prob: float) -> None:
        self.result = (lang, prob)
        self.seen: list[str] = []

    def detect(self, text: str) -> tuple[str, float]:
        self.seen.append(text)
        return self.result


@pytest.mark.parametrize(
    ("hint", "expected"),
    [("en", "en"), ("en-US", "en"), ("es_419", "es"), ("ES", "es"), ("und", None), ("", None), (None, None),
     ("zxx", None), ("123", None)],
)
def test_language_hint_normalisation(hint: str | None, expected: str | None) -> None:
    assert normalise_hint(hint) == expected


def test_language_text_for_langid_strips_social_noise() -> None:
    cleaned = text_for_langid("@user ¿Qué tal? https://t.co/xyz #huelga #NikeAir $AAPL 👍🏽 123")
    assert cleaned == "¿Qué tal? huelga"


def test_language_confident_detection_wins_over_hint() -> None:
    result = identify("this is an english sentence", "es", FixedDetector("en", 0.95))
    assert (result.language, result.confidence, result.source) == ("en", 0.95, "detector")


def test_language_unconfident_detection_uses_hint() -> None:
    result = identify("this is an english sentence", "es-MX", FixedDetector("en", 0.4))
    assert (result.language, result.source) == ("es", "hint")


def test_language_short_text_without_hint_is_undetermined() -> None:
    detector = FixedDetector("en", 0.99)
    result = identify("@bob lol 👍 https://x.co", None, detector)
    assert (result.language, result.confidence, result.source) == ("und", 0.0, "fallback")
    assert detector.seen == []  # too few letters: detector not even asked


def test_language_fallback_is_configurable() -> None:
    result = identify("ok", None, FixedDetector("en", 0.99), LanguagePolicy(fallback="en"))
    assert result.language == "en" and result.source == "fallback"


def test_language_body_strips_retweet_prefix_and_keeps_offset() -> None:
    text = "RT @a_b: RT @c:  hola amigos "
    body = body_of(text)
    assert body.text == "hola amigos"
    assert text[body.offset : body.offset + len(body.text)] == body.text
