"""Stage `incidents`: the Faust agent `incidents` on `<app id>-spike-signals` → Incident v1 on social.incidents.v1 +
<db>.incidents, and one Prometheus series per open incident.

    spike-detector (every partition of social.counts.v1) ──► <app id>-spike-signals (1 partition)
        ──► IncidentGrouper.on_message ──► processors.incidents.group ──► table `incidents` (one key)

Alerts of one story come from subjects on different partitions of the counts topic, so they meet on a
one-partition topic (a few messages per minute). The grouping waits until every partition closed a minute, so
its result does not depend on the order the partitions' signals arrive in. The state (open incidents, signals
waiting for the watermark, each partition's closed-until) is one value of the changelog-backed table.
Incidents are produced and inserted before the state is saved and the message acknowledged: a crash in between
emits the same revisions again (same incident_id and revision: ReplacingMergeTree keeps one).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from processors.incidents import IncidentConfig, Signal, empty_state, group, state_from_json, state_to_json
from schemas.incident import Incident
from streams import codec
from streams.metrics import Metrics
from streams.runtime.failure_policy import RetryPolicy, describe, until_done
from streams.sinks.clickhouse.rows import utc_naive
from streams.sinks.clickhouse.writer import RowWriter

log = logging.getLogger(__name__)

STAGE = "incidents"
STATE_KEY = "incidents"
MAX_OPEN_INCIDENT_SERIES = 50  # socialpulse_incident_open series at once (metrics.py: the one subject label)
Send = Callable[[Sequence[tuple[str, bytes | None, bytes]]], Awaitable[None]]

INCIDENT_COLUMNS: tuple[str, ...] = (
    "incident_id", "revision", "status", "headline_type", "headline", "kinds", "subjects.type", "subjects.subject",
    "alert_ids", "alert_count", "started_at", "peak_at", "peak_score", "peak_observed", "last_alert_at", "ended_at",
    "merged_into", "drivers.term", "drivers.kind", "drivers.window_count", "drivers.baseline_rate", "drivers.lift",
    "example_event_ids", "example_texts", "sentiment_window", "sentiment_baseline", "updated_at",
)


def incident_row(i: Incident) -> tuple[Any, ...]:
    return (
        i.incident_id, i.revision, i.status, i.headline.subject_type, i.headline.subject, list(i.kinds),
        [s.subject_type for s in i.subjects], [s.subject for s in i.subjects], list(i.alert_ids), i.alert_count,
        utc_naive(i.started_at), utc_naive(i.peak_at), i.peak_score, i.peak_observed, utc_naive(i.last_alert_at),
        None if i.ended_at is None else utc_naive(i.ended_at), i.merged_into or "",
        [d.term for d in i.drivers], [d.kind for d in i.drivers], [d.window_count for d in i.drivers],
        [d.baseline_rate for d in i.drivers], [d.lift for d in i.drivers],
        list(i.example_event_ids), list(i.example_texts), i.sentiment_window, i.sentiment_baseline,
        utc_naive(i.updated_at),
    )


@dataclass
class IncidentGrouper:
    partitions: int  # of social.counts.v1: the detector partitions that report
    table: MutableMapping[str, Any]  # a faust Table (a dict in tests)
    writer: RowWriter
    clickhouse_table: str
    send: Send
    incidents_topic: str
    policy: RetryPolicy
    metrics: Metrics
    clock: Callable[[], datetime]
    config: IncidentConfig = IncidentConfig()
    _exported: dict[str, tuple[str, str, str]] = field(default_factory=dict)

    async def on_message(self, value: bytes | None) -> None:
        try:
            message = codec.decode_spike_signals(value)
        except codec.CodecError as exc:
            self.metrics.dead_letter(exc.code.value, STAGE)
            log.error("incidents: unreadable signals message skipped: %s", exc)
            return
        stored = self.table.get(STATE_KEY)
        state = state_from_json(stored) if stored else empty_state()
        signals = [Signal(alert=s.alert, related=frozenset((r.subject_type, r.subject) for r in s.related))
                   for s in message.signals]
        state, incidents = group(state, signals, partition=message.partition, closed_until=message.closed_until,
                                 partitions=self.partitions, now=self.clock(), config=self.config)
        await self._emit(incidents)
        self.table[STATE_KEY] = state_to_json(state)

    async def _emit(self, incidents: list[Incident]) -> None:
        if not incidents:
            return

        async def store() -> None:
            await self.send([(self.incidents_topic, i.incident_id.encode(), codec.encode_model(i)) for i in incidents])
            token = ",".join(f"{i.incident_id}#{i.revision}" for i in incidents)
            rejected = await self.writer.insert(self.clickhouse_table, INCIDENT_COLUMNS,
                                                [incident_row(i) for i in incidents], dedup_token=token)
            for bad in rejected:
                log.error("incident %s refused by ClickHouse: %s", incidents[bad.index].incident_id, bad.message)

        try:
            await until_done(store, policy=self.policy, what=STAGE, on_retry=self.metrics.retry_counter(STAGE))
        except Exception as exc:  # noqa: BLE001 - derived data; the alerts stay on their topic and table
            log.error("incidents: %d revisions not emitted: %s", len(incidents), describe(exc))
            return
        for i in incidents:
            self.metrics.incidents.labels(status=i.status).inc()
            log.warning("incident %s %s rev %d: %s, %d alerts, peak %.1f", i.incident_id, i.status, i.revision,
                        "+".join(i.kinds), i.alert_count, i.peak_score)
            self._export(i)

    def _export(self, incident: Incident) -> None:
        gauge = self.metrics.incident_open
        old = self._exported.pop(incident.incident_id, None)
        if old is not None:
            gauge.remove(*old)
        if incident.status == "resolved" or len(self._exported) >= MAX_OPEN_INCIDENT_SERIES:
            return
        labels = (incident.incident_id, incident.headline.subject, "+".join(incident.kinds))
        gauge.labels(*labels).set(incident.peak_score)
        self._exported[incident.incident_id] = labels
