"""Stage `alerts`: the Faust agent `spike-detector` on social.counts.v1 → Alert v1 on social.alerts.v1 + <db>.alerts,
and signals for the incident grouper.

    social.counts.v1 (one CountsBatch per sink batch and partition) ──► SpikeDetector.on_message ──► table spike-state
        partials → merge into each subject's open minutes (processors/spike_merge.py: idempotent by offset range)
        progress → advance the partition's clock; close every minute the watermark passed:
                   sum the minute → spikes.fold → alerts, per-brand-query scores, signals

All of one subject's partials arrive on one partition, from every worker's sink, so its minute counts are the
whole stream's whatever the number of workers. The state is one Faust table, `spike-state` (changelog-backed: it
survives restarts and moves with rebalances; docs/DESIGN.md §3), whose values are the JSON forms of pure states:
- `open:<subject>`: the minutes not closed yet (`OpenMinutes`);
- `series:<subject>`: the detector's history (`SeriesState`: K minutes, baseline terms, cooldowns);
- `clock`: the partition's view of the source partitions' progress and how far it closed minutes.
One table, so all of a partition's changes go to one changelog partition, in order: a crash leaves a prefix of
them, and `_close` writes a subject's series before removing the minute from its open state, so handling the
same message again (it was not acknowledged) folds nothing twice and loses nothing. The agent acknowledges a
message only after the table changes are in the changelog (streams/app.py:changelog_written).
Which subjects have open minutes, and when entity/hashtag series were last seen, is kept in memory and rebuilt
from the table at the first message after a partition is assigned.

A table changes only while the agent handles a message of the same partition (Faust writes the change to that
partition of the changelog). Alerts are produced and inserted before the agent acknowledges the message, so an
alert is never lost; a crash in between raises it again with the same `alert_id` (deduplicated by key and by
ReplacingMergeTree).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from processors.spike_merge import (
    Clock,
    OpenMinutes,
    PartialConfig,
    advance_clock,
    bucket_of,
    clock_from_json,
    clock_to_json,
    close,
    merge,
    minute_start,
    minutes_to_close,
    open_from_json,
    open_to_json,
    related_subjects,
    split_subject_key,
    subject_key,
    watermark,
)
from processors.spikes import BRAND_QUERY, DetectorConfig, SeriesState, fold, series_from_json, series_to_json
from schemas import Alert
from schemas.counts import CountsBatch, SubjectPartial
from schemas.signals import AlertSignal, RelatedSubject, SpikeSignals
from streams import codec
from streams.metrics import Metrics
from streams.runtime.failure_policy import RetryPolicy, describe, until_done
from streams.runtime.partitioner import partition_of
from streams.sinks.clickhouse.rows import utc_naive
from streams.sinks.clickhouse.writer import RowWriter

log = logging.getLogger(__name__)

STAGE = "alerting"
Send = Callable[[Sequence[tuple[str, bytes | None, bytes]]], Awaitable[None]]
Table = MutableMapping[str, Any]  # a faust Table (or a dict in tests): JSON values

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


@dataclass(frozen=True)
class WatermarkConfig:
    allowed_lateness: timedelta = timedelta(seconds=30)
    # A sink says a partition is caught up every few seconds (streams/stages/counts.py:on_idle); a claim older
    # than this no longer lets the watermark pass the partition (its worker may have died with records left).
    caught_up_valid: timedelta = timedelta(seconds=15)
    max_subjects: int = 2000  # entity + hashtag series per partition; the least recently seen go first


def alert_emitter(*, writer: RowWriter, table: str, send: Send, alerts_topic: str, policy: RetryPolicy,
                  metrics: Metrics) -> Callable[[list[Alert]], Awaitable[None]]:
    """Produce alerts keyed by alert_id (acks awaited), then insert them. Infrastructure faults block and retry;
    alerts that keep failing for themselves are logged and dropped (derived data)."""
    emit_lock = asyncio.Lock()

    async def store(alerts: list[Alert]) -> None:
        await send([(alerts_topic, a.alert_id.encode(), codec.encode_model(a)) for a in alerts])
        # a re-raised alert (same id, later detected_at) is another block: it must replace the row
        token = ",".join(f"{a.alert_id}@{a.detected_at.isoformat()}" for a in alerts)
        rejected = await writer.insert(table, ALERT_COLUMNS, [alert_row(a) for a in alerts], dedup_token=token)
        for bad in rejected:
            log.error("alert %s refused by ClickHouse: %s", alerts[bad.index].alert_id, bad.message)

    async def emit(alerts: list[Alert]) -> None:
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

    return emit


@dataclass
class _Partition:
    """What the detector keeps in memory for one assigned partition (rebuilt from the tables)."""

    clock: Clock
    open_minutes: dict[datetime, set[str]] = field(default_factory=dict)  # minute -> subjects with counts
    last_seen: dict[str, datetime] = field(default_factory=dict)  # entity/hashtag series -> last minute folded


@dataclass
class SpikeDetector:
    brand_queries: Sequence[str]
    partitions: int  # of social.counts.v1 and of its source social.enriched.v1 (`setup` creates both alike)
    table: Table
    emit_alerts: Callable[[list[Alert]], Awaitable[None]]
    send_signals: Callable[[SpikeSignals], Awaitable[None]]
    metrics: Metrics
    clock: Callable[[], datetime]
    detector: DetectorConfig = DetectorConfig()
    partial: PartialConfig = PartialConfig()
    marks: WatermarkConfig = WatermarkConfig()

    def __post_init__(self) -> None:
        self._brand_keys: dict[int, list[str]] = {}
        for query in dict.fromkeys(self.brand_queries):
            key = subject_key(BRAND_QUERY, query)
            self._brand_keys.setdefault(partition_of(key.encode(), self.partitions), []).append(key)
        self._assigned: dict[int, _Partition] = {}

    # ------------------------------------------------------------------ input

    async def on_message(self, value: bytes | None, partition: int) -> None:
        """One message of social.counts.v1 from `partition`. Never raises for the message's content."""
        try:
            batch = codec.decode_counts(value)
        except codec.CodecError as exc:
            self.metrics.dead_letter(exc.code.value, STAGE)
            log.error("alerting: unreadable counts message on partition %d skipped: %s", partition, exc)
            return
        state = self._partition(partition)
        for partial in batch.partials:
            self._merge(state, partial)
        if batch.progress:
            await self._advance(partition, state, batch)

    def on_revoked(self, partitions: Sequence[int]) -> None:
        for p in partitions:
            if self._assigned.pop(p, None) is not None:
                for key in self._brand_keys.get(p, []):
                    for kind in ("volume", "negative"):
                        _remove(self.metrics.spike_score, split_subject_key(key)[1], kind)
                _remove(self.metrics.alert_watermark, str(p))

    # ------------------------------------------------------------------ state

    def _partition(self, partition: int) -> _Partition:
        state = self._assigned.get(partition)
        if state is None:
            stored = self.table.get(_clock_key(partition))
            state = _Partition(clock_from_json(stored) if stored else Clock())
            for name, value in list(self.table.items()):
                kind, _, key = name.partition(":")
                if kind not in ("open", "series") or partition_of(key.encode(), self.partitions) != partition:
                    continue
                if kind == "open":
                    for minute in open_from_json(value).minutes():
                        state.open_minutes.setdefault(minute, set()).add(key)
                elif not key.startswith(BRAND_QUERY + ":"):
                    start = series_from_json(value).next_start
                    if start is not None:
                        state.last_seen[key] = start
            self._assigned[partition] = state
            for key in self._brand_keys.get(partition, []):
                for kind in ("volume", "negative"):
                    self.metrics.spike_score.labels(brand_query=split_subject_key(key)[1], kind=kind).set(0)
        return state

    def _merge(self, state: _Partition, partial: SubjectPartial) -> None:
        key = subject_key(partial.subject_type, partial.subject)
        stored = self.table.get(_open_key(key))
        before = open_from_json(stored) if stored else OpenMinutes()
        after, late = merge(before, partial, closed_until=state.clock.closed_until, config=self.partial)
        if late:
            self.metrics.alert_late_events.inc(late)
        if after != before:
            self.table[_open_key(key)] = open_to_json(after)
            for minute in after.minutes():
                state.open_minutes.setdefault(minute, set()).add(key)

    async def _advance(self, partition: int, state: _Partition, progress: CountsBatch) -> None:
        now = self.clock()
        clock = advance_clock(state.clock, progress.progress, sent_at=progress.sent_at)
        mark = watermark(clock, partitions=self.partitions, now=now, allowed_lateness=self.marks.allowed_lateness,
                         caught_up_valid=self.marks.caught_up_valid)
        alerts: list[Alert] = []
        signals: list[AlertSignal] = []
        for minute in minutes_to_close(clock, mark, state.open_minutes, self.detector.bucket_seconds):
            for key in sorted(state.open_minutes.pop(minute)):
                raised, related = self._close(state, key, minute, clock.first_start, now)
                alerts += raised
                signals += [AlertSignal(alert=a, related=related) for a in raised]
        previous = state.clock.closed_until
        if mark is not None:
            through = minute_start(mark, self.detector.bucket_seconds)
            if clock.closed_until is None or through > clock.closed_until:
                clock = replace(clock, closed_until=through)
                self._quiet_brand_queries(partition, state, through)
        state.clock = clock
        self.table[_clock_key(partition)] = clock_to_json(clock)
        self._evict(state, clock.closed_until)
        await self.emit_alerts(alerts)
        if clock.closed_until is not None and (clock.closed_until != previous or signals):
            await self.send_signals(SpikeSignals(partition=partition, closed_until=clock.closed_until,
                                                 signals=tuple(signals)))
            self.metrics.alert_watermark.labels(partition=str(partition)).set(clock.closed_until.timestamp())
        self.metrics.alert_subjects.set(sum(len(s.last_seen) for s in self._assigned.values())
                                        + sum(len(k) for p, k in self._brand_keys.items() if p in self._assigned))

    def _close(self, state: _Partition, key: str, minute: datetime, first_start: datetime | None, now: datetime
               ) -> tuple[list[Alert], tuple[RelatedSubject, ...]]:
        subject_type, subject = split_subject_key(key)
        stored = self.table.get(_open_key(key))
        remaining, agg = close(open_from_json(stored) if stored else OpenMinutes(), minute, self.partial)
        series_json = self.table.get(_series_key(key))
        series = series_from_json(series_json) if series_json else SeriesState(
            next_start=first_start if first_start is not None and first_start < minute else None)
        bucket = bucket_of(subject_type, subject, minute, agg)
        series, raised = fold(series, bucket, self.detector, detected_at=now)
        # the series first: after a crash between the two, handling the message again folds the minute into a
        # series that has it already (fold ignores it), instead of finding the minute gone
        self.table[_series_key(key)] = series_to_json(series)
        if remaining.empty:
            self.table.pop(_open_key(key), None)
        else:
            self.table[_open_key(key)] = open_to_json(remaining)
        if subject_type == BRAND_QUERY:
            self.metrics.spike_score.labels(brand_query=subject, kind="volume").set(series.volume_score)
            self.metrics.spike_score.labels(brand_query=subject, kind="negative").set(series.negative_score)
        else:
            state.last_seen[key] = minute
        related = tuple(RelatedSubject(subject_type=t, subject=s)
                        for t, s in sorted(related_subjects(bucket))) if raised else ()
        return raised, related

    def _quiet_brand_queries(self, partition: int, state: _Partition, through: datetime) -> None:
        """A brand query without posts in the last closed minute scores 0 there (its series gets the zeros when
        its next minute with posts is folded: spikes.fold fills the gap)."""
        for key in self._brand_keys.get(partition, []):
            stored = self.table.get(_series_key(key))
            if stored is None or series_from_json(stored).next_start != through:
                subject = split_subject_key(key)[1]
                self.metrics.spike_score.labels(brand_query=subject, kind="volume").set(0)
                self.metrics.spike_score.labels(brand_query=subject, kind="negative").set(0)

    def _evict(self, state: _Partition, closed_until: datetime | None) -> None:
        """Entity and hashtag series unseen for K minutes hold only zeros, cooldowns included: drop them; and the
        least recently seen beyond `max_subjects`."""
        if closed_until is None:
            return
        horizon = closed_until - self.detector.bucket * self.detector.baseline_buckets
        stale = [k for k, seen in state.last_seen.items() if seen < horizon]
        excess = len(state.last_seen) - len(stale) - self.marks.max_subjects
        if excess > 0:
            stale += sorted((k for k, seen in state.last_seen.items() if seen >= horizon),
                            key=lambda k: (state.last_seen[k], k))[:excess]
        for key in stale:
            del state.last_seen[key]
            self.table.pop(_series_key(key), None)


def _open_key(subject: str) -> str:
    return f"open:{subject}"


def _series_key(subject: str) -> str:
    return f"series:{subject}"


def _clock_key(partition: int) -> str:
    return f"clock:{partition}"


def _remove(metric: Any, *labels: str) -> None:
    try:
        metric.remove(*labels)
    except KeyError:
        pass
