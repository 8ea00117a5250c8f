"""processors.sentiment on a tiny hand-built model: label mapping, score range, order, fallback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from processors.languages import language
from processors.sentiment import (
    LABELS,
    LinearSentimentModel,
    TrainedSentimentScorer,
    load_sentiment_scorer,
    sentiments_from_proba,
)
from processors.sentiment_api import UNSCORED, SentimentScorer
from processors.sentiment_features import FeatureConfig, analyze, normalize
from processors.sentiment_lexicon import lexicon_features
from schemas.events import Sentiment, SentimentLabel

CONFIG = FeatureConfig(word_ngrams=2, char_min=0, char_max=0, negation=True, lang="en")
VOCAB = ["w:good", "w:bad", "w:great", "w:awful", "w:good_NEG"]
# columns: negative, neutral, positive
COEF = np.array([[-3, 0, 3], [3, 0, -3], [-4, 0, 4], [4, 0, -4], [3, 0, -3]], dtype=np.float32)


def tiny_model(version: str = "tiny-1") -> LinearSentimentModel:
    return LinearSentimentModel(
        config=CONFIG,
        vocabulary=VOCAB,
        idf=np.ones(len(VOCAB), dtype=np.float32),
        coef=COEF,
        dense_coef=np.zeros((0, 3), dtype=np.float32),
        intercept=np.array([0.0, 0.5, 0.0], dtype=np.float32),
        dense=None,
        dense_scale=1.0,
        version=version,
    )


class FixedScorer:
    version = "fixed-1"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def score(self, texts, lang):
        self.calls.append(lang)
        return [Sentiment(label=SentimentLabel.POSITIVE, score=0.8, confidence=0.9) for _ in texts]


@pytest.fixture
def scorer() -> TrainedSentimentScorer:
    return TrainedSentimentScorer({"en": tiny_model("tiny-en"), "es": tiny_model("tiny-es")}, FixedScorer())


def test_sentiment_scorer_implements_protocol(scorer: TrainedSentimentScorer) -> None:
    assert isinstance(scorer, SentimentScorer)
    assert scorer.version == "sp-sentiment[en:tiny-en,es:tiny-es,*:fixed-1]"


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("what a good day", SentimentLabel.POSITIVE),
        ("GREAT!!!", SentimentLabel.POSITIVE),
        ("this is bad", SentimentLabel.NEGATIVE),
        ("not good at all", SentimentLabel.NEGATIVE),
        ("the bus leaves at nine", SentimentLabel.NEUTRAL),
    ],
)
def test_sentiment_label_mapping(scorer: TrainedSentimentScorer, text: str, label: SentimentLabel) -> None:
    (s,) = scorer.score([text], "en")
    assert s.label == label
    if label == SentimentLabel.POSITIVE:
        assert s.score > 0
    elif label == SentimentLabel.NEGATIVE:
        assert s.score < 0


def test_sentiment_scores_in_range_and_consistent(scorer: TrainedSentimentScorer) -> None:
    texts = ["good " * 50, "awful bad " * 40, "", "   ", "🙂", "good bad", "x" * 5000]
    for s in scorer.score(texts, "en"):
        assert -1.0 <= s.score <= 1.0
        assert 0.0 <= s.confidence <= 1.0
        if s.label == SentimentLabel.POSITIVE:
            assert s.score >= 0
        if s.label == SentimentLabel.NEGATIVE:
            assert s.score <= 0


def test_sentiment_batch_order_preserved(scorer: TrainedSentimentScorer) -> None:
    texts = ["good", "bad", "nothing here", "great", "awful"] * 7
    batch = scorer.score(texts, "en")
    one_by_one = [scorer.score([t], "en")[0] for t in texts]
    assert batch == one_by_one
    assert [s.label for s in batch[:5]] == [
        SentimentLabel.POSITIVE,
        SentimentLabel.NEGATIVE,
        SentimentLabel.NEUTRAL,
        SentimentLabel.POSITIVE,
        SentimentLabel.NEGATIVE,
    ]


def test_sentiment_empty_text_and_empty_batch(scorer: TrainedSentimentScorer) -> None:
    assert scorer.score([], "en") == []
    (s,) = scorer.score([""], "en")
    assert s.label == SentimentLabel.NEUTRAL  # intercept only


@pytest.mark.parametrize("lang", ["en", "EN", "en-GB", "es_MX"])
def test_sentiment_language_tags_map_to_models(scorer: TrainedSentimentScorer, lang: str) -> None:
    (s,) = scorer.score(["bad"], lang)
    assert s.label == SentimentLabel.NEGATIVE


def test_sentiment_unknown_language_uses_fallback_with_lower_confidence(scorer: TrainedSentimentScorer) -> None:
    out = scorer.score(["schlecht", "gut"], "de")
    assert [s.label for s in out] == [SentimentLabel.POSITIVE] * 2
    assert all(s.confidence == pytest.approx(0.45) for s in out)
    assert scorer._fallback.calls == ["de"]  # type: ignore[union-attr]


def test_sentiment_unknown_language_without_fallback_is_unscored() -> None:
    scorer = TrainedSentimentScorer({"en": tiny_model()}, None)
    assert scorer.score(["gut", "und"], "und") == [UNSCORED, UNSCORED]


def test_sentiment_from_proba_mapping() -> None:
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.0, 0.0, 1.0]], dtype=np.float32)
    out = sentiments_from_proba(proba)
    assert [s.label for s in out] == list(LABELS)
    assert [s.score for s in out] == pytest.approx([-0.6, 0.0, 1.0])
    assert [s.confidence for s in out] == pytest.approx([0.7, 0.8, 1.0])


def test_sentiment_model_rejects_mismatched_weights() -> None:
    with pytest.raises(ValueError, match="vocabulary"):
        LinearSentimentModel(
            config=CONFIG,
            vocabulary=VOCAB[:2],
            idf=np.ones(2, dtype=np.float32),
            coef=COEF,
            dense_coef=np.zeros((0, 3), dtype=np.float32),
            intercept=np.zeros(3, dtype=np.float32),
            dense=None,
            dense_scale=1.0,
            version="x",
        )


def test_sentiment_load_round_trip(tmp_path: Path) -> None:
    import gzip

    d = tmp_path / "sentiment_en"
    d.mkdir()
    (d / "model.json").write_text(
        json.dumps({"format": 1, "version": "tiny-2", "features": CONFIG.to_json(), "dense": None}), encoding="utf-8"
    )
    with gzip.open(d / "vocab.json.gz", "wt", encoding="utf-8") as fh:
        json.dump(VOCAB, fh)
    np.savez(
        d / "weights.npz",
        idf=np.ones(len(VOCAB), np.float32),
        coef=COEF,
        dense_coef=np.zeros((0, 3), np.float32),
        intercept=np.zeros(3, np.float32),
        bias=np.array([0, 0.5, 0], np.float32),
    )
    scorer = load_sentiment_scorer(languages=["en"], trained_dir=tmp_path, fallback=FixedScorer())
    assert scorer.version == "sp-sentiment[en:tiny-2,*:fixed-1]"
    assert [s.label for s in scorer.score(["good", "bad", "meh"], "en")] == [
        SentimentLabel.POSITIVE,
        SentimentLabel.NEGATIVE,
        SentimentLabel.NEUTRAL,
    ]


def test_sentiment_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="train_sentiment"):
        load_sentiment_scorer(languages=["en"], trained_dir=tmp_path)


def test_sentiment_features_normalise_like_tweeteval() -> None:
    assert normalize("@Someone loooooove it https://t.co/x &amp; more") == "@user looove it   & more"
    feats = analyze("I don't like it. Fine", FeatureConfig(char_min=0, char_max=0))
    assert "w:like_NEG" in feats and "w:it_NEG" in feats and "w:fine" in feats
    assert "b:like_NEG it_NEG" in feats
    chars = analyze("ab", FeatureConfig(word_ngrams=1, char_min=2, char_max=3, negation=False))
    assert chars == ["w:ab", "c: a", "c:ab", "c:b ", "c: ab", "c:ab "]


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("me encanta, qué alegría 😍", 1),
        ("odio esto, qué asco", -1),
        ("no me gusta nada", -1),
        ("mañana a las 9", 0),
        ("jajajajajajaja", 1),
        ("mientras empieza la temporada", 0),
        ("qué estafa, son unos mediocres", -1),
    ],
)
def test_sentiment_lexicon_es_polarity(text: str, sign: int) -> None:
    from processors.sentiment_features import tokenize

    pos, neg, diff = lexicon_features(tokenize(normalize(text, strip_accents=True)), language("es").negators)
    assert (diff > 0) - (diff < 0) == sign
