"""Stages' batch steps with plain records and the in-memory writer: good events flow, poison is dead-lettered."""

import asyncio
import json
from datetime import UTC, datetime

from streams import codec
from streams.metrics import Metrics
from streams.runtime.records import Destination, Record, batch_token
from streams.sinks.clickhouse.rows import EVENT_COLUMNS
from streams.sinks.clickhouse.writer import InMemoryWriter
from streams.stages.clickhouse_sink import sink_records
from streams.stages.dead_letters import sink_dead_letter_records
from streams.stages.enrich import count_enrich, enrich_outcome

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def raw_event(native_id: str, text: str = "Loving the new Nimbus phone 😍 #nimbus") -> dict:
    return {
        "event_id": f"mastodon:{native_id}", "network": "mastodon", "native_id": native_id, "kind": "post",
        "author": {"id": "a1", "handle": "ana", "name": "Ana", "followers": 10}, "text": text,
        "lang_hint": "en", "created_at": "2026-11-20T11:59:00+00:00", "ingested_at": "2026-11-20T11:59:01+00:00",
    }


def enrich_records(records, *, models, limits, now, metrics):
    outcome = enrich_outcome(records, models=models, limits=limits, now=now)
    count_enrich(outcome, metrics)
    return outcome.out


def records(values: list[bytes]) -> list[Record]:
    return [Record("social.raw.v1", 0, i, None, v) for i, v in enumerate(values)]


def test_stages_enrich_passes_good_events_and_dead_letters_poison_with_original_bytes():
    metrics = Metrics.create()
    bad_json, bad_utf8 = b'{"event_id": ', b"\xff\xfe"
    good = json.dumps(raw_event("1")).encode()
    out = enrich_records(records([good, bad_json, bad_utf8]), models=None, limits=codec.Limits(), now=NOW,
                         metrics=metrics)
    assert [o.destination for o in out].count(Destination.ENRICHED) == 1
    letters = [codec.decode_dead_letter(o.value) for o in out if o.destination is Destination.DEADLETTER]
    assert {(letter.offset, letter.error_code.value) for letter in letters} == {(1, "invalid_json"),
                                                                               (2, "invalid_utf8")}
    assert {letter.original for letter in letters} == {bad_json, bad_utf8}
    enriched = codec.decode_enriched(next(o.value for o in out if o.destination is Destination.ENRICHED))
    assert enriched.event_id == "mastodon:1"
    assert metrics.registry.get_sample_value("socialpulse_dead_letters_total",
                                             {"code": "invalid_json", "stage": "decode"}) == 1


def test_stages_sink_writes_rows_and_dead_letters_rejected_and_unreadable_records():
    metrics = Metrics.create()
    enriched = enrich_records(records([json.dumps(raw_event(str(i))).encode() for i in range(3)]),
                              models=None, limits=codec.Limits(), now=NOW, metrics=metrics)
    writer = InMemoryWriter(reject=lambda row: "Type mismatch" if row[0] == "mastodon:2" else None)
    sink_in = [Record("social.enriched.v1", 0, i, o.key, o.value) for i, o in enumerate(enriched)]
    sink_in.append(Record("social.enriched.v1", 0, 3, None, b"not json"))
    result = asyncio.run(sink_records(sink_in, writer=writer, table="db.events", now=NOW, metrics=metrics))
    assert sorted(row[0] for row in writer.tables["db.events"]) == ["mastodon:0", "mastodon:1"]
    assert len(writer.tables["db.events"][0]) == len(EVENT_COLUMNS)
    # the spike detector gets exactly the stored events, with their partitions
    assert [(p, e.event_id) for p, _, e in result.stored] == [(0, "mastodon:0"), (0, "mastodon:1")]
    letters = sorted((codec.decode_dead_letter(o.value) for o in result.dead_letters), key=lambda d: d.offset)
    assert [(d.offset, d.error_code.value, d.stage) for d in letters] == [(2, "row_rejected", "sink"),
                                                                           (3, "invalid_value", "sink")]
    assert letters[0].event_id == "mastodon:2"


def test_stages_dead_letter_sink_stores_each_letter():
    metrics = Metrics.create()
    out = enrich_records(records([b"[]", b""]), models=None, limits=codec.Limits(), now=NOW, metrics=metrics)
    writer = InMemoryWriter()
    asyncio.run(sink_dead_letter_records(
        [Record("social.deadletter.v1", 0, i, o.key, o.value) for i, o in enumerate(out)],
        writer=writer, table="db.dead_letters", metrics=metrics))
    assert sorted(row[6] for row in writer.tables["db.dead_letters"]) == ["empty_payload", "not_an_object"]


def test_stages_sink_names_its_insert_by_the_records_so_a_retried_batch_is_stored_once():
    metrics = Metrics.create()
    enriched = enrich_records(records([json.dumps(raw_event(str(i))).encode() for i in range(4)]),
                              models=None, limits=codec.Limits(), now=NOW, metrics=metrics)
    sink_in = [Record("social.enriched.v1", i % 2, 100 + i, o.key, o.value) for i, o in enumerate(enriched)]
    writer = InMemoryWriter()  # deduplicates by token like ClickHouse >= 22.2 with migration 0010
    for _ in range(2):  # the step retried after an insert whose outcome was unknown
        asyncio.run(sink_records(sink_in, writer=writer, table="db.events", now=NOW, metrics=metrics))
    assert len(writer.tables["db.events"]) == 4
    token = writer.tokens["db.events"][0]
    assert token.startswith("social.enriched.v1/0:100-102,social.enriched.v1/1:101-103|")
    assert batch_token(list(reversed(sink_in))) == token  # order inside the batch does not matter
    # the same offsets holding other events (a recreated topic) are another block
    moved = [Record(r.topic, r.partition, r.offset, b"other:" + r.key, r.value) for r in sink_in]
    assert batch_token(moved) != token
