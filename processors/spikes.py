"""Spike detection: per-subject one-minute buckets, a robust baseline, z-scores and explained alerts.

Pure: no Kafka, Faust, ClickHouse, Prometheus or wall clock. Event time comes from the posts
(`created_at`); the caller passes `now` (for `detected_at` and to cap event time) explicitly.

Two layers:

* `fold(state, bucket, config, *, detected_at) -> (state, alerts)` — one subject's series. The
  baseline is the median of the previous `baseline_buckets` (K) one-minute counts (empty minutes count
  as 0), the spread is max(1.4826·MAD, sqrt(max(median, 1))) (the Poisson floor keeps sparse and
  perfectly flat series from producing infinite scores), and the score is
  z = (count − median) / spread. A `volume_spike` fires when z ≥ z_threshold, count ≥ min_count,
  count ≥ min_ratio·median, at least `min_history` minutes of history exist and the subject is not in
  cooldown (`cooldown_buckets` minutes since its last alert of that kind). `negative_surge` is the same
  test on the count of negative posts, plus negative share of the minute ≥ negative_min_share.
  Term baselines (entities, hashtags, words) are exponentially decayed counts with mean age K minutes,
  pruned to `max_baseline_terms` per subject, so state per subject is O(K + max_baseline_terms).

* Windowing in front of the fold is processors/spike_merge.py: partial minute counts per stored batch, merged
  per subject and closed by an event-time watermark over every source partition (the worker's Faust agent,
  streams/alerting/). A subject's minutes are folded in order; a subject first seen after its partition's first
  minute gets a history of zeros back to that minute (it truly had no mentions), so a brand-new hashtag burst is
  detectable; before `min_history` minutes nothing alerts.

Explanation lift, with additive smoothing (α = `smoothing`, β = 2α):
    lift(term) = ((c_w + α) / (n_w + β)) / ((c_b + α) / (n_b + β))
c_w = posts in the spike minute containing the term, n_w = posts in the minute, c_b / n_b the decayed
baseline counts. Drivers need c_w ≥ min_driver_count and lift > 1; the best few of each kind are kept.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import Any, Literal

from schemas.alert import Alert, AlertExplanation, TermLift

SubjectType = Literal["topic", "entity", "hashtag"]
# A brand query's subject_type. "topic" is the legacy name Alert v1 publishes (schemas/alert.py): renaming a
# published value needs a new contract version.
BRAND_QUERY: SubjectType = "topic"
TermKind = Literal["entity", "hashtag", "term"]
AlertKind = Literal["volume_spike", "negative_surge"]

MAD_TO_SIGMA = 1.4826
EXAMPLE_TEXT_CHARS = 280


@dataclass(frozen=True)
class DetectorConfig:
    bucket_seconds: int = 60
    baseline_buckets: int = 30  # K: minutes of history in the baseline
    min_history: int = 10  # minutes of history before a subject may alert
    z_threshold: float = 4.0
    min_count: int = 10  # posts in the minute (negative posts for negative_surge)
    min_ratio: float = 1.5  # count >= min_ratio * baseline median
    cooldown_buckets: int = 15  # minutes between two alerts of one kind for one subject
    negative_min_share: float = 0.5
    max_baseline_terms: int = 200
    smoothing: float = 1.0
    min_driver_count: int = 2
    drivers_per_kind: Mapping[str, int] = field(
        default_factory=lambda: {"entity": 3, "hashtag": 3, "term": 4})
    max_examples: int = 3

    def __post_init__(self) -> None:
        if self.bucket_seconds < 1 or self.baseline_buckets < 3:
            raise ValueError("bucket_seconds must be >= 1 and baseline_buckets >= 3")
        if not 1 <= self.min_history <= self.baseline_buckets:
            raise ValueError("min_history must be in [1, baseline_buckets]")
        if self.z_threshold <= 0 or self.min_count < 1 or self.min_ratio < 1 or self.cooldown_buckets < 0:
            raise ValueError("z_threshold > 0, min_count >= 1, min_ratio >= 1, cooldown_buckets >= 0 required")

    @property
    def bucket(self) -> timedelta:
        return timedelta(seconds=self.bucket_seconds)

    @property
    def decay(self) -> float:
        return 1.0 - 1.0 / self.baseline_buckets


@dataclass(frozen=True)
class Example:
    event_id: str
    text: str


@dataclass(frozen=True)
class Bucket:
    """What one subject got in one minute (the input of `fold`)."""

    subject_type: SubjectType
    subject: str
    start: datetime
    count: int = 0
    negative: int = 0
    sentiment_sum: float = 0.0
    terms: Mapping[tuple[TermKind, str], int] = field(default_factory=dict)  # posts containing the term
    examples: tuple[Example, ...] = ()
    negative_examples: tuple[Example, ...] = ()


@dataclass(frozen=True)
class SeriesState:
    """One subject's history. `next_start` is the first minute not folded yet (None before the first)."""

    next_start: datetime | None = None
    counts: tuple[int, ...] = ()
    negatives: tuple[int, ...] = ()
    sentiment_sums: tuple[float, ...] = ()
    baseline_terms: Mapping[tuple[TermKind, str], float] = field(default_factory=dict)
    baseline_posts: float = 0.0
    last_alert: Mapping[str, datetime] = field(default_factory=dict)  # kind -> window_start
    volume_score: float = 0.0  # gated scores of the last folded minute (0 below min_count / history)
    negative_score: float = 0.0


