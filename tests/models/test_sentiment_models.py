"""The committed sentiment models (processors/trained/sentiment_*): load, sanity, exact scoring maths."""

from __future__ import annotations

import math

import numpy as np
import pytest

from processors.sentiment import load_language_model, load_sentiment_scorer, model_languages
from processors.sentiment_api import SentimentScorer
from processors.sentiment_features import analyze
from schemas.events import SentimentLabel

pytestmark = pytest.mark.models

OBVIOUS = {
    "en": [
        ("I love this so much, best day ever! 😍", SentimentLabel.POSITIVE),
        ("This is the worst service, I hate it. Never again.", SentimentLabel.NEGATIVE),
        ("The meeting is on Tuesday at 3pm in room 4.", SentimentLabel.NEUTRAL),
    ],
    "es": [
        ("Me encanta, qué día tan bonito! Gracias a todos 😍", SentimentLabel.POSITIVE),
        ("Odio esto, qué asco de servicio, estoy harto", SentimentLabel.NEGATIVE),
    ],
}


@pytest.fixture(scope="module")
def scorer():
    return load_sentiment_scorer()


def test_sentiment_models_load_and_follow_protocol(scorer) -> None:
    assert isinstance(scorer, SentimentScorer)
    assert scorer.languages == tuple(sorted(model_languages())) == ("en", "es")
    assert "tfidf-lr-en-" in scorer.version and "tfidf-lr-es-" in scorer.version


@pytest.mark.parametrize("lang", sorted(OBVIOUS))
def test_sentiment_models_obvious_posts(scorer, lang: str) -> None:
    texts = [t for t, _ in OBVIOUS[lang]]
    assert [s.label for s in scorer.score(texts, lang)] == [label for _, label in OBVIOUS[lang]]


@pytest.mark.parametrize("lang", model_languages())
def test_sentiment_models_vectorised_maths_equals_naive_loop(lang: str) -> None:
    model = load_language_model(lang)
    texts = [t for t, _ in OBVIOUS[lang]] + ["", "ok", "@user jajaja no sé 🤔 http://x.co/1", "a" * 300]
    vocab, idf, coef = model._vocab, model._idf, model._coef
    expected = []
    for text in texts:
        counts: dict[int, int] = {}
        for f in analyze(text, model.config):
            if f in vocab:
                counts[vocab[f]] = counts.get(vocab[f], 0) + 1
        w = {j: (1 + math.log(c)) * float(idf[j]) for j, c in counts.items()}
        norm = math.sqrt(sum(x * x for x in w.values())) or 1.0
        z = model._intercept.astype(np.float64).copy()
        for j, x in w.items():
            z += coef[j] * (x / norm)
        if model._dense is not None:
            z += (np.asarray(model._dense(text)) * model._dense_scale) @ model._dense_coef
        expected.append(z)
    np.testing.assert_allclose(model.logits(texts), np.asarray(expected), atol=1e-4)


def test_sentiment_models_unknown_language_falls_back_to_vader(scorer) -> None:
    out = scorer.score(["C'est génial 😍", "trop triste 😢 :("], "fr")
    assert out[0].score > 0 > out[1].score
    assert all(s.confidence <= 0.5 for s in out)
