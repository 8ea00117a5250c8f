"""The one failure policy of every stage: what is retried, for how long, and what becomes a dead letter.

Two kinds of fault, told apart by `classify`:

- INFRASTRUCTURE — the broker or ClickHouse is unavailable, a request timed out, the server is overloaded. Nothing
  is wrong with the records: the batch is retried in place with bounded exponential backoff for as long as it
  takes. The blocked stage is the back-pressure, and the PipelineStalled alert pages someone.
- RECORD — a deterministic failure: a record too large for the broker, a record that makes enrichment or row
  building raise, a serialization error, a bug that some input triggers. Retrying the same records gives the same
  answer, so the batch is tried `record_attempts` times, then split in halves, each half tried once and split
  again while it fails; a single record that still fails is handed to the stage's `isolate` callback (it becomes a
  dead letter with the code `error_code` gives), and the rest of the batch goes through.

Splitting re-runs a stage's step on records that may already have been produced or inserted: at-least-once,
absorbed downstream by deduplication on event_id (docs/DESIGN.md).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, TypeVar

from aiokafka import errors as kafka_errors
from clickhouse_driver import errors as ch_errors

from schemas.errors import ErrorCode

log = logging.getLogger(__name__)

T = TypeVar("T")


class Fault(StrEnum):
    INFRASTRUCTURE = "infrastructure"
    RECORD = "record"


# ClickHouse server error codes that mean "try again later", not "this data is bad".
CLICKHOUSE_RETRIABLE_CODES = frozenset({
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

class RecordTooLarge(ValueError):
    """A message above the topic's size limit, refused before it is sent (the broker would refuse it, and an
    idempotent producer then fails the messages behind it with OutOfOrderSequenceNumber)."""

    def __init__(self, topic: str, size: int, limit: int) -> None:
        super().__init__(f"a message of {size:,} bytes for {topic} is over its limit of {limit:,} bytes")
        self.topic, self.size, self.limit = topic, size, limit


# A message over the topic's limit: refused by us before sending, or by the broker.
_SIZE_ERRORS: tuple[type[BaseException], ...] = (
    RecordTooLarge, kafka_errors.MessageSizeTooLargeError, kafka_errors.RecordTooLargeError,
    kafka_errors.RecordListTooLargeError,
)
# Broker answers about one record (batch) rather than about the broker: the same bytes are refused again. Every other
# Kafka error (no leader, timeouts, not enough replicas, authorization, a fenced producer) is the cluster's state.
_KAFKA_RECORD_ERRORS: tuple[type[BaseException], ...] = (
    *_SIZE_ERRORS, kafka_errors.InvalidMessageError, kafka_errors.CorruptRecordException,
    kafka_errors.InvalidTimestampError, kafka_errors.UnsupportedForMessageFormatError,
    kafka_errors.PolicyViolationError,
)


def classify(exc: BaseException) -> Fault:
    if isinstance(exc, _KAFKA_RECORD_ERRORS):
        return Fault.RECORD
    if isinstance(exc, kafka_errors.KafkaError):
        return Fault.INFRASTRUCTURE
    if isinstance(exc, ch_errors.NetworkError | ch_errors.SocketTimeoutError | socket.timeout | ConnectionError
                  | EOFError | TimeoutError):
        return Fault.INFRASTRUCTURE
    if isinstance(exc, ch_errors.Error) and getattr(exc, "code", None) in CLICKHOUSE_RETRIABLE_CODES:
        return Fault.INFRASTRUCTURE
    return Fault.RECORD


def error_code(exc: BaseException) -> ErrorCode:
    """The dead-letter code of a record isolated by `exc`."""
    if isinstance(exc, _SIZE_ERRORS):
        return ErrorCode.RECORD_TOO_LARGE
    if isinstance(exc, ch_errors.ServerException):
        return ErrorCode.ROW_REJECTED
    return ErrorCode.PROCESSING_FAILED


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


@dataclass(frozen=True)
class RetryPolicy:
    first_delay: float = 0.5
    max_delay: float = 10.0
    record_attempts: int = 3  # tries of a whole batch that fails for its records before it is split
    # "linear": first_delay, 2 x first_delay, ... (X's schedule for network errors: +250 ms up to 16 s)
    growth: Literal["exponential", "linear"] = "exponential"
    jitter: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.first_delay <= self.max_delay:
            raise ValueError("need 0 < first_delay <= max_delay")
        if self.record_attempts < 1:
            raise ValueError("record_attempts must be >= 1")

    def delay(self, attempt: int) -> float:
        """Exponential (or linear) from `first_delay`, capped at `max_delay`, with jitter so workers do not retry in
        step."""
        step = max(1, attempt)
        growth: float = step if self.growth == "linear" else 2 ** min(step - 1, 30)  # int ** int is typed Any
        delay = min(self.max_delay, self.first_delay * growth)
        return delay * (0.5 + random.random() / 2) if self.jitter else delay


Sleep = Callable[[float], Awaitable[None]]
OnRetry = Callable[[Fault, BaseException, int], None]


async def until_done(
    step: Callable[[], Awaitable[T]], *, policy: RetryPolicy, what: str, on_retry: OnRetry | None = None,
    sleep: Sleep = asyncio.sleep, record_attempts: int | None = None,
) -> T:
    """`step()` until it returns. Infrastructure faults are retried for as long as it takes; after
    `record_attempts` (default: the policy's) failures of the RECORD kind the last one is raised."""
    limit = policy.record_attempts if record_attempts is None else record_attempts
    attempt = record_failures = 0
    while True:
        try:
            return await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            fault = classify(exc)
            attempt += 1
            if fault is Fault.RECORD:
                record_failures += 1
                # a record the broker refuses is refused again: no point in trying it `limit` times
                if record_failures >= limit or isinstance(exc, _KAFKA_RECORD_ERRORS):
                    raise
            if on_retry is not None:
                on_retry(fault, exc, attempt)
            delay = policy.delay(attempt)
            # one line per retry, the traceback only the first time: a stalled stage must not flood the log
            log.warning("%s failed (%s fault, attempt %d): %s; retrying in %.1fs", what, fault, attempt,
                        describe(exc), delay, exc_info=attempt == 1)
            await sleep(delay)


async def isolating(
    records: Sequence[T], step: Callable[[Sequence[T]], Awaitable[None]], *,
    isolate: Callable[[T, BaseException], Awaitable[None]], policy: RetryPolicy, what: str,
    on_retry: OnRetry | None = None, sleep: Sleep = asyncio.sleep,
) -> None:
    """Run `step` over all `records`: the whole batch first (`until_done`); a batch that keeps failing for its
    records is split until each failing record stands alone, and `isolate(record, exc)` is awaited for it."""

    # A list of parts to do, not a recursive closure: a closure that refers to itself is a reference cycle, and each
    # batch's would keep what its step holds (a sink batch: ~10k events) alive until the cyclic GC, which a worker
    # runs rarely (streams/runtime/process_tuning.py): +110 MiB RSS and +25 % CPU per event in pass-through.
    todo: list[tuple[Sequence[T], int]] = [(records, policy.record_attempts)] if records else []
    while todo:
        part, attempts = todo.pop()
        try:
            await until_done(functools.partial(step, part), policy=policy,
                             what=f"{what} ({len(part)} records)", on_retry=on_retry, sleep=sleep,
                             record_attempts=attempts)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a RECORD fault, `attempts` times
            if len(part) == 1:
                log.error("%s: record isolated after %d attempts: %s", what, attempts, describe(exc))
                await isolate(part[0], exc)
                continue
            mid = len(part) // 2
            todo += [(part[mid:], 1), (part[:mid], 1)]  # the first half next: records keep their order