@dataclass(frozen=True)
class Baseline:
    median: float
    spread: float

    def z(self, value: float) -> float:
        return (value - self.median) / self.spread


def robust_baseline(history: Sequence[float]) -> Baseline:
    """Median and a MAD spread with a Poisson floor: never zero, so z is always finite."""
    if not history:
        return Baseline(0.0, 1.0)
    med = float(median(history))
    mad = float(median(abs(x - med) for x in history))
    return Baseline(med, max(MAD_TO_SIGMA * mad, math.sqrt(max(med, 1.0))))


def _gap_fill(state: SeriesState, start: datetime, config: DetectorConfig) -> SeriesState:
    """Append zero minutes between state.next_start and `start` (at most K: older ones fall out anyway)."""
    if state.next_start is None or start <= state.next_start:
        return state
    missing = int((start - state.next_start) / config.bucket)
    if missing <= 0:
        return state
    k = config.baseline_buckets
    zeros = min(missing, k)
    factor = config.decay ** missing
    return replace(
        state,
        counts=(state.counts + (0,) * zeros)[-k:],
        negatives=(state.negatives + (0,) * zeros)[-k:],
        sentiment_sums=(state.sentiment_sums + (0.0,) * zeros)[-k:],
        baseline_terms={t: c * factor for t, c in state.baseline_terms.items() if c * factor >= 0.05},
        baseline_posts=state.baseline_posts * factor,
        next_start=start,
    )


