"""What the agents do with one batch, apart from Faust: testable with plain records and an in-memory writer.

Each step turns a batch of Kafka records into outgoing messages (enriched events, dead letters) or rows.
Data errors come back as dead letters; only infrastructure failures raise.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from processors.enrich import EnrichmentModels, Failure, enrich_batch
from schemas import DeadLetter, EnrichedEvent, ErrorCode, RawEvent, Sentiment, SentimentLabel
from schemas.fast import mirror
from streams import codec
from streams.clickhouse.rows import DEAD_LETTER_COLUMNS, EVENT_COLUMNS, dead_letter_row, event_row
from streams.clickhouse.writer import RowWriter
from streams.metrics import Metrics
from streams.runtime import run_cpu_bound

log = logging.getLogger(__name__)

PASSTHROUGH_ENRICHER = "sp-passthrough/1"


class KafkaRecord(Protocol):
    """The parts of a consumed message the steps use (faust's Message and aiokafka's ConsumerRecord have them)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class Destination(StrEnum):
    ENRICHED = "enriched"
    DEADLETTER = "deadletter"


@dataclass(frozen=True)
class Outgoing:
    destination: Destination
    key: bytes
    value: bytes


def batch_token(records: Sequence[KafkaRecord]) -> str:
    """Names a batch by what it holds — its offset range per partition and a digest of its keys — for insert
    deduplication: the same records give the same token (a retried INSERT), and a recreated topic that reuses
    offsets for other events does not."""
    ranges: dict[tuple[str, int], tuple[int, int]] = {}
    digest = hashlib.blake2b(digest_size=12)
    for r in sorted(records, key=lambda r: (r.topic, r.partition, r.offset)):
        lo, hi = ranges.get((r.topic, r.partition), (r.offset, r.offset))
        ranges[(r.topic, r.partition)] = (min(lo, r.offset), max(hi, r.offset))
        digest.update(r.key or b"\0")
        digest.update(r.offset.to_bytes(8, "little"))
    spans = ",".join(f"{t}/{p}:{lo}-{hi}" for (t, p), (lo, hi) in sorted(ranges.items()))
    return f"{spans}|{digest.hexdigest()}"


def dead_letter_out(letter: DeadLetter, metrics: Metrics) -> Outgoing:
    count_dead_letter(letter.error_code.value, letter.stage, metrics)
    return _dead_letter_message(letter)


def count_dead_letter(code: str, stage: str, metrics: Metrics) -> None:
    metrics.dead_letters.labels(code=code, stage=stage).inc()


def _dead_letter_message(letter: DeadLetter) -> Outgoing:
    return Outgoing(Destination.DEADLETTER, letter.dead_letter_id.encode(), codec.encode_model(letter))


def _dead_letter(record: KafkaRecord, *, code: ErrorCode, message: str, stage: str, event_id: str | None,
                 now: datetime) -> DeadLetter:
    return codec.make_dead_letter(record.value, topic=record.topic, partition=record.partition,
                                  offset=record.offset, key=record.key, code=code, message=message, stage=stage,
                                  event_id=event_id, now=now)


@dataclass
class EnrichOutcome:
    """One enrich batch's messages, and what its metrics need: the NLP may run in another process
    (streams/enrich_process.py), which has no access to the worker's metrics."""

    out: list[Outgoing]
    records: int
    posts: int  # decoded posts that reached enrich_batch (or pass-through)
    nlp_seconds: float
    dead_letters: list[tuple[str, str]]  # (error code, stage) of each dead letter in `out`


def enrich_outcome(
    records: Sequence[KafkaRecord], *, models: EnrichmentModels | None, limits: codec.Limits, now: datetime,
) -> EnrichOutcome:
    """Decode, enrich (or pass through when `models` is None) and encode one batch. CPU-bound."""
    out: list[Outgoing] = []
    dead: list[tuple[str, str]] = []

    def dead_letter(letter: DeadLetter) -> None:
        dead.append((letter.error_code.value, letter.stage))
        out.append(_dead_letter_message(letter))

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
        for (record, raw), result in zip(decoded, results, strict=True):
            if isinstance(result, Failure):
                dead_letter(_dead_letter(record, code=result.code, message=result.message, stage="enrich",
                                         event_id=raw.event_id, now=now))
            else:
                out.append(Outgoing(Destination.ENRICHED, raw.event_id.encode(), codec.encode_model(result)))
    return EnrichOutcome(out, len(records), len(posts), nlp_seconds, dead)


def count_enrich(outcome: EnrichOutcome, metrics: Metrics) -> None:
    metrics.events_in.labels(agent="enrich").inc(outcome.records)
    for code, stage in outcome.dead_letters:
        count_dead_letter(code, stage, metrics)
    if outcome.posts:
        metrics.enrich_seconds.observe(outcome.nlp_seconds)
        metrics.batch_size.labels(agent="enrich").observe(outcome.posts)
    metrics.events_out.labels(agent="enrich").inc(len(outcome.out))


