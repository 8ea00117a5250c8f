"""The worker: a Faust application hosting the pipeline's stages, composed from parts built and tested alone.

    social.raw.v1 ──► enrich ──► social.enriched.v1 ──► clickhouse_sink ──► <db>.events
                         │                                   └─► counts ──► social.counts.v1
                         └──────────────┬────────────────────┘                    │ Faust agent spike-detector
                                        ▼                                          ▼ (tables spike-open/-series/-clock)
                              social.deadletter.v1 ──► deadletter_sink     social.alerts.v1 + <db>.alerts
                                        ▼                                          │ <app id>-spike-signals
                                  <db>.dead_letters                                ▼ Faust agent incidents
                                                                           social.incidents.v1 + <db>.incidents

Faust owns the worker's lifecycle, its web server (/metrics), timers, leader election, and the two agents over
small keyed streams with changelog-backed tables (streams/stages/alerts.py, incidents.py). The hot stages are
batch consumers in their own consumer groups (streams/runtime/batch_consumer.py) handing batches to a stage object
(streams/stages/), under one failure policy (streams/runtime/failure_policy.py) and one producer. Why batch
consumers and not Faust agents for those: docs/DESIGN.md.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import faust

from processors.brand_queries import load_brand_queries
from processors.incidents import IncidentConfig
from schemas import ErrorCode
from schemas.signals import SpikeSignals
from streams import codec
from streams.codec import Limits
from streams.metrics import Metrics, install_worker_metrics
from streams.progress import pipeline_lag
from streams.runtime.batch_consumer import BatchConsumer
from streams.runtime.failure_policy import RetryPolicy, until_done
from streams.runtime.nlp_process import EnrichProcess
from streams.runtime.process_tuning import freeze_heap
from streams.runtime.producer import BatchProducer
from streams.runtime.records import Destination
from streams.settings import Settings, consumer_groups, enrich_batch_size
from streams.sinks.clickhouse.client import connect
from streams.sinks.clickhouse.earlier import EarlierCopies
from streams.sinks.clickhouse.writer import ClickHouseWriter, RowWriter
from streams.stages.alerts import SpikeDetector, WatermarkConfig, alert_emitter
from streams.stages.clickhouse_sink import ClickHouseSinkStage
from streams.stages.counts import CountsStage, FindEarlier, Send, no_earlier_copies
from streams.stages.dead_letters import DeadLetterSinkStage
from streams.stages.enrich import Enricher, EnrichStage, InProcessEnricher
from streams.stages.incidents import IncidentGrouper
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
    earlier_copies: FindEarlier = no_earlier_copies
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

    earlier = EarlierCopies(lambda: connect(ch, database=ch.database), f"{ch.database}.events")
    return Wiring(writer_factory=writer, enricher_factory=enricher, metrics=metrics, earlier_copies=earlier)


def create_app(settings: Settings, wiring: Wiring | None = None) -> faust.App:
    wiring = wiring or default_wiring(settings, Metrics.create())
    kafka, ch, nlp, metrics, clock = settings.kafka, settings.clickhouse, settings.nlp, wiring.metrics, wiring.clock
    app = faust_app(settings)
    policy = RetryPolicy(max_delay=ch.max_backoff_seconds)
    producer = BatchProducer(kafka, client_id=f"{settings.worker.app_id}-{os.getpid()}",
                             max_message_bytes=kafka.max_message_bytes)
    enricher = wiring.enricher_factory()
    brand_queries = load_brand_queries(nlp.brand_queries_path).names()
    counts = CountsStage(brand_queries, kafka.counts_topic, kafka.enriched_topic, kafka.partitions,
                         producer.send_all, wiring.earlier_copies, policy, metrics, clock,
                         idle_seconds=settings.worker.spike_idle_seconds)
    enrich = EnrichStage(enricher, producer, {Destination.ENRICHED: kafka.enriched_topic,
                                              Destination.DEADLETTER: kafka.deadletter_topic}, policy, metrics, clock)
    sink = ClickHouseSinkStage(wiring.writer_factory(), f"{ch.database}.events", producer, kafka.deadletter_topic,
                               policy, metrics, clock, after_stored=counts.after_stored)
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
    spike_agents(app, settings, wiring, producer.send_all, policy, brand_queries)
    sink_stage = stages[1]

    enrich_group = groups[kafka.raw_topic]

    async def raw_topic_consumed() -> bool:
        lag = await asyncio.to_thread(pipeline_lag, kafka.bootstrap_servers, {kafka.raw_topic: enrich_group})
        return lag[kafka.raw_topic] == 0

    async def caught_up_partitions() -> None:
        await counts.on_idle(sink_stage.lags, raw_topic_consumed)

    app.timer(interval=CAUGHT_UP_SECONDS)(caught_up_partitions)
    if ch.baseline_refresh_seconds > 0:
        app.timer(interval=ch.baseline_refresh_seconds, on_leader=True)(baseline_refresher(settings, clock))
    install_worker_metrics(app, metrics, stages=stages)  # GET /metrics, Faust's monitor, consumer lag
    return app


CAUGHT_UP_SECONDS = 5.0  # how often the sink tells the detector which partitions have nothing left


def spike_agents(app: faust.App, settings: Settings, wiring: Wiring, send: Send, policy: RetryPolicy,
                 brand_queries: Sequence[str]) -> None:
    """The two Faust agents and their tables: spike-detector on social.counts.v1, incidents on the signals."""
    kafka, ch, metrics, clock = settings.kafka, settings.clickhouse, wiring.metrics, wiring.clock
    state_table = app.Table("spike-state", default=None, help="per subject: open minutes and history; the clock")
    incident_table = app.Table("incidents", default=None, partitions=1, help="open incidents, pending signals")
    signals_topic = app.topic(f"{settings.worker.app_id}-spike-signals", partitions=1, internal=True,
                              key_type=bytes, value_type=bytes)

    async def send_signals(message: SpikeSignals) -> None:
        await until_done(lambda: _delivered(signals_topic.send(key=b"signals", value=codec.encode_model(message))),
                         policy=policy, what="alerting", on_retry=metrics.retry_counter("alerting"))

    detector = SpikeDetector(
        brand_queries, kafka.partitions, state_table,
        emit_alerts=alert_emitter(writer=wiring.writer_factory(), table=f"{ch.database}.alerts", send=send,
                                  alerts_topic=kafka.alerts_topic, policy=policy, metrics=metrics),
        send_signals=send_signals, metrics=metrics, clock=clock,
        marks=WatermarkConfig(allowed_lateness=timedelta(seconds=settings.worker.spike_lateness_seconds)))
    grouper = IncidentGrouper(kafka.partitions, incident_table, wiring.writer_factory(), f"{ch.database}.incidents",
                              send, kafka.incidents_topic, policy, metrics, clock,
                              IncidentConfig(quiet_minutes=settings.worker.incident_quiet_minutes))
    counts_topic = app.topic(kafka.counts_topic, key_type=bytes, value_type=bytes)

    # An event is acknowledged when the loop takes the next one; before that, its table changes must be in the
    # changelog: Faust buffers changelog writes and may commit offsets before sending them, and a crash would then
    # lose state that no redelivery brings back. One message per sink batch and partition keeps this wait rare.
    @app.agent(counts_topic, name="spike-detector")
    async def detect(stream: Any) -> None:
        async for event in stream.events():
            await _guarded("alerting", metrics, detector.on_message(event.value, event.message.partition))
            await changelog_written(app)

    @app.agent(signals_topic, name="incidents")
    async def group_incidents(stream: Any) -> None:
        async for event in stream.events():
            await _guarded("incidents", metrics, grouper.on_message(event.value))
            await changelog_written(app)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # faust types receivers loosely
    async def forget_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        detector.on_revoked([tp.partition for tp in revoked if tp.topic == kafka.counts_topic])


async def _guarded(stage: str, metrics: Metrics, handling: Awaitable[None]) -> None:
    """A message the handler fails on (a bug, or state it cannot read) is logged and skipped: an exception out of
    the loop would make Faust restart the agent and may skip offsets (STYLE.md). Infrastructure faults never get
    here: the handlers retry them in place."""
    try:
        await handling
    except Exception:  # noqa: BLE001 - logged with its traceback and counted
        metrics.dead_letter(ErrorCode.PROCESSING_FAILED.value, stage)
        log.exception("%s: a message could not be handled and is skipped", stage)


async def changelog_written(app: faust.App) -> None:
    """Until every table change so far is acknowledged by the broker (Faust's flush gives up after 0.1 s without
    progress: a broker that is down blocks here, which is the back-pressure)."""
    while True:
        await app.producer.flush()
        if not app.producer.buffer.size:
            return
        await asyncio.sleep(0.2)


async def _delivered(sending: Awaitable[Any]) -> None:
    """Faust's send returns a future of the broker's answer: wait for both."""
    await (await sending)


async def frozen_heap() -> None:
    """Before the enrich stage joins its group: models and libraries stay for the process's life, so no
    collection walks them again."""
    freeze_heap()


def faust_app(settings: Settings) -> faust.App:
    """Faust's part: lifecycle, web + /metrics, timers, leader election, and the spike agents' tables, kept in memory
    and rebuilt from their changelog topics on start and on rebalance (one standby replica follows them)."""
    kafka, worker = settings.kafka, settings.worker
    return faust.App(
        worker.app_id, broker=f"kafka://{kafka.bootstrap_servers}", datadir=str(worker.data_dir), store="memory://",
        table_standby_replicas=1,
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
