"""Every Prometheus metric of a worker, created against a registry passed in (tests use a fresh one).

Labels stay bounded: agent, table, error code, stage, network, language, sentiment label, brand query,
Kafka topic + partition (consumer lag), alert kind, subject type. Never an entity string or an author:
entity and hashtag spikes are alerts (social.alerts.v1), not labels.

`install_worker_metrics(app, metrics)` wires a Faust app: GET /metrics on the worker's web server renders
this registry, which also holds Faust's own Prometheus monitor (metric names `faust_*`, so nothing clashes
with `socialpulse_*`), and a timer refreshes the consumer lag gauge.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000)
# Languages that get their own label value; every other detected language is "other".
LANGUAGE_LABELS = frozenset({"en", "es", "pt", "fr", "de", "it", "nl", "ca", "und"})
NETWORK_LABELS = frozenset({"x", "mastodon", "bluesky", "reddit", "youtube"})
FAUST_METRICS_PREFIX = "faust"


def language_label(language: str) -> str:
    return language if language in LANGUAGE_LABELS else "other"


def network_label(network: str) -> str:
    return network if network in NETWORK_LABELS else "other"


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    events_in: Counter
    events_out: Counter
    dead_letters: Counter
    enrich_seconds: Histogram
    batch_size: Histogram
    batch_retries: Counter
    insert_seconds: Histogram
    rows_inserted: Counter
    clickhouse_retries: Counter
    consumer_lag: Gauge
    events_by_source: Counter
    brand_query_mentions: Counter
    brand_query_sentiment_sum: Counter
    spike_score: Gauge
    alerts: Counter
    alert_late_events: Counter
    alert_subjects: Gauge
    alert_watermark: Gauge
    counts_messages: Counter
    counts_bytes: Counter
    counts_duplicates: Counter
    incidents: Counter
    incident_open: Gauge

    def dead_letter(self, code: str, stage: str) -> None:
        self.dead_letters.labels(code=code, stage=stage).inc()

    def retry_counter(self, agent: str) -> Callable[..., None]:
        """An `on_retry` for the failure policy (streams/runtime/failure_policy.py): counts `agent`'s retries."""
        retries = self.batch_retries.labels(agent=agent)
        return lambda *_: retries.inc()

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> Metrics:
        reg = registry if registry is not None else CollectorRegistry()
        return cls(
            registry=reg,
            events_in=Counter("socialpulse_events_in_total", "Messages taken from Kafka", ["agent"], registry=reg),
            events_out=Counter("socialpulse_events_out_total", "Messages produced", ["agent"], registry=reg),
            dead_letters=Counter("socialpulse_dead_letters_total", "Records dead-lettered",
                                 ["code", "stage"], registry=reg),
            enrich_seconds=Histogram("socialpulse_enrich_batch_seconds", "enrich_batch wall time per batch",
                                     buckets=LATENCY_BUCKETS, registry=reg),
            batch_size=Histogram("socialpulse_batch_size", "Messages per processed batch", ["agent"],
                                 buckets=BATCH_BUCKETS, registry=reg),
            batch_retries=Counter("socialpulse_batch_retries_total", "Batches retried after an exception",
                                  ["agent"], registry=reg),
            insert_seconds=Histogram("socialpulse_clickhouse_insert_seconds", "ClickHouse insert time per batch",
                                     ["table"], buckets=LATENCY_BUCKETS, registry=reg),
            rows_inserted=Counter("socialpulse_clickhouse_rows_total", "Rows written to ClickHouse", ["table"],
                                  registry=reg),
            clickhouse_retries=Counter("socialpulse_clickhouse_insert_errors_total",
                                       "Retriable ClickHouse insert failures", registry=reg),
            consumer_lag=Gauge("socialpulse_consumer_lag", "Messages behind: partition end offset minus the "
                               "group's committed offset, for the partitions this worker owns",
                               ["topic", "partition"], registry=reg),
            events_by_source=Counter("socialpulse_enriched_events_total", "Enriched events by network and "
                                     "language (languages outside LANGUAGE_LABELS are 'other')",
                                     ["network", "language"], registry=reg),
            brand_query_mentions=Counter("socialpulse_brand_query_mentions_total", "Enriched events matching "
                                         "a brand query, by sentiment label", ["brand_query", "sentiment"],
                                         registry=reg),
            brand_query_sentiment_sum=Counter("socialpulse_brand_query_sentiment_shifted_total", "Sum over "
                                              "mentions of (signed sentiment score + 1), in [0, 2] so the counter "
                                              "only grows; mean score = rate(this) / rate(mentions) - 1",
                                              ["brand_query"], registry=reg),
            spike_score=Gauge("socialpulse_brand_query_spike_score", "Robust z-score of the last closed minute "
                              "of a brand query (0 below min count or history); kind=volume|negative",
                              ["brand_query", "kind"], registry=reg),
            alerts=Counter("socialpulse_alerts_total", "Alerts emitted to the alerts topic",
                           ["kind", "subject_type"], registry=reg),
            alert_late_events=Counter("socialpulse_alerting_late_events_total", "Events for a minute the "
                                      "spike detector had already closed (not counted)", registry=reg),
            alert_subjects=Gauge("socialpulse_alerting_subjects", "Series the spike detector follows "
                                 "(brand queries + bounded entities/hashtags)", registry=reg),
            alert_watermark=Gauge("socialpulse_alerting_watermark_seconds", "Event-time watermark of the spike "
                                  "detector: every minute before it is closed (Unix seconds), per partition of the "
                                  "counts topic this worker owns", ["partition"], registry=reg),
            counts_messages=Counter("socialpulse_counts_messages_total", "Partial minute counts and progress "
                                    "entries produced to the counts topic", registry=reg),
            counts_bytes=Counter("socialpulse_counts_bytes_total", "Value bytes produced to the counts topic",
                                 registry=reg),
            counts_duplicates=Counter("socialpulse_counts_duplicates_total", "Stored events left out of the minute "
                                      "counts: the same post was stored before at an earlier offset", registry=reg),
            incidents=Counter("socialpulse_incidents_total", "Incident revisions emitted, by status", ["status"],
                              registry=reg),
            # The one label set naming a subject: bounded by the open incidents (MAX_OPEN_INCIDENT_SERIES), removed
            # when an incident resolves, so the Prometheus alert fires once per incident.
            incident_open=Gauge("socialpulse_incident_open", "Peak score of an open incident (series removed when "
                                "it resolves)", ["incident", "headline", "kinds"], registry=reg),
        )


