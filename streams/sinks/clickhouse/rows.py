"""EnrichedEvent / DeadLetter → ClickHouse row tuples. Column order is the DDL's (checked by a contract test)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas import DeadLetter, EnrichedEvent

EVENT_COLUMNS: tuple[str, ...] = (
    "event_id", "network", "kind", "native_id", "author_id", "author_handle", "author_followers",
    "text", "lang_hint", "url", "thread_id", "reply_to_id", "likes", "reposts", "replies", "quotes",
    "created_at", "ingested_at", "language", "language_confidence", "sentiment_label", "sentiment_score",
    "sentiment_confidence", "entities.text", "entities.label", "entities.canonical", "entities.source",
    "hashtags", "mentions", "urls", "cashtags", "emojis", "topics", "enricher_version", "enriched_at",
    "kafka_partition", "kafka_offset",
)

DEAD_LETTER_COLUMNS: tuple[str, ...] = (
    "dead_letter_id", "source_topic", "partition", "offset", "key_b64", "original_b64", "error_code",
    "error_message", "stage", "event_id", "failed_at", "original_size", "original_sha256",
)

_UINT32_MAX = 2**32 - 1


def utc_naive(moment: datetime) -> datetime:
    """For DateTime columns: clickhouse-driver writes naive datetimes as given, and DateTime columns hold UTC."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def _epoch_seconds(moment: datetime) -> int:
    # What clickhouse-driver turns a datetime into for a DateTime column, without its per-value timezone work
    # (the events row is the sink's hot path); `moment` is aware (the contract's AwareDatetime).
    return int(moment.timestamp())


def event_row(enriched: EnrichedEvent, *, partition: int, offset: int) -> tuple[Any, ...]:
    # StrEnum members are written as their str values (they are str): no `.value`, a slow enum property.
    raw = enriched.event
    entities = enriched.entities
    return (
        raw.event_id, raw.network, raw.kind, raw.native_id, raw.author.id, raw.author.handle,
        raw.author.followers, raw.text, raw.lang_hint or "", raw.url or "", raw.thread_id or "",
        raw.reply_to_id or "",
        min(raw.engagement.likes, _UINT32_MAX), min(raw.engagement.reposts, _UINT32_MAX),
        min(raw.engagement.replies, _UINT32_MAX), min(raw.engagement.quotes, _UINT32_MAX),
        _epoch_seconds(raw.created_at), _epoch_seconds(raw.ingested_at),
        enriched.language, enriched.language_confidence, enriched.sentiment.label,
        enriched.sentiment.score, enriched.sentiment.confidence,
        [e.text for e in entities], [e.label for e in entities], [e.canonical for e in entities],
        [e.source for e in entities],
        list(enriched.hashtags), list(enriched.mentions), list(enriched.urls), list(enriched.cashtags),
        [e.char for e in enriched.emojis], list(enriched.topics), enriched.enricher_version,
        _epoch_seconds(enriched.enriched_at), partition, offset,
    )


def dead_letter_row(letter: DeadLetter) -> tuple[Any, ...]:
    return (
        letter.dead_letter_id, letter.source_topic, letter.partition, letter.offset, letter.key_b64 or "",
        letter.original_b64, letter.error_code.value, letter.error_message, letter.stage,
        letter.event_id or "", utc_naive(letter.failed_at),
        len(letter.original) if letter.original_size is None else letter.original_size, letter.original_sha256 or "",
    )