def fold(state: SeriesState, bucket: Bucket, config: DetectorConfig, *,
         detected_at: datetime) -> tuple[SeriesState, list[Alert]]:
    """Fold one closed minute into a subject's series; returns the new state and the alerts it raises.

    A bucket older than `state.next_start` (already folded) leaves the state unchanged.
    """
    if state.next_start is not None and bucket.start < state.next_start:
        return state, []
    state = _gap_fill(state, bucket.start, config)
    history_len = len(state.counts)
    volume = robust_baseline(state.counts)
    negative = robust_baseline(state.negatives)
    z_volume = volume.z(bucket.count)
    z_negative = negative.z(bucket.negative)
    warm = history_len >= config.min_history
    volume_score = z_volume if warm and bucket.count >= config.min_count else 0.0
    negative_score = z_negative if warm and bucket.negative >= config.min_count else 0.0

    alerts: list[Alert] = []
    last_alert = dict(state.last_alert)

    def cooled(kind: str) -> bool:
        last = last_alert.get(kind)
        return last is None or bucket.start - last >= config.cooldown_buckets * config.bucket

    if (volume_score >= config.z_threshold and bucket.count >= config.min_ratio * volume.median
            and cooled("volume_spike")):
        alerts.append(_alert("volume_spike", bucket, state, config, observed=bucket.count,
                             baseline=volume.median, score=z_volume, detected_at=detected_at))
        last_alert["volume_spike"] = bucket.start
    share = bucket.negative / bucket.count if bucket.count else 0.0
    if (negative_score >= config.z_threshold and bucket.negative >= config.min_ratio * negative.median
            and share >= config.negative_min_share and cooled("negative_surge")):
        alerts.append(_alert("negative_surge", bucket, state, config, observed=bucket.negative,
                             baseline=negative.median, score=z_negative, detected_at=detected_at))
        last_alert["negative_surge"] = bucket.start

    k = config.baseline_buckets
    decayed = {t: c * config.decay for t, c in state.baseline_terms.items()}
    for term, c in bucket.terms.items():
        decayed[term] = decayed.get(term, 0.0) + c
    kept = sorted(((t, c) for t, c in decayed.items() if c >= 0.05), key=lambda tc: (-tc[1], tc[0]))
    new_state = SeriesState(
        next_start=bucket.start + config.bucket,
        counts=(state.counts + (bucket.count,))[-k:],
        negatives=(state.negatives + (bucket.negative,))[-k:],
        sentiment_sums=(state.sentiment_sums + (bucket.sentiment_sum,))[-k:],
        baseline_terms=dict(kept[: config.max_baseline_terms]),
        baseline_posts=state.baseline_posts * config.decay + bucket.count,
        last_alert=last_alert,
        volume_score=volume_score,
        negative_score=negative_score,
    )
    return new_state, alerts


def lift(window_count: float, window_posts: float, baseline_count: float, baseline_posts: float,
         smoothing: float = 1.0) -> float:
    a, b = smoothing, 2.0 * smoothing
    return ((window_count + a) / (window_posts + b)) / ((baseline_count + a) / (baseline_posts + b))


def explain(bucket: Bucket, state: SeriesState, config: DetectorConfig, *, negative: bool) -> AlertExplanation:
    """Drivers (terms most over-represented vs the baseline), sentiment shift and example posts."""
    candidates: dict[str, list[TermLift]] = {"entity": [], "hashtag": [], "term": []}
    subject = bucket.subject.casefold()
    for (kind, term), count in bucket.terms.items():
        if count < config.min_driver_count or term.casefold() == subject:
            continue
        base = state.baseline_terms.get((kind, term), 0.0)
        value = lift(count, bucket.count, base, state.baseline_posts, config.smoothing)
        if value > 1.0:
            rate = base / state.baseline_posts if state.baseline_posts > 0 else 0.0
            candidates[kind].append(TermLift(term=term, kind=kind, window_count=count,
                                             baseline_rate=round(rate, 6), lift=round(value, 3)))
    drivers: list[TermLift] = []
    for kind_name, items in candidates.items():
        items.sort(key=lambda t: (-t.lift, -t.window_count, t.term))
        drivers.extend(items[: config.drivers_per_kind.get(kind_name, 0)])
    drivers.sort(key=lambda t: (-t.lift, -t.window_count, t.term))
    history_posts = sum(state.counts)
    examples = (bucket.negative_examples or bucket.examples) if negative else bucket.examples
    return AlertExplanation(
        drivers=tuple(drivers),
        sentiment_window=round(bucket.sentiment_sum / bucket.count, 4) if bucket.count else 0.0,
        sentiment_baseline=round(sum(state.sentiment_sums) / history_posts, 4) if history_posts else 0.0,
        example_event_ids=tuple(e.event_id for e in examples[: config.max_examples]),
        example_texts=tuple(e.text for e in examples[: config.max_examples]),
    )