def install_worker_metrics(app: Any, metrics: Metrics, *, stages: Sequence[Any] = (), lag_interval: float = 5.0
                           ) -> None:
    """GET /metrics (this registry + Faust's monitor) and a consumer-lag timer on a faust.App: the lag of Faust's
    consumer and of each batch stage (anything with `async lags() -> {(topic, partition): lag}`)."""
    from aiohttp.web import Response
    from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    app.monitor = PrometheusMonitor(metrics=FaustMetrics.create(metrics.registry, FAUST_METRICS_PREFIX))

    @app.page("/metrics")  # type: ignore[untyped-decorator]  # app is a faust.App, passed untyped
    async def metrics_page(self: Any, request: Any) -> Any:
        return Response(body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.timer(interval=lag_interval)  # type: ignore[untyped-decorator]  # faust types timer() as bare Callable
    async def consumer_lag() -> None:
        try:
            extra: dict[tuple[str, int], int] = {}
            for stage in stages:
                extra.update(await stage.lags())
            await update_consumer_lag(app.consumer, metrics, extra=extra)
        except Exception:  # noqa: BLE001 - a metrics refresh must never take the worker down
            log.debug("consumer lag refresh failed", exc_info=True)


async def update_consumer_lag(consumer: Any, metrics: Metrics, *, extra: Mapping[tuple[str, int], int] | None = None
                              ) -> dict[tuple[str, int], int]:
    """Lag per owned partition = end offset − committed offset (earliest offset when nothing is committed), for
    Faust's consumer; `extra` adds lags measured elsewhere. Partitions no longer owned disappear."""
    assigned = sorted(consumer.assignment())
    lags: dict[tuple[str, int], int] = dict(extra or {})
    if assigned:
        ends = await consumer.highwaters(*assigned)
        committed = getattr(consumer, "_committed_offset", {})
        missing = [tp for tp in assigned if committed.get(tp) is None]
        earliest = await consumer.earliest_offsets(*missing) if missing else {}
        for tp in assigned:
            end = ends.get(tp)
            start = committed.get(tp)
            if start is None:
                start = earliest.get(tp)
            if end is not None and start is not None:
                lags[(tp.topic, tp.partition)] = max(0, end - start)
    metrics.consumer_lag.clear()
    for (topic, partition), lag in lags.items():
        metrics.consumer_lag.labels(topic=topic, partition=str(partition)).set(lag)
    return lags


@dataclass(frozen=True)
class SourceMetrics:
    """The metrics of one connector process (`socialpulse listen`), labelled by source id and network (one source
    per process, so the labels stay bounded). Served on its own port (`--metrics-port`)."""

    registry: CollectorRegistry
    posts: Counter
    deletions: Counter
    unreadable: Counter
    reconnects: Counter
    quota_units: Counter
    in_flight: Gauge
    behind_seconds: Gauge
    progress_timestamp: Gauge
    checkpoint_timestamp: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> SourceMetrics:
        reg = registry if registry is not None else CollectorRegistry()
        labels = ["source", "network"]
        return cls(
            registry=reg,
            posts=Counter("socialpulse_source_posts_total", "Posts a connector produced to the raw topic, counted "
                          "when the broker acknowledged them", labels, registry=reg),
            deletions=Counter("socialpulse_source_deletions_total", "Upstream deletions produced to the deletions "
                              "topic", labels, registry=reg),
            unreadable=Counter("socialpulse_source_unreadable_total", "Payloads a connector could not normalise, "
                               "produced as they are for the worker to dead-letter with a code", labels,
                               registry=reg),
            reconnects=Counter("socialpulse_source_reconnects_total", "Connections lost or refused, and waits "
                               "before the next attempt, by reason", [*labels, "reason"], registry=reg),
            quota_units=Counter("socialpulse_source_quota_units_total", "API quota units spent (YouTube)", labels,
                                registry=reg),
            in_flight=Gauge("socialpulse_source_in_flight", "Messages sent and not yet acknowledged", labels,
                            registry=reg),
            behind_seconds=Gauge("socialpulse_source_behind_seconds", "Now minus the creation time of the newest "
                                 "post acknowledged", labels, registry=reg),
            progress_timestamp=Gauge("socialpulse_source_progress_timestamp_seconds", "Unix time the source last "
                                     "read something (a frame, a poll) and had it acknowledged", labels,
                                     registry=reg),
            checkpoint_timestamp=Gauge("socialpulse_source_checkpoint_timestamp_seconds", "Unix time of the last "
                                       "checkpoint written to the sources topic", labels, registry=reg),
        )
