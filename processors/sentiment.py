"""Sentiment scorers trained by this project: TF-IDF word + char n-grams with a linear head, per language.

``LinearSentimentModel`` is one trained language (weights in the directory under processors/trained/ that the
language's entry in processors/languages.py names, rebuilt by tools/train_sentiment.py).
``TrainedSentimentScorer`` implements ``processors.sentiment_api.SentimentScorer`` for every language: its own
model where it has one, otherwise a fallback scorer (VADER by default: emoji and emoticons carry over to most
languages; confidence is scaled down there).

Label = argmax of the class probabilities; score = P(positive) - P(negative) in [-1, 1] (so a
positive label never has a negative score and vice versa); confidence = the winning probability.
Pure: files are read once at load time, scoring does no I/O.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from processors.languages import LANGUAGES, TRAINED_DIR, language
from processors.sentiment_api import UNSCORED, SentimentScorer, VaderScorer
from processors.sentiment_features import FeatureConfig, analyze, normalize, tokenize
from processors.sentiment_lexicon import lexicon_features
from schemas.events import Sentiment, SentimentLabel

LABELS = (SentimentLabel.NEGATIVE, SentimentLabel.NEUTRAL, SentimentLabel.POSITIVE)
# dense feature sets a model may ask for (names stored in model.json)
DENSE_FEATURES = ("vader", "lexicon")
FORMAT = 1

FloatArray = npt.NDArray[np.float32]


def dense_features(name: str, lang: str) -> Any:
    """The dense feature function called ``name`` for a model of language ``lang``: text -> tuple of floats."""
    if name == "vader":
        return VaderScorer().polarity
    if name == "lexicon":
        negators = language(lang).negators

        def lexicon(text: str) -> tuple[float, ...]:
            return lexicon_features(tokenize(normalize(text, strip_accents=True)), negators)

        return lexicon
    raise ValueError(f"unknown dense feature set {name!r}; known: {DENSE_FEATURES}")


class LinearSentimentModel:
    """TF-IDF (sublinear tf, l2-normalised) n-grams [+ dense features] -> 3-class linear softmax."""

    def __init__(
        self,
        *,
        config: FeatureConfig,
        vocabulary: Sequence[str],
        idf: FloatArray,
        coef: FloatArray,
        dense_coef: FloatArray,
        intercept: FloatArray,
        dense: str | None,
        dense_scale: float,
        version: str,
    ) -> None:
        if coef.shape != (len(vocabulary), 3) or idf.shape != (len(vocabulary),):
            raise ValueError(f"weights do not match a vocabulary of {len(vocabulary)} features")
        if intercept.shape != (3,):
            raise ValueError("intercept must have 3 entries (negative, neutral, positive)")
        language(config.lang)  # a model of a language without an entry would be scored with no negators
        self.config = config
        self._vocab = {f: i for i, f in enumerate(vocabulary)}
        self._idf = idf.astype(np.float32)
        self._coef = coef.astype(np.float32)
        self._dense_coef = dense_coef.astype(np.float32)
        self._intercept = intercept.astype(np.float32)
        self._dense_name = dense
        self._dense = dense_features(dense, config.lang) if dense else None
        self._dense_scale = float(dense_scale)
        if self._dense is not None and self._dense_coef.shape[1:] != (3,):
            raise ValueError("dense_coef must be (n_dense, 3)")
        self.version = version

    @classmethod
    def load(cls, directory: Path) -> LinearSentimentModel:
        meta = json.loads((directory / "model.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"{directory}: model format {meta.get('format')!r}, expected {FORMAT}")
        with gzip.open(directory / "vocab.json.gz", "rt", encoding="utf-8") as fh:
            vocabulary = json.load(fh)
        with np.load(directory / "weights.npz") as w:
            arrays = {k: w[k] for k in ("idf", "coef", "dense_coef", "intercept", "bias")}
        return cls(
            config=FeatureConfig.from_json(meta["features"]),
            vocabulary=vocabulary,
            idf=arrays["idf"],
            coef=arrays["coef"],
            dense_coef=arrays["dense_coef"],
            intercept=arrays["intercept"] + arrays["bias"],
            dense=meta.get("dense"),
            dense_scale=float(meta.get("dense_scale", 1.0)),
            version=str(meta["version"]),
        )

    def logits(self, texts: Sequence[str]) -> FloatArray:
        """(n, 3) class scores before softmax."""
        n = len(texts)
        out = np.tile(self._intercept, (n, 1))
        get = self._vocab.get
        ids: list[int] = []
        lengths: list[int] = []
        for text in texts:
            found = [j for j in map(get, analyze(text, self.config)) if j is not None]
            ids.extend(found)
            lengths.append(len(found))
        if ids:
            size = len(self._vocab)
            rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
            keys, counts = np.unique(rows * size + np.asarray(ids, dtype=np.int64), return_counts=True)
            r, j = np.divmod(keys, size)
            w = (1.0 + np.log(counts)) * self._idf[j]  # sublinear tf * idf
            norms = np.sqrt(np.bincount(r, weights=w * w, minlength=n))
            w = w / norms[r]
            contrib = self._coef[j] * w[:, None].astype(np.float32)
            for k in range(3):
                out[:, k] += np.bincount(r, weights=contrib[:, k], minlength=n).astype(np.float32)
        if self._dense is not None:
            dense = np.asarray([self._dense(text) for text in texts], dtype=np.float32)
            out += (dense * self._dense_scale) @ self._dense_coef
        return out

    def predict_proba(self, texts: Sequence[str]) -> FloatArray:
        if not texts:
            return np.zeros((0, 3), dtype=np.float32)
        z = self.logits(texts)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        proba: FloatArray = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
        return proba


def sentiments_from_proba(proba: FloatArray) -> list[Sentiment]:
    out: list[Sentiment] = []
    for p_neg, p_neu, p_pos in proba.tolist():
        probs = (p_neg, p_neu, p_pos)
        k = max(range(3), key=probs.__getitem__)
        score = min(1.0, max(-1.0, p_pos - p_neg))
        out.append(Sentiment(label=LABELS[k], score=round(score, 4), confidence=round(min(1.0, probs[k]), 4)))
    return out


class TrainedSentimentScorer:
    """SentimentScorer over per-language linear models, with a fallback scorer for other languages."""

    def __init__(
        self,
        models: Mapping[str, LinearSentimentModel],
        fallback: SentimentScorer | None = None,
        *,
        fallback_confidence: float = 0.5,
    ) -> None:
        self._models = dict(models)
        self._fallback = fallback
        self._fallback_confidence = fallback_confidence
        parts = [f"{lang}:{m.version}" for lang, m in sorted(self._models.items())]
        if fallback is not None:
            parts.append(f"*:{fallback.version}")
        self.version = "sp-sentiment[" + ",".join(parts) + "]"

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(self._models))

    def score(self, texts: Sequence[str], lang: str) -> list[Sentiment]:
        if not texts:
            return []
        model = self._models.get(_base_language(lang))
        if model is not None:
            return sentiments_from_proba(model.predict_proba(texts))
        if self._fallback is None:
            return [UNSCORED for _ in texts]
        scaled = []
        for s in self._fallback.score(texts, lang):
            conf = min(1.0, max(0.0, s.confidence * self._fallback_confidence))
            scaled.append(Sentiment(label=s.label, score=s.score, confidence=round(conf, 4)))
        return scaled


def _base_language(lang: str) -> str:
    return lang.lower().replace("_", "-").split("-", 1)[0]


def load_language_model(lang: str, trained_dir: Path = TRAINED_DIR) -> LinearSentimentModel:
    name = language(lang).sentiment_model
    if name is None:
        raise ValueError(f"no sentiment model is registered for {lang!r} (processors/languages.py)")
    directory = trained_dir / name
    if not (directory / "model.json").exists():
        raise FileNotFoundError(
            f"no trained sentiment model for {lang!r} in {directory}; rebuild with `python tools/train_sentiment.py`"
        )
    return LinearSentimentModel.load(directory)


def model_languages() -> tuple[str, ...]:
    """The registered languages that have a trained sentiment model."""
    return tuple(code for code, spec in LANGUAGES.items() if spec.sentiment_model is not None)


def load_sentiment_scorer(
    *,
    languages: Sequence[str] | None = None,
    trained_dir: Path = TRAINED_DIR,
    fallback: SentimentScorer | None = None,
) -> TrainedSentimentScorer:
    """The project's sentiment scorer: trained models for ``languages`` (default: every registered language
    with one), ``fallback`` (default VADER) for the rest."""
    chosen = model_languages() if languages is None else languages
    models = {lang: load_language_model(lang, trained_dir) for lang in chosen}
    return TrainedSentimentScorer(models, fallback if fallback is not None else VaderScorer())
