"""The one failure policy: infrastructure faults block and retry, records that keep failing are isolated."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
from datetime import UTC, datetime

import pytest
from aiokafka import errors as kafka_errors
from clickhouse_driver import errors as ch_errors

from schemas import ErrorCode
from schemas.deadletter import ORIGINAL_MAX_BYTES
from streams import codec
from streams.metrics import Metrics
from streams.runtime.failure_policy import (
    Fault,
    RecordTooLarge,
    RetryPolicy,
    classify,
    error_code,
    isolating,
    until_done,
)
from streams.runtime.records import Destination, Record
from streams.sinks.clickhouse.writer import InMemoryWriter
from streams.stages.clickhouse_sink import ClickHouseSinkStage
from streams.stages.enrich import EnrichStage, InProcessEnricher

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(first_delay=0.01, max_delay=0.01, record_attempts=3)


async def no_sleep(seconds: float) -> None:
    return None


@pytest.mark.parametrize(("exc", "fault"), [
    (kafka_errors.KafkaConnectionError(), Fault.INFRASTRUCTURE),
    (kafka_errors.KafkaTimeoutError(), Fault.INFRASTRUCTURE),
    (kafka_errors.NotEnoughReplicasError(), Fault.INFRASTRUCTURE),
    (kafka_errors.OutOfOrderSequenceNumber(), Fault.INFRASTRUCTURE),
    (kafka_errors.MessageSizeTooLargeError(), Fault.RECORD),
    (RecordTooLarge("t", 2_000_000, 1_048_576), Fault.RECORD),
    (ch_errors.NetworkError("down"), Fault.INFRASTRUCTURE),
    (ch_errors.ServerException("too many parts", code=252), Fault.INFRASTRUCTURE),
    (ch_errors.ServerException("cannot parse", code=27), Fault.RECORD),
    (ConnectionRefusedError(), Fault.INFRASTRUCTURE),
    (TimeoutError(), Fault.INFRASTRUCTURE),
    (ValueError("a bug some input triggers"), Fault.RECORD),
])
def test_failure_policy_classifies_infrastructure_and_record_faults(exc: BaseException, fault: Fault) -> None:
    assert classify(exc) is fault


def test_failure_policy_error_codes_of_isolated_records() -> None:
    assert error_code(RecordTooLarge("t", 2, 1)) is ErrorCode.RECORD_TOO_LARGE
    assert error_code(kafka_errors.MessageSizeTooLargeError()) is ErrorCode.RECORD_TOO_LARGE
    assert error_code(ch_errors.ServerException("x", code=53)) is ErrorCode.ROW_REJECTED
    assert error_code(KeyError("x")) is ErrorCode.PROCESSING_FAILED


def test_failure_policy_retries_infrastructure_faults_for_as_long_as_it_takes() -> None:
    calls = []

    async def step() -> str:
        calls.append(1)
        if len(calls) < 25:  # far more than record_attempts
            raise kafka_errors.KafkaConnectionError()
        return "done"

    retries: list[tuple[Fault, int]] = []
    result = asyncio.run(until_done(step, policy=POLICY, what="t", sleep=no_sleep,
                                    on_retry=lambda fault, exc, attempt: retries.append((fault, attempt))))
    assert result == "done" and len(calls) == 25
    assert retries[-1] == (Fault.INFRASTRUCTURE, 24)


def test_failure_policy_gives_up_on_a_record_fault_after_the_bounded_attempts() -> None:
    calls = []

    async def step() -> None:
        calls.append(1)
        raise ValueError("always")

    with pytest.raises(ValueError, match="always"):
        asyncio.run(until_done(step, policy=POLICY, what="t", sleep=no_sleep))
    assert len(calls) == 3


def test_failure_policy_isolates_each_failing_record_and_processes_the_rest_once_done() -> None:
    done: list[int] = []
    isolated: list[tuple[int, str]] = []
    poison = {3, 7, 8}

    async def step(part: list[int]) -> None:
        if poison & set(part):
            raise ValueError(f"poison in {part}")
        done.extend(part)

    async def isolate(record: int, exc: BaseException) -> None:
        isolated.append((record, type(exc).__name__))

    asyncio.run(isolating(list(range(16)), step, isolate=isolate, policy=POLICY, what="t", sleep=no_sleep))
    assert sorted(done) == sorted(set(range(16)) - poison)  # each good record processed exactly once
    assert sorted(isolated) == [(3, "ValueError"), (7, "ValueError"), (8, "ValueError")]


def test_failure_policy_does_not_isolate_good_records_through_an_outage() -> None:
    outage = iter([True] * 10 + [False] * 100)
    done: list[int] = []

    async def step(part: list[int]) -> None:
        if next(outage):
            raise ch_errors.NetworkError("ClickHouse is down")
        done.extend(part)

    async def isolate(record: int, exc: BaseException) -> None:
        raise AssertionError("an outage isolated a good record")

    asyncio.run(isolating(list(range(8)), step, isolate=isolate, policy=POLICY, what="t", sleep=no_sleep))
    assert done == list(range(8))


def test_codec_dead_letter_of_a_record_near_the_broker_limit_stays_small_and_names_the_original() -> None:
    value = json.dumps({"text": "x" * 950_000}).encode()
    letter = codec.make_dead_letter(value, topic="social.raw.v1", partition=2, offset=41, key=b"k" * 10_000,
                                    code=ErrorCode.TEXT_TOO_LONG, message="too long", stage="validate", now=NOW)
    assert len(codec.encode_model(letter)) < 400_000  # well under Kafka's 1 MiB
    assert letter.truncated and letter.original == value[:ORIGINAL_MAX_BYTES]
    assert letter.original_size == len(value)
    assert letter.original_sha256 == hashlib.sha256(value).hexdigest()
    small = codec.make_dead_letter(b"{}", topic="t", partition=0, offset=0, key=None, code=ErrorCode.UNKNOWN_SHAPE,
                                   message="m", stage="validate", now=NOW)
    assert not small.truncated and small.original == b"{}"


class FakeProducer:
    """BatchProducer's send_all: refuses a batch holding a message over `limit` before sending any of it (only on
    the enriched topic here: a real dead letter is bounded to a third of the real limit, the test's is tiny)."""

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self.sent: list[tuple[str, bytes, bytes]] = []

    async def send_all(self, messages: list[tuple[str, bytes, bytes]]) -> None:
        for topic, key, value in messages:
            if topic == "enriched" and len(key) + len(value) > self.limit:
                raise RecordTooLarge(topic, len(key) + len(value), self.limit)
        self.sent.extend(messages)


