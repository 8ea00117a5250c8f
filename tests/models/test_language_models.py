"""py3langid through the language policy on short real-looking posts (marker `models`)."""

from __future__ import annotations

import pytest

from processors.language import Py3LangidDetector, identify

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def detector() -> Py3LangidDetector:
    return Py3LangidDetector(("en", "es", "fr", "de", "it", "pt"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@user just got my new phone and the battery is awful https://t.co/x", "en"),
        ("¿Alguien sabe a qué hora empieza el partido? #futbol", "es"),
        ("RT @bob: je ne comprends pas pourquoi le train est encore en retard", "fr"),
        ("Ich habe heute keine Lust mehr auf diesen Regen 🌧️", "de"),
        ("Non vedo l'ora di andare al mare questo fine settimana", "it"),
        ("Não acredito que o show foi cancelado de novo", "pt"),
    ],
)
def test_language_detects_short_posts(detector: Py3LangidDetector, text: str, expected: str) -> None:
    result = identify(text, None, detector)
    assert (result.language, result.source) == (expected, "detector")
    assert result.confidence >= 0.6


def test_language_hint_decides_when_text_is_too_short(detector: Py3LangidDetector) -> None:
    assert identify("jajaja 😂 @x", "es", detector).language == "es"
    assert identify("lol", None, detector).language == "und"


def test_language_rejects_unknown_candidate() -> None:
    with pytest.raises(ValueError):
        Py3LangidDetector(("en", "xx-not-a-language"))
