"""End to end on the real stack: raw topic → worker (Faust, spaCy) → enriched topic + ClickHouse + dead letters."""

import json
from datetime import UTC, datetime, timedelta

from kafka import KafkaConsumer, KafkaProducer

NOW = datetime.now(UTC).replace(microsecond=0)

TEXTS = [
    "Just switched to the Nimbus X2 and the battery life is amazing 😍 #NimbusX2 @nimbus",
    "Vertex support kept me on hold for two hours. Never again. #fail",
    "Me encanta el nuevo café de Madrid, buenísimo ☕ #cafe",
    "El servicio de Vertex en Barcelona es terrible, muy decepcionado 😡",
    "Anyone going to the launch event in London tomorrow? https://example.com/launch",
]


def raw_event(i: int) -> dict:
    return {
        "event_id": f"x:{1000 + i}", "network": "x", "native_id": str(1000 + i),
        "kind": "post", "author": {"id": f"u{i % 7}", "handle": f"user{i % 7}", "name": "", "followers": i},
        "text": TEXTS[i % len(TEXTS)], "lang_hint": None,
        "created_at": (NOW - timedelta(minutes=i % 50)).isoformat(), "ingested_at": NOW.isoformat(),
    }


POISON = [
    b"",                                    # empty_payload
    b"\xff\xfe\xfd",                        # invalid_utf8
    b'{"event_id": "x:1"',                  # invalid_json
    b"[1, 2, 3]",                           # not_an_object
    json.dumps({**raw_event(0), "network": "myspace", "event_id": "myspace:1000"}).encode(),  # unknown network
    json.dumps({**raw_event(0), "created_at": "2099-01-01T00:00:00+00:00"}).encode(),      # far future
]


def produce(bootstrap: str, topic: str, values: list[tuple[bytes | None, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    for key, value in values:
        producer.send(topic, key=key, value=value)
    producer.flush(timeout=30)
    producer.close()


def test_pipeline_enriches_stores_and_dead_letters_on_the_real_stack(pipeline):
    settings = pipeline.settings
    kafka, db = settings.kafka, settings.clickhouse.database
    good = [raw_event(i) for i in range(200)]
    produce(kafka.bootstrap_servers, kafka.raw_topic,
            [(e["event_id"].encode(), json.dumps(e).encode()) for e in good] + [(None, p) for p in POISON])
    pipeline.start_worker()

    assert pipeline.wait_for_rows(f"SELECT uniqExact(event_id) FROM {db}.events", 200) == 200
    assert pipeline.wait_for_rows(f"SELECT count() FROM {db}.dead_letters FINAL", len(POISON)) == len(POISON)

    client = pipeline.clickhouse()
    codes = dict(client.execute(f"SELECT error_code, count() FROM {db}.dead_letters FINAL GROUP BY error_code"))
    assert codes == {"empty_payload": 1, "invalid_utf8": 1, "invalid_json": 1, "not_an_object": 1,
                     "unknown_network": 1, "timestamp_out_of_range": 1}
    (original,), = client.execute(f"SELECT original_b64 FROM {db}.dead_letters FINAL "
                                  "WHERE error_code = 'invalid_utf8'")
    import base64
    assert base64.b64decode(original) == b"\xff\xfe\xfd"

    # enrichment really happened: languages and entities from the real models
    langs = dict(client.execute(f"SELECT language, count() FROM {db}.events FINAL GROUP BY language"))
    assert langs.get("en", 0) >= 100 and langs.get("es", 0) >= 60, langs
    (with_entities,), = client.execute(f"SELECT countIf(length(`entities.text`) > 0) FROM {db}.events FINAL")
    assert with_entities > 50
    (tags,), = client.execute(f"SELECT countIf(has(hashtags, 'nimbusx2')) FROM {db}.events FINAL")
    assert tags == 40

    # a replay of the same posts does not change what users see
    produce(kafka.bootstrap_servers, kafka.raw_topic, [(e["event_id"].encode(), json.dumps(e).encode())
                                                       for e in good[:50]])
    pipeline.wait_for_rows(f"SELECT count() FROM {db}.events", 250)
    (seen,), = client.execute(f"SELECT count() FROM {db}.events FINAL")
    assert seen == 200

    # a plain Kafka consumer reads enriched events
    consumer = KafkaConsumer(kafka.enriched_topic, bootstrap_servers=kafka.bootstrap_servers,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)
    messages = [m for _, m in zip(range(300), consumer, strict=False)]
    consumer.close()
    assert len(messages) >= 200
    body = json.loads(messages[0].value)
    assert body["event"]["event_id"] == messages[0].key.decode()
    assert body["sentiment"]["label"] in {"negative", "neutral", "positive"}
    assert body["enricher_version"]
