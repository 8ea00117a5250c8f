"""The worker: a Faust application hosting the pipeline's stages, built by a factory so tests can use their own
topics and tables.

    social.raw.v1 ──► enrich ──► social.enriched.v1 ──► clickhouse_sink ──► ClickHouse (+ spike detector)
                          └────► social.deadletter.v1 ──► deadletter_sink (Faust agent) ──► ClickHouse

`enrich` and `clickhouse_sink` are batch consumers on aiokafka (streams/kafka_io.py: Faust's per-event Stream
costs more CPU per event than the whole pipeline budget), each in its own consumer group (`consumer_groups`).
Stages stay thin: take a batch → a step from streams/steps.py → produce → commit. A data error never escapes
a stage: it is a dead letter. What raises is the broker, ClickHouse or a bug: the batch is retried in place
(`retry_in_place`), never committed unprocessed.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust

from processors.enrich import EnrichmentModels
from processors.models import load_models
from streams import codec
from streams.alerting import install_alerting
from streams.clickhouse.client import connect
from streams.clickhouse.writer import ClickHouseWriter, RowWriter
from streams.enrich_process import EnrichProcess
from streams.kafka_io import BatchConsumer, BatchProducer, Durable, acknowledged
from streams.metrics import Metrics, install_worker_metrics
from streams.runtime import freeze_heap, run_cpu_bound
from streams.settings import Settings, consumer_groups, enrich_batch_size
from streams.steps import (
    Destination,
    Outgoing,
    SinkResult,
    count_enrich,
    enrich_records,
    sink_dead_letter_records,
    sink_records,
)
from streams.trends.baselines import refresh as refresh_baselines

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Wiring:
    """What the agents need besides settings; tests replace parts of it."""

    writer_factory: Callable[[], RowWriter]
    models_loader: Callable[[], EnrichmentModels]
    metrics: Metrics
    clock: Callable[[], datetime] = utcnow
    # NLP in a child process (settings.worker.nlp_process); None: in this process, with `models_loader`'s models
    enrich_process: Callable[[], EnrichProcess] | None = None


def default_wiring(settings: Settings, metrics: Metrics) -> Wiring:
    ch = settings.clickhouse

    def writer() -> RowWriter:
        return ClickHouseWriter(
            lambda: connect(ch, database=ch.database),
            max_backoff_seconds=ch.max_backoff_seconds,
            on_retry=lambda exc, attempt: metrics.clickhouse_retries.inc(),
        )

    def models() -> EnrichmentModels:
        return load_models(profile=settings.nlp.profile, topics_path=settings.nlp.topics_path,
                           languages=settings.nlp.languages)

    def enrich_process() -> EnrichProcess:
        return EnrichProcess(settings.nlp, gc_threshold=settings.worker.gc_threshold)

    return Wiring(writer_factory=writer, models_loader=models, metrics=metrics,
                  enrich_process=enrich_process if settings.worker.nlp_process else None)


def create_app(settings: Settings, wiring: Wiring | None = None) -> faust.App:
    wiring = wiring or default_wiring(settings, Metrics.create())
    metrics = wiring.metrics
    kafka, ch, nlp = settings.kafka, settings.clickhouse, settings.nlp
    app = faust.App(
        settings.worker.app_id,
        broker=f"kafka://{kafka.bootstrap_servers}",
        datadir=str(settings.worker.data_dir),
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=kafka.partitions,
        topic_replication_factor=kafka.replication_factor,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        web_host=settings.worker.web_host,
        web_port=settings.worker.web_port,
        broker_commit_interval=1.0,
        broker_session_timeout=kafka.session_timeout_seconds,
        broker_heartbeat_interval=min(3.0, kafka.session_timeout_seconds / 3),
        stream_wait_empty=True,  # on shutdown, finish the batches already taken before committing
    )

    deadletter_topic = app.topic(kafka.deadletter_topic, partitions=kafka.partitions, key_type=bytes,
                                 value_type=bytes)
    groups = consumer_groups(settings)
    limits = codec.Limits(max_text_chars=nlp.max_text_chars)
    producer = BatchProducer(kafka, client_id=f"{settings.worker.app_id}-{os.getpid()}")
    topic_of = {Destination.ENRICHED: kafka.enriched_topic, Destination.DEADLETTER: kafka.deadletter_topic}

    async def send_all(messages: Sequence[Outgoing]) -> None:
        """Send, then wait until the broker acknowledged every message."""
        await producer.send_all([(topic_of[m.destination], m.key, m.value) for m in messages])

    async def retry_in_place(stage: str, step: Callable[[], Awaitable[None]]) -> None:
        """Data errors are values; what raises is the broker, ClickHouse or a bug. The batch must not be committed
        unprocessed, so it is retried with bounded backoff: a stuck batch is a stalled pipeline, never loss."""
        attempt = 0
        while True:
            try:
                await step()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                attempt += 1
                metrics.batch_retries.labels(agent=stage).inc()
                delay = min(ch.max_backoff_seconds, 0.5 * 2 ** min(attempt, 6))
                log.exception("%s batch failed (attempt %d); retrying in %.1fs", stage, attempt, delay)
                await asyncio.sleep(delay)

    models: list[EnrichmentModels | None] = [None]
    nlp_process = wiring.enrich_process() if settings.worker.enrich and wiring.enrich_process else None

    async def load_models_once() -> None:
        if settings.worker.enrich and nlp_process is None and models[0] is None:
            models[0] = await asyncio.to_thread(wiring.models_loader)
        if settings.worker.gc_threshold:
            freeze_heap()  # the models and libraries stay for the process's life: no collection walks them again

    async def enrich(records: list[Any]) -> Durable:
        """Enrich and hand the results to the producer; the returned awaitable completes once the broker has
        acknowledged all of them (re-sending on failure), and only then are the offsets committed."""
        messages: list[tuple[str, bytes, bytes]] = []
        pending: list[asyncio.Future[Any]] = []

        async def step() -> None:
            if nlp_process is not None:
                outcome = await asyncio.to_thread(nlp_process.enrich, records, wiring.clock())
                count_enrich(outcome, metrics)
                out = outcome.out
            else:
                out = await run_cpu_bound(enrich_records, records, models=models[0], limits=limits,
                                          now=wiring.clock(), metrics=metrics, offload=settings.worker.offload_cpu)
            messages[:] = [(topic_of[m.destination], m.key, m.value) for m in out]
            pending[:] = await producer.enqueue(messages)

        async def delivered() -> None:
            try:
                await acknowledged(pending)
            except Exception:  # noqa: BLE001 - retried below, the batch stays uncommitted meanwhile
                log.warning("enrich: %d messages not acknowledged; sending the batch again", len(messages),
                            exc_info=True)
                await retry_in_place("enrich", lambda: producer.send_all(messages))

        if nlp_process is not None:
            # Handed over at once: the stage takes the next batch meanwhile, which then waits in line for the NLP
            # process, so the process starts on it the moment this one is done instead of idling until the
            # event loop gets round to it. Commits still follow batch order (BatchConsumer settles in order).
            async def enriched_and_delivered() -> None:
                await retry_in_place("enrich", step)
                await delivered()

            return asyncio.ensure_future(enriched_and_delivered())
        await retry_in_place("enrich", step)
        return delivered()

    alerting = install_alerting(app, settings, wiring, send=producer.send_all)  # spikes -> social.alerts.v1
    events_writer = wiring.writer_factory()
    events_table = f"{ch.database}.events"

    async def clickhouse_sink(records: list[Any]) -> None:
        done: list[SinkResult] = []

        async def step() -> None:
            result = await sink_records(records, writer=events_writer, table=events_table, now=wiring.clock(),
                                        metrics=metrics, offload=settings.worker.offload_cpu)
            await send_all(result.dead_letters)
            done.append(result)

        await retry_in_place("clickhouse_sink", step)
        await alerting.observe(done[-1].stored)  # once per batch, after it is stored (not inside the retries)

    stages = [
        BatchConsumer(kafka, name="enrich", topic=kafka.raw_topic, group_id=groups[kafka.raw_topic],
                      size=enrich_batch_size(settings), within=nlp.batch_seconds, handle=enrich,
                      prepare=load_models_once),
        BatchConsumer(kafka, name="clickhouse_sink", topic=kafka.enriched_topic,
                      group_id=groups[kafka.enriched_topic], size=ch.insert_batch_rows,
                      within=ch.insert_batch_seconds, handle=clickhouse_sink),
    ]
    # Started in this order with the worker and stopped in reverse: the producer and the NLP process (its models
    # load before the enrich stage joins its group) outlive the stages.
    for service in (producer, *([nlp_process] if nlp_process else []), *stages):
        app.service(service)

    @app.agent(deadletter_topic, name="deadletter_sink")
    async def deadletter_sink(stream: faust.StreamT) -> None:
        writer = wiring.writer_factory()
        table = f"{ch.database}.dead_letters"
        async for events in stream.take_events(ch.insert_batch_rows, within=ch.insert_batch_seconds):
            records = [event.message for event in events]

            async def step(records: Any = records) -> None:
                await sink_dead_letter_records(records, writer=writer, table=table, metrics=metrics)

            await retry_in_place("deadletter_sink", step)

    if ch.baseline_refresh_seconds > 0:

        @app.timer(interval=ch.baseline_refresh_seconds, on_leader=True)
        async def refresh_rising_baselines() -> None:
            try:
                await asyncio.to_thread(refresh_baselines, connect(ch, database=ch.database), ch.database,
                                        at=wiring.clock(), hours=2)
            except Exception:  # noqa: BLE001 - a missed refresh only slows the next rising query
                log.warning("refreshing rising baselines failed; the next run tries again", exc_info=True)

    install_worker_metrics(app, metrics, stages=stages)  # GET /metrics, Faust's monitor, consumer lag
    return app
