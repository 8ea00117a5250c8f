"""Reading and redriving dead letters stored in ClickHouse (the topic stays the source of truth)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clickhouse_driver import Client

from schemas import ErrorCode
from streams.clickhouse.client import check_identifier


@dataclass(frozen=True)
class StoredDeadLetter:
    dead_letter_id: str
    error_code: str
    stage: str
    error_message: str
    event_id: str
    failed_at: datetime
    key: bytes | None
    original: bytes


def _filters(codes: list[str] | None, ids: list[str] | None, since: datetime | None) -> tuple[str, dict[str, Any]]:
    for code in codes or []:
        ErrorCode(code)  # ValueError with the bad code for unknown ones
    clauses, params = [], {}
    if codes:
        clauses.append("error_code IN %(codes)s")
        params["codes"] = tuple(codes)
    if ids:
        clauses.append("dead_letter_id IN %(ids)s")
        params["ids"] = tuple(ids)
    if since:
        clauses.append("failed_at >= %(since)s")
        params["since"] = since.replace(tzinfo=None)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def summary_by_code(client: Client, database: str, *, since: datetime | None = None) -> list[tuple[Any, ...]]:
    where, params = _filters(None, None, since)
    return client.execute(
        f"SELECT error_code, stage, count(), max(failed_at) FROM {check_identifier(database)}.dead_letters FINAL"
        f"{where} GROUP BY error_code, stage ORDER BY count() DESC", params)


def fetch(client: Client, database: str, *, codes: list[str] | None = None, ids: list[str] | None = None,
          since: datetime | None = None, limit: int = 100) -> list[StoredDeadLetter]:
    where, params = _filters(codes, ids, since)
    params["limit"] = limit
    rows = client.execute(
        "SELECT dead_letter_id, error_code, stage, error_message, event_id, failed_at, key_b64, original_b64 "
        f"FROM {check_identifier(database)}.dead_letters FINAL{where} "
        "ORDER BY failed_at DESC, dead_letter_id LIMIT %(limit)s", params)
    return [StoredDeadLetter(r[0], r[1], r[2], r[3], r[4], r[5], base64.b64decode(r[6]) if r[6] else None,
                             base64.b64decode(r[7])) for r in rows]


def redrive(letters: list[StoredDeadLetter], *, producer: Any, topic: str) -> int:
    """Re-submit the original bytes (and key) to `topic`; returns how many the broker acknowledged."""
    futures = [producer.send(topic, key=letter.key, value=letter.original) for letter in letters]
    producer.flush(timeout=60)
    return sum(1 for f in futures if f.succeeded())