def enrich_records(
    records: Sequence[KafkaRecord],
    *,
    models: EnrichmentModels | None,
    limits: codec.Limits,
    now: datetime,
    metrics: Metrics,
) -> list[Outgoing]:
    """`enrich_outcome` in this process, counted in `metrics`."""
    outcome = enrich_outcome(records, models=models, limits=limits, now=now)
    count_enrich(outcome, metrics)
    return outcome.out


_ENRICHED_MIRROR = mirror(EnrichedEvent)
_NO_SENTIMENT = mirror(Sentiment)(label=SentimentLabel.NEUTRAL, score=0.0, confidence=0.0)


def pass_through(raw: RawEvent, now: datetime) -> EnrichedEvent:
    """Enrichment off (benchmarks): the event in enriched shape, no NLP. The msgspec mirror of the EnrichedEvent
    (schemas/fast.py; it reads and encodes the same): built ~8x cheaper, as nothing here needs checking."""
    return _ENRICHED_MIRROR(  # type: ignore[no-any-return]
        event=raw, language=raw.lang_hint or "und", language_confidence=0.0, sentiment=_NO_SENTIMENT,
        enricher_version=PASSTHROUGH_ENRICHER, enriched_at=now,
    )


@dataclass(frozen=True)
class SinkResult:
    dead_letters: list[Outgoing]  # unreadable records and rows ClickHouse refused
    stored: list[tuple[int, EnrichedEvent]]  # (partition, event) of every row written, for the spike detector


async def sink_records(
    records: Sequence[KafkaRecord], *, writer: RowWriter, table: str, now: datetime, metrics: Metrics,
    offload: bool = False,
) -> SinkResult:
    """Insert enriched events as rows; dead letters for unreadable records and rejected rows.

    Raises only when the writer does (it retries retriable failures itself), so the batch is not acked.
    `offload` decodes in a thread instead of on the event loop (streams.runtime.run_cpu_bound).
    """
    metrics.events_in.labels(agent="clickhouse_sink").inc(len(records))
    rows, row_records, events, out = await run_cpu_bound(_event_rows, records, now, metrics, offload=offload)
    started = time.perf_counter()
    rejected = await writer.insert(table, EVENT_COLUMNS, rows, dedup_token=batch_token(row_records))
    metrics.insert_seconds.labels(table="events").observe(time.perf_counter() - started)
    metrics.batch_size.labels(agent="clickhouse_sink").observe(len(rows))
    metrics.rows_inserted.labels(table="events").inc(len(rows) - len(rejected))
    for bad in rejected:
        letter = _dead_letter(row_records[bad.index], code=ErrorCode.ROW_REJECTED, message=bad.message,
                              stage="sink", event_id=rows[bad.index][0], now=now)
        out.append(dead_letter_out(letter, metrics))
    refused = {bad.index for bad in rejected}
    stored = [(record.partition, event) for i, (record, event) in enumerate(zip(row_records, events, strict=True))
              if i not in refused]
    return SinkResult(out, stored)


def _event_rows(records: Sequence[KafkaRecord], now: datetime, metrics: Metrics
                ) -> tuple[list[tuple[Any, ...]], list[KafkaRecord], list[EnrichedEvent], list[Outgoing]]:
    rows: list[tuple[Any, ...]] = []
    row_records: list[KafkaRecord] = []
    events: list[EnrichedEvent] = []
    out: list[Outgoing] = []
    for record in records:
        try:
            enriched = codec.read_enriched(record.value)
        except Exception as exc:  # noqa: BLE001 - poison record, dead-lettered
            letter = _dead_letter(record, code=ErrorCode.INVALID_VALUE, message=f"unreadable enriched event: {exc}",
                                  stage="sink", event_id=None, now=now)
            out.append(dead_letter_out(letter, metrics))
            continue
        rows.append(event_row(enriched, partition=record.partition, offset=record.offset))
        row_records.append(record)
        events.append(enriched)
    return rows, row_records, events, out


async def sink_dead_letter_records(
    records: Sequence[KafkaRecord], *, writer: RowWriter, table: str, metrics: Metrics,
) -> None:
    """Dead letters into ClickHouse. The topic stays the source of truth: what cannot be written is logged."""
    rows = []
    for record in records:
        try:
            rows.append(dead_letter_row(codec.decode_dead_letter(record.value)))
        except Exception:  # noqa: BLE001 - not ours; it stays in the topic
            log.error("unreadable dead letter on %s[%s]@%s", record.topic, record.partition, record.offset)
    rejected = await writer.insert(table, DEAD_LETTER_COLUMNS, rows, dedup_token=batch_token(records))
    for bad in rejected:
        log.error("dead letter %s refused by ClickHouse: %s", rows[bad.index][0], bad.message)
    metrics.rows_inserted.labels(table="dead_letters").inc(len(rows) - len(rejected))
