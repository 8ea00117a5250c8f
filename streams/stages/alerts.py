"""Spike detection on the enriched stream → Alert v1 on social.alerts.v1 + ClickHouse.

    alerting = alerting_stage(...)   # built by streams/app.py
    await alerting.observe(stored)   # the ClickHouse sink, after each insert, with the events it stored
    await alerting.on_idle()         # a worker timer: lets the last minutes close when traffic stops

It rides on the sink rather than consuming social.enriched.v1 itself: a second consumer would deliver and
decode every event once more (~100 µs each, bench/RESULTS.md). Per event it counts it in the per-brand-query /
per-source metrics and folds it into a `processors.spikes.SpikeTracker` (one-minute event-time buckets per
brand query, plus bounded entity and hashtag series). Closed minutes that spike become `Alert`s, produced
keyed by `alert_id` and inserted into `<db>.alerts`; the sink commits its batch only after both succeeded.

State: a plain in-memory tracker, not a Faust Table. It is small and bounded (TrackerConfig.max_subjects
series of K minutes each) and it is LOST on restart or rebalance — it is not rebuilt from the topic. After a
restart a subject alerts again once it has `min_history` minutes of history (brand queries start with
zeros from the restart on). Alert ids are deterministic, so a re-raised alert replaces the same row.

Partitions vs workers: each worker detects on the partitions it owns. The enriched topic is keyed by
event_id, so every worker sees a random 1/N sample of each subject: ratios are preserved, z-scores shrink
by about sqrt(N) and `min_count` applies per worker. Several workers raising the same alert produce the
same alert_id (deduplicated by ClickHouse and by key); the Prometheus rules take `max by (brand_query)`.

Event time: the watermark is the minimum over this worker's partitions of their latest `created_at`
(capped at the wall clock) minus `allowed_lateness`. A timer drops partitions idle for `idle_seconds`
from that minimum, and when every partition is idle it advances the watermark with the wall clock so the
last minutes close and the gauges fall back to 0.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from processors.spikes import SpikeTracker, TrackerConfig
from schemas import Alert, EnrichedEvent
from streams import codec
from streams.metrics import Metrics, language_label, network_label
from streams.runtime.failure_policy import RetryPolicy, describe, until_done
from streams.sinks.clickhouse.rows import utc_naive
from streams.sinks.clickhouse.writer import RowWriter

log = logging.getLogger(__name__)

STAGE = "alerting"
Send = Callable[[Sequence[tuple[str, bytes, bytes]]], Awaitable[None]]

ALERT_COLUMNS: tuple[str, ...] = (
    "alert_id", "kind", "subject_type", "subject", "window_start", "window_end", "observed", "baseline", "score",
    "drivers.term", "drivers.kind", "drivers.window_count", "drivers.baseline_rate", "drivers.lift",
    "sentiment_window", "sentiment_baseline", "example_event_ids", "example_texts", "detected_at",
)


def alert_row(alert: Alert) -> tuple[Any, ...]:
    x = alert.explanation
    return (
        alert.alert_id, alert.kind, alert.subject_type, alert.subject, utc_naive(alert.window_start),
        utc_naive(alert.window_end), alert.observed, alert.baseline, alert.score,
        [d.term for d in x.drivers], [d.kind for d in x.drivers], [d.window_count for d in x.drivers],
        [d.baseline_rate for d in x.drivers], [d.lift for d in x.drivers],
        x.sentiment_window, x.sentiment_baseline, list(x.example_event_ids), list(x.example_texts),
        utc_naive(alert.detected_at),
    )


class AlertingState:
    """The tracker plus what the agent and its timer need around it (wall-clock arrivals, metrics)."""

    def __init__(self, tracker: SpikeTracker, metrics: Metrics, *, idle_seconds: float,
                 monotonic: Any = time.monotonic) -> None:
        self.tracker = tracker
        self.metrics = metrics
        self.idle_seconds = idle_seconds
        self.monotonic = monotonic
        self.arrivals: dict[int, float] = {}  # partition -> monotonic time of its last record
        self.last_event_time: datetime | None = None  # max event time seen (capped at now)
        self.last_arrival: float | None = None
        self.tracked = frozenset(tracker.brand_queries)

    def observe(self, events: Iterable[tuple[int, EnrichedEvent]], now: datetime) -> list[Alert]:
        """Fold (partition, event) pairs in; returns the alerts of the minutes this closed."""
        alerts: list[Alert] = []
        arrived = self.monotonic()
        counts = _BatchCounts()
        for partition, event in events:
            counts.add(event, self.tracked)
            late_before = self.tracker.late_events
            alerts += self.tracker.observe(event, partition=partition, now=now)
            if self.tracker.late_events != late_before:
                self.metrics.alert_late_events.inc()
            self.arrivals[partition] = arrived
            self.last_arrival = arrived
            seen = min(event.event.created_at, now)
            if self.last_event_time is None or seen > self.last_event_time:
                self.last_event_time = seen
        counts.publish(self.metrics)
        self.publish_gauges()
        return alerts

    def on_idle_check(self, now: datetime) -> list[Alert]:
        """Drop idle partitions from the watermark; with all idle, let the wall clock advance it."""
        current = self.monotonic()
        for partition, arrived in list(self.arrivals.items()):
            if current - arrived >= self.idle_seconds:
                self.tracker.forget_partition(partition)
                del self.arrivals[partition]
        watermark = self.tracker.watermark()
        if watermark is None and self.last_event_time is not None and self.last_arrival is not None:
            idle_for = timedelta(seconds=current - self.last_arrival)
            watermark = min(self.last_event_time + idle_for, now) - self.tracker.config.allowed_lateness
        alerts = self.tracker.advance(watermark, detected_at=now)
        self.publish_gauges()
        return alerts

    def publish_gauges(self) -> None:
        m = self.metrics
        for query, score in self.tracker.brand_query_scores.items():
            m.spike_score.labels(brand_query=query, kind="volume").set(score.volume)
            m.spike_score.labels(brand_query=query, kind="negative").set(score.negative)
        m.alert_subjects.set(self.tracker.subject_count)
        if self.tracker.closed_until is not None:
            m.alert_watermark.set(self.tracker.closed_until.timestamp())


@dataclass
class Alerting:
    """The spike detector of one worker, fed by the ClickHouse sink with the events it has just stored."""

    state: AlertingState
    emit: Callable[[list[Alert]], Awaitable[None]]
    clock: Callable[[], datetime]

    async def observe(self, stored: Sequence[tuple[int, EnrichedEvent]]) -> None:
        self.state.metrics.events_in.labels(agent=STAGE).inc(len(stored))
        await self.emit(self.state.observe(stored, self.clock()))

    async def on_idle(self) -> None:
        await self.emit(self.state.on_idle_check(self.clock()))


class _BatchCounts:
    """Per-source and per-brand-query counters summed over a batch: one `labels()` lookup per series, not per
    event (per event they cost ~10 µs on the event loop)."""

    def __init__(self) -> None:
        self.by_source: Counter[tuple[str, str]] = Counter()
        self.mentions: Counter[tuple[str, str]] = Counter()
        self.sentiment_sum: dict[str, float] = defaultdict(float)

    def add(self, event: EnrichedEvent, tracked: frozenset[str]) -> None:
        self.by_source[(event.event.network.value, event.language)] += 1
        for query in dict.fromkeys(event.topics):
            if query in tracked:
                self.mentions[(query, event.sentiment.label.value)] += 1
                self.sentiment_sum[query] += event.sentiment.score + 1.0

    def publish(self, m: Metrics) -> None:
        for (network, language), n in self.by_source.items():
            m.events_by_source.labels(network=network_label(network), language=language_label(language)).inc(n)
        for (query, sentiment), n in self.mentions.items():
            m.brand_query_mentions.labels(brand_query=query, sentiment=sentiment).inc(n)
        for query, total in self.sentiment_sum.items():
            m.brand_query_sentiment_sum.labels(brand_query=query).inc(total)


def alerting_stage(
    *, brand_queries: Sequence[str], writer: RowWriter, table: str, send: Send, alerts_topic: str,
    policy: RetryPolicy, metrics: Metrics, clock: Callable[[], datetime], config: TrackerConfig | None = None,
    idle_seconds: float = 10.0,
) -> Alerting:
    """The detector of one worker. `send` produces (topic, key, value) messages and returns once the broker
    acknowledged them. The worker calls `observe` after each stored batch and `on_idle` on a timer."""
    state = AlertingState(SpikeTracker(tuple(brand_queries), config), metrics, idle_seconds=idle_seconds)
    for query in brand_queries:  # every brand query appears on /metrics from the start
        metrics.spike_score.labels(brand_query=query, kind="volume").set(0)
        metrics.spike_score.labels(brand_query=query, kind="negative").set(0)
    emit_lock = asyncio.Lock()

    async def store(alerts: list[Alert]) -> None:
        await send([(alerts_topic, a.alert_id.encode(), codec.encode_model(a)) for a in alerts])
        # a re-raised alert (same id, later detected_at) is another block: it must replace the row
        token = ",".join(f"{a.alert_id}@{a.detected_at.isoformat()}" for a in alerts)
        rejected = await writer.insert(table, ALERT_COLUMNS, [alert_row(a) for a in alerts], dedup_token=token)
        for bad in rejected:
            log.error("alert %s refused by ClickHouse: %s", alerts[bad.index].alert_id, bad.message)

    async def emit(alerts: list[Alert]) -> None:
        """Produce and store; infrastructure faults block and retry, alerts that keep failing are logged."""
        if not alerts:
            return
        async with emit_lock:
            try:
                await until_done(lambda: store(alerts), policy=policy, what=STAGE,
                                 on_retry=metrics.retry_counter(STAGE))
            except Exception as exc:  # noqa: BLE001 - derived data: recomputed from the events if needed
                log.error("alerting: %d alerts not emitted: %s", len(alerts), describe(exc))
                return
        for a in alerts:
            metrics.alerts.labels(kind=a.kind, subject_type=a.subject_type).inc()
            log.warning("alert %s score=%.1f observed=%.0f baseline=%.1f", a.alert_id, a.score, a.observed,
                        a.baseline)

    return Alerting(state, emit, clock)
