"""The sentiment plug-in point of the enricher, and VADER as the baseline scorer.

A scorer scores a batch of texts of one language. ``processors.models.load_models(sentiment=...)``
takes a mapping language -> scorer; languages without a scorer get a neutral sentiment with
confidence 0. Implementations must be pure (no I/O at score time) and return one Sentiment per text,
in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from schemas.events import Sentiment, SentimentLabel

UNSCORED = Sentiment(label=SentimentLabel.NEUTRAL, score=0.0, confidence=0.0)


@runtime_checkable
class SentimentScorer(Protocol):
    # name-version for EnrichedEvent.enricher_version, e.g. "vader-3.3.2"
    version: str

    def score(self, texts: Sequence[str], lang: str) -> list[Sentiment]: ...


def _clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


class VaderScorer:
    """VADER compound score, with the usual ±0.05 thresholds. English lexicon: weak on other languages."""

    def __init__(self, threshold: float = 0.05) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._analyzer = SentimentIntensityAnalyzer()
        self._threshold = threshold
        self.version = "vader-3.3.2"

    def polarity(self, text: str) -> tuple[float, float, float, float]:
        """VADER's (compound, pos, neg, neu): the trained English model's dense features."""
        s = self._analyzer.polarity_scores(text)
        return (float(s["compound"]), float(s["pos"]), float(s["neg"]), float(s["neu"]))

    def score(self, texts: Sequence[str], lang: str) -> list[Sentiment]:
        out = []
        for text in texts:
            compound = float(self._analyzer.polarity_scores(text)["compound"])
            compound = _clip(compound, -1.0, 1.0)
            if compound >= self._threshold:
                label, conf = SentimentLabel.POSITIVE, abs(compound)
            elif compound <= -self._threshold:
                label, conf = SentimentLabel.NEGATIVE, abs(compound)
            else:
                label, conf = SentimentLabel.NEUTRAL, 1.0 - abs(compound) / (2 * self._threshold)
            out.append(Sentiment(label=label, score=round(compound, 4), confidence=round(_clip(conf, 0, 1), 4)))
        return out
