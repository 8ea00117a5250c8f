"""The naive baseline of issue 5: one message at a time, no batching anywhere.

A plain kafka-python consumer loop on the raw topic, configured by the same SOCIALPULSE_* settings as a worker:
for each message decode (streams.codec.decode_raw) → enrich_batch([post]) → a single-row INSERT into
<database>.events → synchronous offset commit. Dead letters are only counted (the baseline measures the happy
path). SIGTERM stops it after the current message.

    SOCIALPULSE_KAFKA__RAW_TOPIC=... SOCIALPULSE_CLICKHOUSE__DATABASE=... .venv/bin/python bench/naive_agent.py
"""

from __future__ import annotations

import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kafka import KafkaConsumer  # noqa: E402

from processors.enrich import Failure, enrich_batch  # noqa: E402
from processors.models import load_models  # noqa: E402
from schemas import DeadLetter  # noqa: E402
from streams import codec  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.sinks.clickhouse.client import connect  # noqa: E402
from streams.sinks.clickhouse.rows import EVENT_COLUMNS, event_row  # noqa: E402


def main() -> int:
    settings = Settings()
    kafka, ch, nlp = settings.kafka, settings.clickhouse, settings.nlp
    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    models = load_models(profile=nlp.profile, brand_queries_path=nlp.brand_queries_path, languages=nlp.languages)
    client = connect(ch, database=ch.database)
    sql = f"INSERT INTO {ch.database}.events ({', '.join(f'`{c}`' for c in EVENT_COLUMNS)}) VALUES"
    limits = codec.Limits(max_text_chars=nlp.max_text_chars)
    consumer = KafkaConsumer(kafka.raw_topic, bootstrap_servers=kafka.bootstrap_servers.split(","),
                             group_id=settings.worker.app_id, enable_auto_commit=False,
                             auto_offset_reset="earliest", client_id="sp-naive")
    done = dead = 0
    try:
        while not stop:
            for batch in consumer.poll(timeout_ms=500, max_records=1).values():
                for msg in batch:
                    now = datetime.now(UTC)
                    raw = codec.decode_raw(msg.value, topic=msg.topic, partition=msg.partition, offset=msg.offset,
                                           key=msg.key, now=now, limits=limits)
                    if isinstance(raw, DeadLetter):
                        dead += 1
                    else:
                        (result,) = enrich_batch([raw], models, now=now)
                        if isinstance(result, Failure):
                            dead += 1
                        else:
                            client.execute(sql, [event_row(result, partition=msg.partition, offset=msg.offset)],
                                           types_check=True)
                            done += 1
                    consumer.commit()
    finally:
        consumer.close()
        client.disconnect()
        print(f"naive agent: inserted {done}, dead {dead}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
