"""Reading dead letters back: whole originals for truncated letters, redrive to the topic each one failed on."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from schemas.deadletter import ORIGINAL_MAX_BYTES
from streams.deadletters import StoredDeadLetter, redrive, whole_original

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_deadletters_redrive_reads_a_truncated_original_back_from_its_topic_and_checks_it() -> None:
    value = b"y" * (ORIGINAL_MAX_BYTES + 10)
    letter = StoredDeadLetter("social.raw.v1:1:5", "text_too_long", "validate", "m", "", NOW, b"key",
                              value[:ORIGINAL_MAX_BYTES], "social.raw.v1", 1, 5, len(value),
                              hashlib.sha256(value).hexdigest())
    assert whole_original(letter, lambda t, p, o: (b"key", value) if (t, p, o) == ("social.raw.v1", 1, 5)
                          else None) == (b"key", value)
    assert whole_original(letter, lambda t, p, o: (b"key", b"other bytes")) is None  # not the original
    assert whole_original(letter, lambda t, p, o: None) is None  # no longer retained


def test_deadletters_redrive_sends_nothing_for_a_connector_record_that_never_reached_kafka(caplog) -> None:
    value = b"z" * (ORIGINAL_MAX_BYTES + 10)
    letter = StoredDeadLetter("bluesky:jetstream:0:77", "record_too_large", "decode", "m", "", NOW, None,
                              value[:ORIGINAL_MAX_BYTES], "bluesky:jetstream", 0, 77, len(value),
                              hashlib.sha256(value).hexdigest())

    def never(topic, partition, offset):
        raise AssertionError("no Kafka topic to read from")

    assert whole_original(letter, never) is None
    assert "never reached Kafka" in caplog.text



class SentFuture:
    def succeeded(self) -> bool:
        return True


class Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []

    def send(self, topic: str, *, key: bytes | None, value: bytes) -> SentFuture:
        self.sent.append((topic, key, value))
        return SentFuture()

    def flush(self, timeout: float) -> None:
        return None


def letter(source_topic: str, original: bytes) -> StoredDeadLetter:
    return StoredDeadLetter(f"{source_topic}:0:1", "row_rejected", "sink", "m", "x:1", NOW, b"x:1", original,
                            source_topic, 0, 1, len(original), hashlib.sha256(original).hexdigest())


def test_deadletters_redrive_sends_each_letter_back_to_the_topic_it_failed_on() -> None:
    producer = Producer()
    letters = [letter("social.raw.v1", b"raw bytes"), letter("social.enriched.v1", b"enriched bytes")]
    assert redrive(letters, producer=producer, read_record=lambda t, p, o: None) == 2
    assert producer.sent == [("social.raw.v1", b"x:1", b"raw bytes"), ("social.enriched.v1", b"x:1", b"enriched bytes")]
