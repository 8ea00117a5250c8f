"""enrich_batch(): RawEvent -> EnrichedEvent for a batch, with per-post failures as values.

Per post: body (no "RT @user:" prefix) -> duplicate cache -> language id -> spaCy NER for that
language (gazetteer EntityRuler + statistical NER, batched with ``nlp.pipe(as_tuples=True)``) ->
sentiment for that language -> social entities of the full text -> brand-query match.

A post that cannot be enriched comes back as a ``Failure`` at its index; the batch never raises
because of one post. If a batched stage (NER or sentiment) fails, it is retried post by post so
only the posts that really fail are marked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from processors.brand_queries import BrandQueries, MatchContext
from processors.cache import LRUCache
from processors.language import LanguageDetector, LanguagePolicy, LanguageResult, identify, normalise_hint
from processors.languages import language
from processors.ner import entities_from_doc
from processors.normalize_text import body_of
from processors.sentiment_api import UNSCORED, SentimentScorer
from processors.social import extract_social, find_urls
from schemas.errors import ErrorCode
from schemas.events import EnrichedEvent, Entity, RawEvent, Sentiment

if TYPE_CHECKING:
    from spacy.language import Language

MAX_MESSAGE = 500


@dataclass(frozen=True)
class Failure:
    """A per-post failure, never an exception out of the batch."""

    event_id: str | None
    code: ErrorCode
    message: str


@dataclass(frozen=True)
class TextAnalysis:
    """What depends only on the body text and the language hint: the cached part of an enrichment."""

    language: LanguageResult
    sentiment: Sentiment
    entities: tuple[Entity, ...]  # offsets relative to the body


CacheKey = tuple[str, str | None]  # (body text, normalised lang hint)


@dataclass(frozen=True)
class EnrichmentModels:
    """Everything enrich_batch needs, built once by ``processors.models.load_models()``."""

    nlp: Mapping[str, Language]  # language (an entry of processors.languages) -> spaCy pipeline (gazetteer + ner)
    detector: LanguageDetector
    sentiment: Mapping[str, SentimentScorer]  # language -> scorer; others get a neutral, 0-confidence score
    brand_queries: BrandQueries
    version: str
    language_policy: LanguagePolicy = LanguagePolicy()
    cache: LRUCache[CacheKey, TextAnalysis] | None = None
    aliases: Mapping[str, str] = field(default_factory=dict)  # casefolded alias -> canonical
    batch_size: int = 64
    profile: str = "custom"


def _message(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:MAX_MESSAGE]


def _shift(entities: Sequence[Entity], offset: int) -> tuple[Entity, ...]:
    if offset == 0:
        return tuple(entities)
    return tuple(e.model_copy(update={"start": e.start + offset, "end": e.end + offset}) for e in entities)


def _run_ner(
    nlp: Language, labels: Mapping[str, str], items: list[tuple[CacheKey, str]], models: EnrichmentModels
) -> dict[CacheKey, tuple[Entity, ...] | BaseException]:
    """NER over (key, body) pairs, batched; on a batch error, post by post."""

    def extract(doc: Any) -> tuple[Entity, ...]:
        urls = [(u.start, u.end) for u in find_urls(doc.text)] if "/" in doc.text or "www" in doc.text else []
        return tuple(entities_from_doc(doc, labels=labels, aliases=models.aliases, url_spans=urls))

    out: dict[CacheKey, tuple[Entity, ...] | BaseException] = {}
    try:
        for doc, key in nlp.pipe(((text, key) for key, text in items), as_tuples=True, batch_size=models.batch_size):
            out[key] = extract(doc)
        return out
    except Exception:  # noqa: BLE001 - isolate the failing post below
        out.clear()
    for key, text in items:
        try:
            out[key] = extract(nlp(text))
        except Exception as exc:  # noqa: BLE001
            out[key] = exc
    return out


def _run_sentiment(
    scorer: SentimentScorer, lang: str, items: list[tuple[CacheKey, str]]
) -> dict[CacheKey, Sentiment | BaseException]:
    out: dict[CacheKey, Sentiment | BaseException] = {}
    texts = [text for _, text in items]
    try:
        scores = scorer.score(texts, lang)
        if len(scores) != len(texts):
            raise ValueError(f"scorer {scorer.version} returned {len(scores)} scores for {len(texts)} texts")
        return {key: s for (key, _), s in zip(items, scores, strict=True)}
    except Exception:  # noqa: BLE001, S110 - isolate the failing post below
        pass
    for key, text in items:
        try:
            out[key] = scorer.score([text], lang)[0]
        except Exception as exc:  # noqa: BLE001
            out[key] = exc
    return out


def analyse_texts(
    items: Mapping[CacheKey, str], models: EnrichmentModels
) -> dict[CacheKey, TextAnalysis | BaseException]:
    """Language, NER and sentiment for unique (body, hint) keys."""
    results: dict[CacheKey, TextAnalysis | BaseException] = {}
    languages: dict[CacheKey, LanguageResult] = {}
    by_lang: dict[str, list[tuple[CacheKey, str]]] = defaultdict(list)
    for key, text in items.items():
        try:
            lang = identify(text, key[1], models.detector, models.language_policy)
        except Exception as exc:  # noqa: BLE001
            results[key] = exc
            continue
        languages[key] = lang
        by_lang[lang.language].append((key, text))

    for lang_code, group in by_lang.items():
        nonempty = [(k, t) for k, t in group if t]
        nlp = models.nlp.get(lang_code)
        ents: Mapping[CacheKey, tuple[Entity, ...] | BaseException] = (
            _run_ner(nlp, language(lang_code).label_map, nonempty, models) if nlp is not None and nonempty else {}
        )
        scorer = models.sentiment.get(lang_code)
        sents: Mapping[CacheKey, Sentiment | BaseException] = (
            _run_sentiment(scorer, lang_code, nonempty) if scorer is not None and nonempty else {}
        )
        for key, _ in group:
            e = ents.get(key, ())
            s = sents.get(key, UNSCORED)
            if isinstance(e, BaseException):
                results[key] = e
            elif isinstance(s, BaseException):
                results[key] = s
            else:
                results[key] = TextAnalysis(languages[key], s, e)
    return results


def enrich_batch(
    posts: Sequence[RawEvent], models: EnrichmentModels, *, now: datetime
) -> list[EnrichedEvent | Failure]:
    """Enrich posts; the result has the same order and length as ``posts``."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    cache = models.cache
    results: list[EnrichedEvent | Failure | None] = [None] * len(posts)
    prepared: list[tuple[int, CacheKey, int] | None] = [None] * len(posts)
    analyses: dict[CacheKey, TextAnalysis | BaseException] = {}
    todo: dict[CacheKey, str] = {}

    for i, post in enumerate(posts):
        try:
            body = body_of(post.text)
            key: CacheKey = (body.text, normalise_hint(post.lang_hint))
            prepared[i] = (i, key, body.offset)
            if key in analyses or key in todo:
                continue
            hit = cache.get(key) if cache is not None else None
            if hit is not None:
                analyses[key] = hit
            else:
                todo[key] = body.text
        except Exception as exc:  # noqa: BLE001
            results[i] = Failure(getattr(post, "event_id", None), ErrorCode.ENRICHMENT_FAILED, _message(exc))

    if todo:
        fresh = analyse_texts(todo, models)
        analyses.update(fresh)
        if cache is not None:
            for key, value in fresh.items():
                if isinstance(value, TextAnalysis):
                    cache.put(key, value)

    for i, post in enumerate(posts):
        slot = prepared[i]
        if slot is None:
            continue
        _, key, offset = slot
        try:
            analysis = analyses[key]
            if isinstance(analysis, BaseException):
                results[i] = Failure(post.event_id, ErrorCode.ENRICHMENT_FAILED, _message(analysis))
                continue
            social = extract_social(post.text)
            language = analysis.language.language
            ctx = MatchContext.build(
                post.text,
                hashtags=social.hashtags,
                mentions=social.mentions,
                cashtags=social.cashtags,
                language=language,
            )
            results[i] = EnrichedEvent(
                event=post,
                language=language,
                language_confidence=analysis.language.confidence,
                sentiment=analysis.sentiment,
                entities=_shift(analysis.entities, offset),
                hashtags=social.hashtags,
                mentions=social.mentions,
                urls=social.urls,
                cashtags=social.cashtags,
                emojis=social.emojis,
                topics=models.brand_queries.match(ctx),
                enricher_version=models.version,
                enriched_at=now,
            )
        except Exception as exc:  # noqa: BLE001
            results[i] = Failure(post.event_id, ErrorCode.ENRICHMENT_FAILED, _message(exc))

    return [r if r is not None else Failure(None, ErrorCode.ENRICHMENT_FAILED, "not processed") for r in results]