def alert_id(kind: str, subject_type: str, subject: str, window_start: datetime) -> str:
    """Stable across redelivery and across workers: "<kind>:<subject_type>:<subject>:<window_start iso>"."""
    return f"{kind}:{subject_type}:{subject}:{window_start.astimezone(UTC).isoformat()}"


def _alert(kind: AlertKind, bucket: Bucket, state: SeriesState, config: DetectorConfig, *, observed: float,
           baseline: float, score: float, detected_at: datetime) -> Alert:
    return Alert(
        alert_id=alert_id(kind, bucket.subject_type, bucket.subject, bucket.start),
        kind=kind, subject_type=bucket.subject_type, subject=bucket.subject,
        window_start=bucket.start, window_end=bucket.start + config.bucket,
        observed=float(observed), baseline=float(baseline), score=round(score, 3),
        explanation=explain(bucket, state, config, negative=kind == "negative_surge"),
        detected_at=detected_at,
    )


# --------------------------------------------------------------------------- terms of a post

_WORD = re.compile(r"[^\W\d_][\w'’-]*[^\W_]|[^\W\d_]{3,}", re.UNICODE)
_STRIP = re.compile(r"https?://\S+|www\.\S+|[@#$]\w+")
STOPWORDS = frozenset("""
a about after again all also am an and any are as at be because been before being but by can could did do
does doing down during each few for from further get got had has have having he her here hers him his how i
if in into is it its just like me more most my no nor not now of off on once only or other our out over own
same she should so some such than that the their them then there these they this those through to too under
until up very was we were what when where which while who whom why will with would you your yours yet one
really still even much new today got dont don't can't im i'm it's that's ever never
de la que el en y a los del se las por un para con no una su al lo como más mas pero sus le ya o este sí
porque esta entre cuando muy sin sobre también me hasta hay donde quien desde todo nos durante todos uno les ni
contra otros ese eso ante ellos e esto mí antes algunos qué unos yo otro otras otra él tanto esa estos mucho
quienes nada muchos cual poco ella estar estas algunas algo nosotros mi mis tú te ti tu tus ellas es son fue
ha han era está están estoy hoy
um uma os as do da dos das em no na nos nas com não mais mas por para pelo pela se que ao à é foi são
le les des du un une et est pas pour dans sur avec ce qui ne au aux il elle je vous nous mon ma mes son sa
""".split())


def terms_of(text: str) -> set[str]:
    """Distinct lower-cased words of a post (no URLs, mentions, hashtags, numbers or stop words)."""
    words = _WORD.findall(_STRIP.sub(" ", text).casefold())
    return {w for w in words if len(w) >= 3 and w not in STOPWORDS}


# --------------------------------------------------------------------------- state as JSON (a Faust table value)


def series_to_json(state: SeriesState) -> dict[str, Any]:
    def iso(moment: datetime | None) -> str | None:
        return None if moment is None else moment.astimezone(UTC).isoformat()

    return {"next_start": iso(state.next_start), "counts": list(state.counts), "negatives": list(state.negatives),
            "sentiment_sums": list(state.sentiment_sums),
            "baseline_terms": [[k, t, c] for (k, t), c in state.baseline_terms.items()],
            "baseline_posts": state.baseline_posts, "last_alert": {k: iso(v) for k, v in state.last_alert.items()},
            "volume_score": state.volume_score, "negative_score": state.negative_score}


def series_from_json(data: Mapping[str, Any]) -> SeriesState:
    start = data["next_start"]
    return SeriesState(
        next_start=None if start is None else datetime.fromisoformat(start), counts=tuple(data["counts"]),
        negatives=tuple(data["negatives"]), sentiment_sums=tuple(data["sentiment_sums"]),
        baseline_terms={(k, t): c for k, t, c in data["baseline_terms"]}, baseline_posts=data["baseline_posts"],
        last_alert={k: datetime.fromisoformat(v) for k, v in data["last_alert"].items()},
        volume_score=data["volume_score"], negative_score=data["negative_score"])
