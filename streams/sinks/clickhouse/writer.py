"""Batched, retried ClickHouse inserts.

The writer is a small protocol so stages can be tested with the in-memory implementation. Infrastructure
faults (server down, timeouts, overload codes: streams/runtime/failure_policy.py) are retried in place with the
policy's backoff — the caller is blocked, which is the back-pressure. A refused insert is bisected down to the rows
the server rejects, which come back to the caller as values, to dead-letter. Where the server supports it,
each block carries an insert_deduplication_token so a retry of an INSERT that may have landed is stored once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from clickhouse_driver import Client

from streams.runtime.failure_policy import Fault, RetryPolicy, until_done
from streams.sinks.clickhouse.client import server_version

log = logging.getLogger(__name__)

# insert_deduplication_token (and the non-replicated deduplication window of migration 0010) exist from here on.
DEDUP_TOKEN_SINCE = (22, 2)


@dataclass(frozen=True)
class RejectedRow:
    index: int  # position in the batch given to insert()
    message: str


class RowWriter(Protocol):
    async def insert(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]], *,
                     dedup_token: str | None = None) -> list[RejectedRow]:
        """Insert all rows or return the ones the server rejected. Retries retriable errors itself.

        `dedup_token` names the block: where the server supports it, a block inserted again under the same
        token is stored once (a retry after an ambiguous failure). It must be derived from the data."""
        ...


@dataclass
class InMemoryWriter:
    """For stage tests: records inserts; rows for which `reject(row)` returns a message are refused; a token
    seen before for the table makes the insert a no-op, as on a server with insert deduplication."""

    tables: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    reject: Callable[[tuple[Any, ...]], str | None] = lambda row: None
    tokens: dict[str, list[str]] = field(default_factory=dict)

    async def insert(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]], *,
                     dedup_token: str | None = None) -> list[RejectedRow]:
        if dedup_token is not None:
            if dedup_token in self.tokens.get(table, []):
                return []
            self.tokens.setdefault(table, []).append(dedup_token)
        rejected = [RejectedRow(i, msg) for i, row in enumerate(rows) if (msg := self.reject(row))]
        bad = {r.index for r in rejected}
        self.tables.setdefault(table, []).extend(row for i, row in enumerate(rows) if i not in bad)
        return rejected


class ClickHouseWriter:
    """clickhouse-driver in a worker thread (it is blocking), one connection per writer."""

    def __init__(
        self,
        client_factory: Callable[[], Client],
        *,
        max_backoff_seconds: float = 10.0,
        on_retry: Callable[[BaseException, int], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client_factory = client_factory
        self._client: Client | None = None
        self._tokens_supported = False
        self._policy = RetryPolicy(first_delay=min(0.2, max_backoff_seconds), max_delay=max_backoff_seconds)
        self._on_retry = on_retry
        self._sleep = sleep

    async def insert(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]], *,
                     dedup_token: str | None = None) -> list[RejectedRow]:
        if not rows:
            return []
        sql = f"INSERT INTO {table} ({', '.join(f'`{c}`' for c in columns)}) VALUES"
        return await self._insert_bisecting(sql, list(rows), 0, dedup_token, whole=True)

    async def _insert_bisecting(self, sql: str, rows: list[tuple[Any, ...]], base: int, token: str | None, *,
                                whole: bool = False) -> list[RejectedRow]:
        # a part of the batch is another block: its own token, as deterministic as the whole batch's
        block_token = token if whole or token is None else f"{token}#{base}+{len(rows)}"
        try:
            await self._insert_retrying(sql, rows, block_token)
            return []
        except Exception as exc:  # non-retriable: the data itself is refused
            if len(rows) == 1:
                return [RejectedRow(base, f"{type(exc).__name__}: {exc}"[:2000])]
            mid = len(rows) // 2
            left = await self._insert_bisecting(sql, rows[:mid], base, token)
            right = await self._insert_bisecting(sql, rows[mid:], base + mid, token)
            return left + right

    async def _insert_retrying(self, sql: str, rows: list[tuple[Any, ...]], token: str | None) -> None:
        """Infrastructure faults are retried for as long as it takes (streams/runtime/failure_policy.py); anything
        else is raised at once, for the bisection to find the rows the server refuses."""

        def retried(fault: Fault, exc: BaseException, attempt: int) -> None:
            self._drop_connection()
            if self._on_retry:
                self._on_retry(exc, attempt)

        await until_done(lambda: asyncio.to_thread(self._execute, sql, rows, token), policy=self._policy,
                         what="ClickHouse insert", on_retry=retried, sleep=self._sleep, record_attempts=1)

    def _execute(self, sql: str, rows: list[tuple[Any, ...]], token: str | None) -> None:
        if self._client is None:
            self._client = self._client_factory()
            self._tokens_supported = server_version(self._client)[:2] >= DEDUP_TOKEN_SINCE
        settings = None
        if token and self._tokens_supported:  # the materialized views' tables skip a deduplicated block too
            settings = {"insert_deduplication_token": token, "deduplicate_blocks_in_dependent_materialized_views": 1}
        self._client.execute(sql, rows, types_check=False, settings=settings)

    def _drop_connection(self) -> None:
        if self._client is not None:
            try:
                self._client.disconnect()
            except Exception:  # noqa: BLE001 - already broken
                log.debug("disconnect after failure raised", exc_info=True)
            self._client = None

    def close(self) -> None:
        self._drop_connection()