def raw(i: int, text: str = "hello #nimbus") -> bytes:
    return json.dumps({
        "event_id": f"mastodon:{i}", "network": "mastodon", "native_id": str(i), "kind": "post",
        "author": {"id": "a1", "handle": "ana", "name": "Ana", "followers": 10}, "text": text,
        "lang_hint": "en", "created_at": "2026-11-20T11:59:00+00:00", "ingested_at": "2026-11-20T11:59:01+00:00",
    }).encode()


def test_enrich_stage_dead_letters_an_event_too_large_to_produce_and_sends_the_rest() -> None:
    producer = FakeProducer(limit=6_000)
    stage = EnrichStage(InProcessEnricher(None, codec.Limits()), producer,  # type: ignore[arg-type]
                        {Destination.ENRICHED: "enriched", Destination.DEADLETTER: "dead"}, POLICY,
                        Metrics.create(), lambda: NOW)
    records = [Record("raw", 0, i, None, raw(i, "big " * 1500 if i == 5 else "hello")) for i in range(10)]

    async def run() -> None:
        await (await stage.handle(records))

    asyncio.run(run())
    enriched = sorted(k for t, k, _ in producer.sent if t == "enriched")
    assert enriched == sorted(f"mastodon:{i}".encode() for i in range(10) if i != 5)
    letters = [codec.decode_dead_letter(v) for t, _, v in producer.sent if t == "dead"]
    assert [(d.offset, d.error_code, d.stage) for d in letters] == [(5, ErrorCode.RECORD_TOO_LARGE, "enrich")]
    assert letters[0].original == records[5].value


def test_clickhouse_sink_stage_isolates_a_record_whose_row_cannot_be_built_and_stores_the_rest() -> None:
    producer = FakeProducer()
    metrics = Metrics.create()
    enrich = EnrichStage(InProcessEnricher(None, codec.Limits()), producer,  # type: ignore[arg-type]
                         {Destination.ENRICHED: "enriched", Destination.DEADLETTER: "dead"}, POLICY, metrics,
                         lambda: NOW)

    async def enriched() -> None:
        await (await enrich.handle([Record("raw", 0, i, None, raw(i)) for i in range(6)]))

    asyncio.run(enriched())
    sink_in = [Record("enriched", 0, i, k, v) for i, (_, k, v) in enumerate(producer.sent)]

    class BrokenRows(InMemoryWriter):
        async def insert(self, table, columns, rows, *, dedup_token=None):  # type: ignore[no-untyped-def]
            if any(row[0] == "mastodon:4" for row in rows):
                raise TypeError("row building failed")  # deterministic, not ClickHouse being down
            return await super().insert(table, columns, rows, dedup_token=dedup_token)

    writer, observed = BrokenRows(), []

    async def after_stored(records: list, stored: list) -> None:
        observed.extend(e.event_id for _, _, e in stored)

    sink = ClickHouseSinkStage(writer, "db.events", producer, "dead", POLICY, metrics,  # type: ignore[arg-type]
                               lambda: NOW, after_stored=after_stored)
    producer.sent.clear()
    asyncio.run(sink.handle(sink_in))
    assert sorted(r[0] for r in writer.tables["db.events"]) == [f"mastodon:{i}" for i in (0, 1, 2, 3, 5)]
    assert sorted(observed) == [f"mastodon:{i}" for i in (0, 1, 2, 3, 5)]  # the detector sees each once
    letters = [codec.decode_dead_letter(v) for _, _, v in producer.sent]
    assert [(d.offset, d.error_code, d.stage) for d in letters] == [(4, ErrorCode.PROCESSING_FAILED, "sink")]
    assert metrics.registry.get_sample_value("socialpulse_dead_letters_total",
                                             {"code": "processing_failed", "stage": "sink"}) == 1


def test_failure_policy_isolating_leaves_no_reference_cycle_behind() -> None:
    """A cycle per batch keeps what the step holds (a sink batch's events) alive until the cyclic GC, which a
    worker runs rarely: RSS and GC time grow with it."""

    async def step(part: list[int]) -> None:
        return None

    async def isolate(record: int, exc: BaseException) -> None:
        return None

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(isolating([0], step, isolate=isolate, policy=POLICY, what="t"))
        gc.collect()
        gc.disable()
        try:
            for _ in range(20):
                loop.run_until_complete(isolating(list(range(8)), step, isolate=isolate, policy=POLICY, what="t"))
            assert gc.collect() == 0
        finally:
            gc.enable()
    finally:
        loop.close()
