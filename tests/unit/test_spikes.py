"""The spike detector on synthetic series (fold); the windowing in front of it is tests/unit/test_spike_detector.py."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from processors.spikes import (
    Bucket,
    DetectorConfig,
    Example,
    SeriesState,
    alert_id,
    fold,
    lift,
    robust_baseline,
    terms_of,
)
from schemas import Author, EnrichedEvent, Entity, RawEvent, Sentiment, SentimentLabel

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
NOW = T0 + timedelta(days=1)


DEFAULT = DetectorConfig()


def run(counts, negatives=None, config=DEFAULT, terms=None):
    """Fold a series of minute counts; returns (final state, [(minute index, alert)], [state per minute])."""
    state, alerts, states = SeriesState(), [], []
    for i, count in enumerate(counts):
        neg = negatives[i] if negatives else 0
        bucket = Bucket("topic", "nimbus", T0 + i * MINUTE, count=count, negative=neg,
                        sentiment_sum=-0.6 * neg + 0.2 * (count - neg),
                        terms=(terms(i) if terms else {}),
                        examples=(Example(f"x:{i}", f"post {i}"),), negative_examples=())
        state, raised = fold(state, bucket, config, detected_at=NOW)
        alerts += [(i, a) for a in raised]
        states.append(state)
    return state, alerts, states


def poisson(rng: random.Random, lam: float) -> int:
    # Knuth; fine for the small rates of these tests
    import math
    limit, k, p = math.exp(-lam), 0, 1.0
    while p > limit:
        k += 1
        p *= rng.random()
    return k - 1


def test_spikes_flat_series_never_alerts_and_scores_zero():
    state, alerts, _ = run([50] * 120)
    assert alerts == []
    assert state.volume_score == 0.0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_spikes_noisy_poisson_series_does_not_alert(seed):
    rng = random.Random(seed)
    _, alerts, _ = run([poisson(rng, 40) for _ in range(240)])
    assert alerts == []


def test_spikes_step_alerts_once_then_adapts():
    counts = [20] * 40 + [100] * 60
    state, alerts, states = run(counts)
    assert [i for i, _ in alerts] == [40]
    alert = alerts[0][1]
    assert alert.kind == "volume_spike" and alert.observed == 100 and alert.baseline == 20
    assert alert.score >= 4
    assert robust_baseline(state.counts).median == 100  # the new level became the baseline
    assert states[-1].volume_score < 4


def test_spikes_gentle_ramp_does_not_alert():
    counts = [round(50 + i * 50 / 60) for i in range(90)]
    _, alerts, _ = run(counts)
    assert alerts == []


def test_spikes_steep_ramp_alerts():
    counts = [30] * 30 + [30 + 25 * i for i in range(1, 8)]
    _, alerts, _ = run(counts)
    assert alerts and alerts[0][0] in range(30, 34)


def test_spikes_single_outlier_alerts_once_and_leaves_the_baseline_alone():
    counts = [30] * 40 + [200] + [30] * 40
    state, alerts, states = run(counts)
    assert [i for i, _ in alerts] == [40]
    assert robust_baseline(state.counts).median == 30
    assert states[41].volume_score == 0.0  # 30 against a median of 30
    assert max(s.volume_score for s in states[41:]) < 1


def test_spikes_sparse_counts_need_min_count():
    rng = random.Random(5)
    counts = [1 if rng.random() < 0.2 else 0 for _ in range(100)]
    counts[60] = 6  # z is huge against a zero median, but only 6 posts
    counts[80] = 12
    _, alerts, states = run(counts)
    assert [i for i, _ in alerts] == [80]
    assert states[60].volume_score == 0.0  # gated: below min_count


def test_spikes_no_alert_before_min_history():
    config = DetectorConfig(min_history=10)
    _, alerts, _ = run([5] * 5 + [500], config=config)
    assert alerts == []
    _, alerts, _ = run([5] * 10 + [500], config=config)
    assert [i for i, _ in alerts] == [10]


def test_spikes_cooldown_limits_repeats_of_an_intermittent_spike():
    counts = [20] * 40
    for i in range(40, 100, 3):
        counts[i:i + 3] = [20, 20, 200]
    config = DetectorConfig(cooldown_buckets=15)
    _, alerts, _ = run(counts[:100], config=config)
    minutes = [i for i, _ in alerts]
    assert minutes and all(b - a >= 15 for a, b in zip(minutes, minutes[1:], strict=False))


def test_spikes_gaps_count_as_zero_minutes():
    state = SeriesState()
    config = DetectorConfig(min_history=5)
    for i in range(10):
        state, _ = fold(state, Bucket("hashtag", "x", T0 + i * MINUTE, count=12), config, detected_at=NOW)
    # 20 silent minutes, then a burst: the zeros make it a spike
    state, alerts = fold(state, Bucket("hashtag", "x", T0 + 30 * MINUTE, count=40), config, detected_at=NOW)
    assert state.counts[-21:-1] == (0,) * 20
    assert [a.kind for a in alerts] == ["volume_spike"]
    # a minute already folded changes nothing
    again, none = fold(state, Bucket("hashtag", "x", T0 + 5 * MINUTE, count=999), config, detected_at=NOW)
    assert again is state and none == []


def test_spikes_negative_surge_needs_a_negative_share():
    counts = [40] * 40 + [60, 60]
    negatives = [8] * 40 + [45, 20]
    _, alerts, _ = run(counts, negatives)
    kinds = [(i, a.kind) for i, a in alerts]
    assert (40, "negative_surge") in kinds
    neg = next(a for i, a in alerts if a.kind == "negative_surge")
    assert neg.observed == 45 and neg.baseline == 8
    assert neg.explanation.sentiment_window < neg.explanation.sentiment_baseline


def test_spikes_fold_does_not_mutate_its_input_state():
    state, _, _ = run([10] * 20)
    before = (state.counts, dict(state.baseline_terms), dict(state.last_alert))
    fold(state, Bucket("topic", "nimbus", T0 + 20 * MINUTE, count=500, terms={("term", "x"): 3}),
         DetectorConfig(), detected_at=NOW)
    assert (state.counts, dict(state.baseline_terms), dict(state.last_alert)) == before


def test_spikes_explanation_ranks_over_represented_terms_with_smoothing():
    def terms(i):
        if i < 40:
            return {("term", "battery"): 10, ("hashtag", "nimbus"): 5, ("entity", "london"): 2}
        return {("term", "battery"): 40, ("term", "explode"): 70, ("hashtag", "nimbusfail"): 60,
                ("entity", "london"): 9, ("term", "rare"): 1, ("entity", "nimbus"): 100}
    _, alerts, _ = run([50] * 40 + [100], terms=terms)
    (_, alert), = alerts
    drivers = {(d.kind, d.term): d for d in alert.explanation.drivers}
    assert ("term", "explode") in drivers and ("hashtag", "nimbusfail") in drivers
    assert ("term", "rare") not in drivers  # below min_driver_count
    assert ("entity", "nimbus") not in drivers  # the subject itself explains nothing
    lifts = [d.lift for d in alert.explanation.drivers]
    assert lifts == sorted(lifts, reverse=True)
    assert drivers[("term", "explode")].baseline_rate == 0.0
    assert ("term", "battery") not in drivers or drivers[("term", "explode")].lift > drivers[("term", "battery")].lift
    assert alert.explanation.example_event_ids == ("x:40",)
    assert alert.explanation.example_texts == ("post 40",)


def test_spikes_lift_smoothing_shrinks_small_counts():
    assert lift(0, 10, 0, 100) < lift(5, 10, 0, 100) < lift(9, 10, 0, 100)
    assert lift(10, 100, 100, 1000) == pytest.approx(1.0, rel=0.1)
    assert lift(2, 2, 0, 0) == pytest.approx((3 / 4) / (1 / 2))


def test_spikes_alert_id_is_stable_and_kind_specific():
    a = alert_id("volume_spike", "topic", "nimbus", T0)
    assert a == "volume_spike:topic:nimbus:2026-11-20T12:00:00+00:00"
    assert a != alert_id("volume_spike", "entity", "nimbus", T0)


def test_spikes_terms_of_skips_urls_mentions_hashtags_stopwords_and_numbers():
    text = "The Nimbus X5 battery EXPLODED!!! @nimbus #fail https://t.co/abc 2026 la batería no carga"
    assert terms_of(text) == {"nimbus", "battery", "exploded", "batería", "carga"}


# --------------------------------------------------------------------------- tracker


def enriched(i: int, at: datetime, *, topics=("nimbus",), hashtags=(), entities=(), negative=False,
             text="Nimbus phone is fine") -> EnrichedEvent:
    raw = RawEvent(event_id=f"x:{i}", network="x", native_id=str(i), kind="post",
                   author=Author(id="a"), text=text, created_at=at, ingested_at=at)
    label = SentimentLabel.NEGATIVE if negative else SentimentLabel.NEUTRAL
    return EnrichedEvent(
        event=raw, language="en", language_confidence=0.9,
        sentiment=Sentiment(label=label, score=-0.7 if negative else 0.0),
        entities=tuple(Entity(text=e, label="ORG", canonical=e.casefold(), start=0, end=len(e)) for e in entities),
        hashtags=tuple(hashtags), topics=tuple(topics), enricher_version="t", enriched_at=at)
