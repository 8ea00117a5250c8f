"""Batched, retried ClickHouse inserts.

The writer is a small protocol so agents can be tested with the in-memory implementation. Retriable
failures (server down, timeouts, overload) are retried in place with bounded exponential backoff — the
caller is blocked, which is the back-pressure. Anything else is a poison batch: it is bisected down to
the rows the server rejects, which come back to the caller to dead-letter.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from clickhouse_driver import Client
from clickhouse_driver import errors as ch_errors

log = logging.getLogger(__name__)

# Server error codes that mean "try again later", not "this data is bad".
RETRIABLE_CODES = frozenset({
    159,  # TIMEOUT_EXCEEDED
    164,  # READONLY (replica temporarily read-only)
    202,  # TOO_MANY_SIMULTANEOUS_QUERIES
    209,  # SOCKET_TIMEOUT
    210,  # NETWORK_ERROR
    241,  # MEMORY_LIMIT_EXCEEDED
    242,  # TABLE_IS_READ_ONLY
    252,  # TOO_MANY_PARTS
    285,  # TOO_FEW_LIVE_REPLICAS
    319,  # UNKNOWN_STATUS_OF_INSERT
    425,  # SYSTEM_ERROR
})


def is_retriable(exc: BaseException) -> bool:
    if isinstance(exc, (ch_errors.NetworkError, ch_errors.SocketTimeoutError, socket.timeout,
                        ConnectionError, EOFError, TimeoutError)):
        return True
    code = getattr(exc, "code", None)
    return isinstance(exc, ch_errors.Error) and code in RETRIABLE_CODES


@dataclass(frozen=True)
class RejectedRow:
    index: int  # position in the batch given to insert()
    message: str


class RowWriter(Protocol):
    async def insert(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> list[RejectedRow]:
        """Insert all rows or return the ones the server rejected. Retries retriable errors itself."""
        ...


@dataclass
class InMemoryWriter:
    """For agent tests: records inserts; rows for which `reject(row)` returns a message are refused."""

    tables: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    reject: Callable[[tuple[Any, ...]], str | None] = lambda row: None

    async def insert(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> list[RejectedRow]:
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
        self._max_backoff = max_backoff_seconds
        self._on_retry = on_retry
        self._sleep = sleep

    async def insert(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> list[RejectedRow]:
        if not rows:
            return []
        sql = f"INSERT INTO {table} ({', '.join(f'`{c}`' for c in columns)}) VALUES"
        return await self._insert_bisecting(sql, list(rows), 0)

    async def _insert_bisecting(self, sql: str, rows: list[tuple[Any, ...]], base: int) -> list[RejectedRow]:
        try:
            await self._insert_retrying(sql, rows)
            return []
        except Exception as exc:  # non-retriable: the data itself is refused
            if len(rows) == 1:
                return [RejectedRow(base, f"{type(exc).__name__}: {exc}"[:2000])]
            mid = len(rows) // 2
            left = await self._insert_bisecting(sql, rows[:mid], base)
            right = await self._insert_bisecting(sql, rows[mid:], base + mid)
            return left + right

    async def _insert_retrying(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        attempt = 0
        while True:
            try:
                await asyncio.to_thread(self._execute, sql, rows)
                return
            except Exception as exc:
                if not is_retriable(exc):
                    raise
                attempt += 1
                self._drop_connection()
                if self._on_retry:
                    self._on_retry(exc, attempt)
                delay = min(self._max_backoff, 0.2 * 2 ** min(attempt, 10)) * (0.5 + random.random() / 2)
                log.warning("ClickHouse insert failed (%s), retry %d in %.1fs", exc, attempt, delay)
                await self._sleep(delay)

    def _execute(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if self._client is None:
            self._client = self._client_factory()
        self._client.execute(sql, rows, types_check=True)

    def _drop_connection(self) -> None:
        if self._client is not None:
            try:
                self._client.disconnect()
            except Exception:  # noqa: BLE001 - already broken
                log.debug("disconnect after failure raised", exc_info=True)
            self._client = None

    def close(self) -> None:
        self._drop_connection()
