"""The worker: a Faust application hosting the pipeline's stages, composed from parts built and tested alone.

    social.raw.v1 ──► enrich ──► social.enriched.v1 ──► clickhouse_sink ──► <db>.events ──► alerts ──► social.alerts.v1
                         └──────────────┬──────────────────────┘
                                        ▼
                              social.deadletter.v1 ──► deadletter_sink ──► <db>.dead_letters

Faust owns the worker's lifecycle, its web server (/metrics), timers and leader election. Every stage is the same
kind of thing: a batch consumer in its own consumer group (streams/runtime/batch_consumer.py) handing batches to a
stage object (streams/stages/), under one failure policy (streams/runtime/failure_policy.py) and one producer.
Why batch consumers and not Faust agents: docs/DESIGN.md.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import faust

from processors.brand_queries import load_brand_queries
from streams.codec import Limits
from streams.metrics import Metrics, install_worker_metrics
from streams.runtime.batch_consumer import BatchConsumer
from streams.runtime.failure_policy import RetryPolicy
from streams.runtime.nlp_process import EnrichProcess
from streams.runtime.process_tuning import freeze_heap
from streams.runtime.producer import BatchProducer
from streams.runtime.records import Destination
from streams.settings import Settings, consumer_groups, enrich_batch_size
from streams.sinks.clickhouse.client import connect
from streams.sinks.clickhouse.writer import ClickHouseWriter, RowWriter
from streams.stages.alerts import alerting_stage
from streams.stages.clickhouse_sink import ClickHouseSinkStage
from streams.stages.dead_letters import DeadLetterSinkStage
from streams.stages.enrich import Enricher, EnrichStage, InProcessEnricher
from streams.trends.baselines import refresh as refresh_baselines

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Wiring:
    """What the stages need besides settings; tests replace parts of it."""

    writer_factory: Callable[[], RowWriter]
    enricher_factory: Callable[[], Enricher]
    metrics: Metrics
    clock: Callable[[], datetime] = utcnow


def default_wiring(settings: Settings, metrics: Metrics) -> Wiring:
    ch, nlp = settings.clickhouse, settings.nlp

    def writer() -> RowWriter:
        return ClickHouseWriter(lambda: connect(ch, database=ch.database), max_backoff_seconds=ch.max_backoff_seconds,
                                on_retry=lambda exc, attempt: metrics.clickhouse_retries.inc())

    def enricher() -> Enricher:
        if not settings.worker.enrich:  # pass-through (benchmarks): decode → enriched shape, no NLP
            return InProcessEnricher(models=None, limits=Limits(max_text_chars=nlp.max_text_chars))
        return EnrichProcess(nlp, gc_threshold=settings.worker.gc_threshold)

    return Wiring(writer_factory=writer, enricher_factory=enricher, metrics=metrics)


def create_app(settings: Settings, wiring: Wiring | None = None) -> faust.App:
    wiring = wiring or default_wiring(settings, Metrics.create())
    kafka, ch, nlp, metrics, clock = settings.kafka, settings.clickhouse, settings.nlp, wiring.metrics, wiring.clock
    app = faust_app(settings)
    policy = RetryPolicy(max_delay=ch.max_backoff_seconds)
    producer = BatchProducer(kafka, client_id=f"{settings.worker.app_id}-{os.getpid()}",
                             max_message_bytes=kafka.max_message_bytes)
    enricher = wiring.enricher_factory()
    alerts = alerting_stage(brand_queries=load_brand_queries(nlp.brand_queries_path).names(),
                            writer=wiring.writer_factory(), table=f"{ch.database}.alerts", send=producer.send_all,
                            alerts_topic=kafka.alerts_topic, policy=policy, metrics=metrics, clock=clock)
    enrich = EnrichStage(enricher, producer, {Destination.ENRICHED: kafka.enriched_topic,
                                              Destination.DEADLETTER: kafka.deadletter_topic}, policy, metrics, clock)
    sink = ClickHouseSinkStage(wiring.writer_factory(), f"{ch.database}.events", producer, kafka.deadletter_topic,
                               policy, metrics, clock, after_stored=alerts.observe)
    dead_letters = DeadLetterSinkStage(wiring.writer_factory(), f"{ch.database}.dead_letters", policy, metrics)
    groups = consumer_groups(settings)
    stages = [
        BatchConsumer(kafka, name="enrich", topic=kafka.raw_topic, group_id=groups[kafka.raw_topic],
                      size=enrich_batch_size(settings), within=nlp.batch_seconds, handle=enrich.handle,
                      prepare=frozen_heap if settings.worker.gc_threshold else None),
        BatchConsumer(kafka, name="clickhouse_sink", topic=kafka.enriched_topic, group_id=groups[kafka.enriched_topic],
                      size=ch.insert_batch_rows, within=ch.insert_batch_seconds, handle=sink.handle),
        BatchConsumer(kafka, name="deadletter_sink", topic=kafka.deadletter_topic,
                      group_id=groups[kafka.deadletter_topic], size=ch.insert_batch_rows,
                      within=ch.insert_batch_seconds, handle=dead_letters.handle),
    ]
    # Started in this order and stopped in reverse: the producer and the NLP process (its models load before the
    # enrich stage joins its group) outlive the stages.
    for service in (producer, *([enricher] if isinstance(enricher, EnrichProcess) else []), *stages):
        app.service(service)  # type: ignore[arg-type]  # faust types it for classes; it takes instances too
    app.timer(interval=5.0)(alerts.on_idle)
    if ch.baseline_refresh_seconds > 0:
        app.timer(interval=ch.baseline_refresh_seconds, on_leader=True)(baseline_refresher(settings, clock))
    install_worker_metrics(app, metrics, stages=stages)  # GET /metrics, Faust's monitor, consumer lag
    return app


async def frozen_heap() -> None:
    """Before the enrich stage joins its group: models and libraries stay for the process's life, so no
    collection walks them again."""
    freeze_heap()


def faust_app(settings: Settings) -> faust.App:
    """Faust's part: lifecycle, web + /metrics, timers, leader election. It consumes no pipeline topic."""
    kafka, worker = settings.kafka, settings.worker
    return faust.App(
        worker.app_id, broker=f"kafka://{kafka.bootstrap_servers}", datadir=str(worker.data_dir), store="memory://",
        key_serializer="raw", value_serializer="raw", topic_partitions=kafka.partitions,
        topic_replication_factor=kafka.replication_factor, producer_acks=-1, consumer_auto_offset_reset="earliest",
        web_host=worker.web_host, web_port=worker.web_port, broker_commit_interval=1.0,
        broker_session_timeout=kafka.session_timeout_seconds,
        broker_heartbeat_interval=min(3.0, kafka.session_timeout_seconds / 3),
    )


def baseline_refresher(settings: Settings, clock: Callable[[], datetime]) -> Callable[[], Awaitable[None]]:
    """The leader's timer: recompute the precomputed rising-term baselines."""
    ch = settings.clickhouse

    async def refresh_rising_baselines() -> None:
        try:
            await asyncio.to_thread(refresh_baselines, connect(ch, database=ch.database), ch.database, at=clock(),
                                    hours=2)
        except Exception:  # noqa: BLE001 - a missed refresh only slows the next rising query
            log.warning("refreshing rising baselines failed; the next run tries again", exc_info=True)

    return refresh_rising_baselines
