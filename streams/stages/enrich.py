"""Stage `enrich`: social.raw.v1 → decode + validate → NLP → social.enriched.v1, bad records → dead letters.

    records ──codec.decode_raw──► RawEvent ──Enricher (NLP process, or pass-through)──► EnrichedEvent
       └─ bad bytes / invalid ──► DeadLetter                    └─ per-post Failure ──► DeadLetter
    then the producer sends both and the batch is durable once the broker acknowledged every message.

The batch runs under the failure policy (streams/runtime/failure_policy.py): broker faults block and retry; a
batch that keeps raising for its records is split until the offending record is a dead letter of its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from processors.enrich import EnrichmentModels, Failure, enrich_batch
from schemas import DeadLetter, EnrichedEvent, RawEvent, Sentiment, SentimentLabel
from schemas.fast import mirror
from streams import codec
from streams.metrics import Metrics
from streams.runtime.batch_consumer import Durable
from streams.runtime.failure_policy import OnRetry, RetryPolicy, isolating
from streams.runtime.producer import BatchProducer
from streams.runtime.records import (
    Destination,
    KafkaRecord,
    Outgoing,
    dead_letter_for,
    dead_letter_message,
    send_isolated_dead_letter,
)

PASSTHROUGH_ENRICHER = "sp-passthrough/1"
STAGE = "enrich"


@dataclass
class EnrichOutcome:
    """One enrich batch's messages, and what its metrics need: the NLP may run in another process
    (streams/runtime/nlp_process.py), which has no access to the worker's metrics."""

    out: list[Outgoing]
    records: int
    posts: int  # decoded posts that reached enrich_batch (or pass-through)
    nlp_seconds: float
    dead_letters: list[tuple[str, str]]  # (error code, stage) of each dead letter in `out`


def enrich_outcome(
    records: Sequence[KafkaRecord], *, models: EnrichmentModels | None, limits: codec.Limits, now: datetime,
) -> EnrichOutcome:
    """Decode, enrich (or pass through when `models` is None) and encode one batch. CPU-bound, never raises for
    data: bad records and posts that fail enrichment come back as dead letters."""
    out: list[Outgoing] = []
    dead: list[tuple[str, str]] = []

    def dead_letter(letter: DeadLetter) -> None:
        dead.append((letter.error_code.value, letter.stage))
        out.append(dead_letter_message(letter))

    decoded: list[tuple[KafkaRecord, RawEvent]] = []
    for record in records:
        result = codec.decode_raw(record.value, topic=record.topic, partition=record.partition,
                                  offset=record.offset, key=record.key, now=now, limits=limits,
                                  read_only=models is None)
        if isinstance(result, DeadLetter):
            dead_letter(result)
        else:
            decoded.append((record, result))
    posts = [raw for _, raw in decoded]
    nlp_seconds = 0.0
    if posts:
        started = time.perf_counter()
        results: Sequence[EnrichedEvent | Failure] = (
            enrich_batch(posts, models, now=now) if models is not None else [pass_through(p, now) for p in posts])
        nlp_seconds = time.perf_counter() - started
        for (record, raw), enriched in zip(decoded, results, strict=True):
            if isinstance(enriched, Failure):
                dead_letter(dead_letter_for(record, code=enriched.code, message=enriched.message, stage=STAGE,
                                            event_id=raw.event_id, now=now))
            else:
                out.append(Outgoing(Destination.ENRICHED, raw.event_id.encode(), codec.encode_model(enriched)))
    return EnrichOutcome(out, len(records), len(posts), nlp_seconds, dead)


_ENRICHED_MIRROR = mirror(EnrichedEvent)
_NO_SENTIMENT = mirror(Sentiment)(label=SentimentLabel.NEUTRAL, score=0.0, confidence=0.0)


def pass_through(raw: RawEvent, now: datetime) -> EnrichedEvent:
    """Enrichment off (benchmarks): the event in enriched shape, no NLP. The msgspec mirror of the EnrichedEvent
    (schemas/fast.py; it reads and encodes the same): built ~8x cheaper, as nothing here needs checking."""
    return _ENRICHED_MIRROR(  # type: ignore[return-value]  # the msgspec mirror reads as an EnrichedEvent
        event=raw, language=raw.lang_hint or "und", language_confidence=0.0, sentiment=_NO_SENTIMENT,
        enricher_version=PASSTHROUGH_ENRICHER, enriched_at=now,
    )


def count_enrich(outcome: EnrichOutcome, metrics: Metrics) -> None:
    metrics.events_in.labels(agent=STAGE).inc(outcome.records)
    for code, stage in outcome.dead_letters:
        metrics.dead_letter(code, stage)
    if outcome.posts:
        metrics.enrich_seconds.observe(outcome.nlp_seconds)
        metrics.batch_size.labels(agent=STAGE).observe(outcome.posts)
    metrics.events_out.labels(agent=STAGE).inc(len(outcome.out))


class Enricher(Protocol):
    async def enrich(self, records: Sequence[KafkaRecord], now: datetime) -> EnrichOutcome: ...


@dataclass
class InProcessEnricher:
    """NLP (or pass-through, `models` None) on the event loop: pass-through runs and stage tests. A worker with
    NLP uses the NLP process (streams/runtime/nlp_process.py) instead."""

    models: EnrichmentModels | None
    limits: codec.Limits

    async def enrich(self, records: Sequence[KafkaRecord], now: datetime) -> EnrichOutcome:
        return enrich_outcome(records, models=self.models, limits=self.limits, now=now)


@dataclass
class EnrichStage:
    enricher: Enricher
    producer: BatchProducer
    topic_of: dict[Destination, str]  # the Kafka topic of each destination
    policy: RetryPolicy
    metrics: Metrics
    clock: Callable[[], datetime]

    async def handle(self, records: list[KafkaRecord]) -> Durable:
        """Starts the batch and returns at once: the stage takes the next batch meanwhile, which waits in line for
        the enricher, so the NLP process starts on it the moment this one is done. Commits still follow batch
        order (BatchConsumer settles in order), once the returned future completed."""
        return asyncio.ensure_future(isolating(records, self._enrich_and_send, isolate=self._dead_letter,
                                               policy=self.policy, what=STAGE, on_retry=self._on_retry))

    async def _enrich_and_send(self, records: Sequence[KafkaRecord]) -> None:
        outcome = await self.enricher.enrich(records, self.clock())
        await self.producer.send_all([(self.topic_of[m.destination], m.key, m.value) for m in outcome.out])
        count_enrich(outcome, self.metrics)

    async def _dead_letter(self, record: KafkaRecord, exc: BaseException) -> None:
        await send_isolated_dead_letter(record, exc, stage=STAGE, topic=self.topic_of[Destination.DEADLETTER],
                                        send=self.producer.send_all, policy=self.policy, on_retry=self._on_retry,
                                        metrics=self.metrics, now=self.clock())

    def __post_init__(self) -> None:
        self._on_retry: OnRetry = self.metrics.retry_counter(STAGE)
