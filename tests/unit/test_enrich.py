"""enrich_batch on hand-built models: spacy.blank + gazetteer EntityRuler, fake detector and scorer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
import spacy

from processors.brand_queries import build_brand_queries
from processors.cache import LRUCache
from processors.enrich import EnrichmentModels, Failure, enrich_batch
from processors.language import LanguagePolicy
from processors.ner import add_gazetteer
from schemas.errors import ErrorCode
from schemas.events import EnrichedEvent, RawEvent, Sentiment, SentimentLabel

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
BRAND_QUERIES = build_brand_queries(
    {
        "brand_queries": [
            {
                "name": "acme",
                "kind": "brand",
                "query": "acme OR #acme",
                "entity": {"label": "ORG", "aliases": ["Acme"]},
            },
            {"name": "acme_es", "kind": "theme", "query": "acme AND lang:es"},
        ],
        "gazetteer": [{"canonical": "jane doe", "label": "PERSON", "aliases": ["Jane Doe"]}],
    }
)


class FakeDetector:
    version = "fake-langid-1"
    candidates = ("en", "es")

    def __init__(self) -> None:
        self.calls = 0

    def detect(self, text: str) -> tuple[str, float]:
        self.calls += 1
        return ("es", 0.99) if " el " in f" {text.lower()} " else ("en", 0.99)


class FakeScorer:
    version = "fake-sentiment-1"

    def __init__(self, fail_on: str | None = None) -> None:
        self.fail_on = fail_on
        self.texts: list[str] = []

    def score(self, texts: Sequence[str], lang: str) -> list[Sentiment]:
        if self.fail_on is not None and any(self.fail_on in t for t in texts):
            raise RuntimeError("scorer exploded")
        self.texts.extend(texts)
        return [
            Sentiment(label=SentimentLabel.POSITIVE, score=0.5)
            if "love" in t
            else Sentiment(label=SentimentLabel.NEUTRAL, score=0.0)
            for t in texts
        ]


def make_models(*, cache_size: int = 100, scorer: FakeScorer | None = None) -> EnrichmentModels:
    nlp = {}
    for lang in ("en", "es"):
        pipeline = spacy.blank(lang)
        add_gazetteer(pipeline, BRAND_QUERIES.gazetteer)
        nlp[lang] = pipeline
    scorer = scorer or FakeScorer()
    return EnrichmentModels(
        nlp=nlp,
        detector=FakeDetector(),
        sentiment={"en": scorer, "es": scorer},
        brand_queries=BRAND_QUERIES,
        version="sp-enrich/1 test",
        language_policy=LanguagePolicy(min_letters=3),
        cache=LRUCache(cache_size) if cache_size else None,
        aliases=BRAND_QUERIES.alias_map(),
    )


def post(n: int, text: str, lang_hint: str | None = None) -> RawEvent:
    return RawEvent(
        event_id=f"x:{n}",
        network="x",
        native_id=str(n),
        kind="post",
        author={"id": "u1"},
        text=text,
        lang_hint=lang_hint,
        created_at=NOW,
        ingested_at=NOW,
    )


def test_enrich_batch_returns_enriched_events_in_order() -> None:
    posts = [post(1, "I love Acme and Jane Doe 🎉 #Acme @bob https://a.io/x $ACME"), post(2, "el perro de Acme")]
    out = enrich_batch(posts, make_models(), now=NOW)
    assert [type(r) for r in out] == [EnrichedEvent, EnrichedEvent]
    first, second = out
    assert isinstance(first, EnrichedEvent) and isinstance(second, EnrichedEvent)
    assert first.event_id == "x:1" and second.event_id == "x:2"
    assert first.language == "en" and second.language == "es"
    assert first.sentiment.label == SentimentLabel.POSITIVE
    ents = {(e.text, e.label, e.canonical, e.source) for e in first.entities}
    assert ("Acme", "ORG", "acme", "gazetteer") in ents
    assert ("Jane Doe", "PERSON", "jane doe", "gazetteer") in ents
    assert first.hashtags == ("acme",) and first.mentions == ("bob",)
    assert first.urls == ("https://a.io/x",) and first.cashtags == ("ACME",)
    assert [e.name for e in first.emojis] == ["party popper"]
    assert first.topics == ("acme",) and set(second.topics) == {"acme", "acme_es"}
    assert first.enricher_version == "sp-enrich/1 test" and first.enriched_at == NOW


def test_enrich_entity_offsets_index_original_text_after_retweet_prefix() -> None:
    text = "RT @someone:   Jane Doe joined Acme"
    (out,) = enrich_batch([post(1, text)], make_models(), now=NOW)
    assert isinstance(out, EnrichedEvent)
    assert out.entities
    for e in out.entities:
        assert text[e.start : e.end] == e.text


def test_enrich_duplicate_texts_hit_the_cache() -> None:
    scorer = FakeScorer()
    models = make_models(scorer=scorer)
    posts = [post(1, "Acme is fine"), post(2, "RT @a: Acme is fine"), post(3, "Acme is fine ")]
    out = enrich_batch(posts, models, now=NOW)
    assert all(isinstance(r, EnrichedEvent) for r in out)
    assert scorer.texts == ["Acme is fine"]  # analysed once
    out2 = enrich_batch([post(4, "Acme is fine")], models, now=NOW)
    assert isinstance(out2[0], EnrichedEvent)
    assert scorer.texts == ["Acme is fine"]
    assert models.cache is not None and models.cache.stats.hits >= 1
    shifted = out[1]
    assert isinstance(shifted, EnrichedEvent)
    assert [(e.start, e.end) for e in shifted.entities] == [(7, 11)]


def test_enrich_failing_post_is_a_failure_value_not_an_exception() -> None:
    models = make_models(scorer=FakeScorer(fail_on="boom"), cache_size=0)
    out = enrich_batch([post(1, "fine text here"), post(2, "boom goes it"), post(3, "more text")], models, now=NOW)
    assert isinstance(out[0], EnrichedEvent) and isinstance(out[2], EnrichedEvent)
    failure = out[1]
    assert isinstance(failure, Failure)
    assert failure.event_id == "x:2" and failure.code == ErrorCode.ENRICHMENT_FAILED
    assert "scorer exploded" in failure.message


def test_enrich_empty_and_symbol_only_posts_fall_back() -> None:
    posts = [post(1, ""), post(2, "👍👍 https://x.y/z"), post(3, "ok", lang_hint="es-ES")]
    out = enrich_batch(posts, make_models(), now=NOW)
    assert all(isinstance(r, EnrichedEvent) for r in out)
    langs = [r.language for r in out if isinstance(r, EnrichedEvent)]
    assert langs == ["und", "und", "es"]


def test_enrich_empty_batch() -> None:
    assert enrich_batch([], make_models(), now=NOW) == []


def test_enrich_rejects_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone"):
        enrich_batch([post(1, "x")], make_models(), now=datetime(2025, 1, 1))  # noqa: DTZ001
