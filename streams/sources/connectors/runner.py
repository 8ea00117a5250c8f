"""Runs one connector: what it reads goes to Kafka, and its checkpoint follows only what the broker acknowledged.

Two tasks joined by a queue of units (one `Fetched` each):
1. **read**: take the next unit from the connector; turn each payload into messages (`to_messages`); hand them to the
   idempotent producer (acks=all) without waiting for the acks; queue the unit. While more than `max_in_flight`
   messages wait for acks, stop taking units: the connector is not read, which is the back-pressure.
2. **settle**, in queue order: wait for a unit's acks (a send that failed is sent again under the failure policy,
   retried for as long as it takes: the broker being down blocks, never drops); count it; its cursor becomes the
   latest resume point. At most every `checkpoint_seconds`, and once no unit came for that long, write that point
   to the sources topic. Because units settle in order, a written cursor never runs ahead of an unacknowledged post.
On stop (SIGINT/SIGTERM) reading ends, the units in flight settle, and a last checkpoint is written. After a kill -9
the posts read after the last checkpoint are read again; `event_id` absorbs them downstream.

What a payload becomes (`to_messages`), so nothing is lost:
- a deletion (processors/normalizers/deletions.py) → a `Deletion` on the deletions topic, keyed by deletion id;
- a post → its RawEvent on the raw topic, keyed by event id; a page is split into its items first;
- anything else (not JSON, not a post, invalid) → its bytes as they came, unkeyed, on the raw topic: the worker
  dead-letters it with its code, as it does for replayed files;
- a message over the topic's size limit → a bounded `record_too_large` dead letter on the dead-letter topic (its
  `source_topic` is the source id: it never reached Kafka, so only its prefix, size and sha256 remain); so does a
  message the broker keeps refusing for itself (`isolating`: the rest of its unit goes through).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from processors.normalizers import NormalizationError
from processors.normalizers.deletions import deletion_of
from schemas.source_checkpoint import SourceCheckpoint
from streams import codec
from streams.metrics import SourceMetrics
from streams.runtime.failure_policy import RecordTooLarge, RetryPolicy, describe, error_code, isolating, until_done
from streams.runtime.producer import acknowledged, check_size
from streams.sources.connectors.base import Connector, Cursor, Fetched
from streams.sources.connectors.checkpoints import CheckpointStore
from streams.sources.replay import page_items

log = logging.getLogger(__name__)

Message = tuple[str, bytes | None, bytes]


class Producer(Protocol):
    max_message_bytes: int

    async def enqueue(self, messages: Sequence[Message]) -> list[asyncio.Future[Any]]: ...
    async def send_all(self, messages: Sequence[Message]) -> None: ...


@dataclass(frozen=True)
class SourceTopics:
    raw: str
    deletions: str
    deadletter: str


@dataclass
class Converted:
    """The messages of one unit and what they are."""

    messages: list[Message] = field(default_factory=list)
    posts: int = 0
    deletions: int = 0
    unreadable: int = 0
    newest_post: datetime | None = None


def to_messages(fetched: Fetched, *, source: str, topics: SourceTopics, now: datetime, max_message_bytes: int,
                instance: str | None = None, limits: codec.Limits = codec.DEFAULT_LIMITS) -> Converted:
    """The Kafka messages a unit's payloads become (module docstring)."""
    out = Converted()
    for n, raw in enumerate(fetched.payloads):
        obj = _parse(raw)
        for record in page_items(f"{source}#{n}", raw, obj):
            if record.empty_page:
                continue
            message = _message(record.raw, record.obj, source=source, topics=topics, now=now, instance=instance,
                               limits=limits, out=out)
            try:
                check_size(message[0], message[1], message[2], max_message_bytes)
            except RecordTooLarge as exc:
                message = _too_large(record.raw, exc, source=source, topics=topics, now=now)
            out.messages.append(message)
    return out


def _parse(raw: bytes) -> object | None:
    try:
        return codec.parse_json_object(raw)
    except codec.CodecError:
        return None


def _message(raw: bytes, obj: object | None, *, source: str, topics: SourceTopics, now: datetime,
             instance: str | None, limits: codec.Limits, out: Converted) -> Message:
    if isinstance(obj, dict):
        deletion = deletion_of(obj, source=source, now=now, instance=instance)
        if deletion is not None:
            out.deletions += 1
            return topics.deletions, deletion.deletion_id.encode(), codec.encode_model(deletion)
        try:
            event = codec.normalize_object(obj, now=now, limits=limits)
        except NormalizationError:
            pass
        else:
            out.posts += 1
            if out.newest_post is None or event.created_at > out.newest_post:
                out.newest_post = event.created_at
            return topics.raw, event.event_id.encode(), codec.encode_model(event)
    out.unreadable += 1
    return topics.raw, None, raw


def _too_large(raw: bytes, exc: RecordTooLarge, *, source: str, topics: SourceTopics, now: datetime) -> Message:
    return refused(raw, None, exc, source=source, topics=topics, now=now)


def refused(value: bytes, key: bytes | None, exc: BaseException, *, source: str, topics: SourceTopics,
            now: datetime) -> Message:
    """A bounded dead letter for a record that never reached Kafka (over the size limit, or refused by the broker);
    its source is the connector's source id and its id is stable per content, so a resend replaces it."""
    digest = hashlib.sha256(value).digest()
    letter = codec.make_dead_letter(value, topic=source, partition=0, offset=int.from_bytes(digest[:7], "big"),
                                    key=key, code=error_code(exc), message=describe(exc), stage="decode", now=now)
    return topics.deadletter, letter.dead_letter_id.encode(), codec.encode_model(letter)


@dataclass
class _Unit:
    converted: Converted
    cursor: Cursor | None
    pending: list[asyncio.Future[Any]]


class _Events:
    """SourceEvents → the source's metrics."""

    def __init__(self, metrics: SourceMetrics, source: str, network: str) -> None:
        self._metrics, self._labels = metrics, {"source": source, "network": network}

    def connected(self) -> None:
        log.debug("%s: connected", self._labels["source"])  # each connector logs its connection, with the details

    def reconnecting(self, reason: str, delay: float) -> None:
        self._metrics.reconnects.labels(**self._labels, reason=reason).inc()

    def quota_used(self, units: int) -> None:
        self._metrics.quota_units.labels(**self._labels).inc(units)


class SourceRunner:
    def __init__(self, connector: Connector, *, producer: Producer, checkpoints: CheckpointStore,
                 topics: SourceTopics, metrics: SourceMetrics, policy: RetryPolicy, max_in_flight: int = 2000,
                 checkpoint_seconds: float = 1.0, limits: codec.Limits = codec.DEFAULT_LIMITS,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.connector, self._producer, self._checkpoints = connector, producer, checkpoints
        self._topics, self._metrics, self._policy, self._limits = topics, metrics, policy, limits
        self._max_in_flight, self._checkpoint_seconds = max(1, max_in_flight), checkpoint_seconds
        self._now, self._clock = now, clock
        # Mastodon's connector names its instance: a `delete` frame's status id is that instance's.
        self._instance: str | None = getattr(connector, "instance", None)
        labels = {"source": connector.source_id, "network": connector.network.value}
        self._posts, self._deletions = metrics.posts.labels(**labels), metrics.deletions.labels(**labels)
        self._unreadable = metrics.unreadable.labels(**labels)
        self._in_flight_gauge = metrics.in_flight.labels(**labels)
        self._behind = metrics.behind_seconds.labels(**labels)
        self._progress = metrics.progress_timestamp.labels(**labels)
        self._checkpoint_ts = metrics.checkpoint_timestamp.labels(**labels)
        self._events = _Events(metrics, connector.source_id, connector.network.value)
        self._queue: asyncio.Queue[_Unit | None] = asyncio.Queue()
        self._room = asyncio.Condition()
        self._in_flight = 0
        self._cursor: Cursor | None = None  # the newest acknowledged resume point
        self._saved_cursor: Cursor | None = None
        self._saved_at = 0.0
        self.posts_total = 0
        self.written_cursor: Cursor | None = None  # the last checkpoint this runner wrote (None: none yet)
        self._newest_post: datetime | None = None

    async def run(self) -> None:
        """Until cancelled: read, produce, settle, checkpoint. Cancelling settles what is in flight first."""
        saved = await until_done(lambda: self._checkpoints.load(self.connector.source_id), policy=self._policy,
                                 what=f"{self.connector.source_id}: loading the checkpoint")
        if saved is not None:
            self._cursor = self._saved_cursor = dict(saved.cursor)
            self.posts_total = saved.posts_total
            log.info("%s: resuming from %s", self.connector.source_id, saved.cursor)
        else:
            log.info("%s: no checkpoint, starting from the network's present", self.connector.source_id)
        reader = asyncio.current_task()
        settler = asyncio.create_task(self._settle_all(), name=f"settle {self.connector.source_id}")
        # A settler that fails (a bug) must stop the reading too, or the reader would wait for room forever.
        settler.add_done_callback(lambda t: reader.cancel() if reader and not t.cancelled() and t.exception() else None)
        try:
            await self._read_all()
        finally:
            await self._queue.put(None)
            with contextlib.suppress(asyncio.CancelledError):  # a second cancel gives up the last checkpoint only
                await asyncio.shield(settler)
            if settler.done() and not settler.cancelled() and (failure := settler.exception()) is not None:
                raise failure

    async def _read_all(self) -> None:
        stream = self.connector.stream(dict(self._cursor) if self._cursor is not None else None, self._events)
        try:
            await self._read_from(stream)
        finally:  # an async generator's connections close now, not whenever the GC finalizes it
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _read_from(self, stream: AsyncIterator[Fetched]) -> None:
        async for fetched in stream:
            converted = to_messages(fetched, source=self.connector.source_id, topics=self._topics, now=self._now(),
                                    max_message_bytes=self._producer.max_message_bytes,
                                    instance=self._instance, limits=self._limits)
            await self._reserve(len(converted.messages))
            pending = await until_done(functools.partial(self._producer.enqueue, converted.messages),
                                       policy=self._policy, what=f"{self.connector.source_id}: producing") \
                if converted.messages else []
            await self._queue.put(_Unit(converted, fetched.cursor, pending))

    async def _reserve(self, size: int) -> None:
        """Wait for room for `size` more messages in flight (one unit may always go, however large)."""
        async with self._room:
            await self._room.wait_for(lambda: self._in_flight == 0 or self._in_flight + size <= self._max_in_flight)
            self._in_flight += size
            self._in_flight_gauge.set(self._in_flight)

    async def _settle_all(self) -> None:
        while True:
            try:
                unit = await asyncio.wait_for(self._queue.get(), timeout=self._checkpoint_seconds)
            except TimeoutError:
                await self._checkpoint(force=True)
                continue
            if unit is None:
                await self._checkpoint(force=True)
                return
            await self._settle(unit)
            await self._checkpoint(force=False)  # at most every checkpoint_seconds; an idle queue writes it (above)

    async def _settle(self, unit: _Unit) -> None:
        converted = unit.converted
        if unit.pending:
            try:
                await acknowledged(unit.pending)
            except Exception:  # noqa: BLE001 - the failure policy decides; a resend is deduplicated downstream
                log.warning("%s: a send failed; sending the unit again", self.connector.source_id, exc_info=True)
                # Infrastructure faults are retried for as long as it takes; a record the broker keeps refusing is
                # isolated and becomes a dead letter, and the rest of the unit goes through.
                await isolating(converted.messages, self._producer.send_all, isolate=self._refused,
                                policy=self._policy, what=f"{self.connector.source_id}: producing again")
        async with self._room:
            self._in_flight -= len(converted.messages)
            self._in_flight_gauge.set(self._in_flight)
            self._room.notify_all()
        self._posts.inc(converted.posts)
        self._deletions.inc(converted.deletions)
        self._unreadable.inc(converted.unreadable)
        self.posts_total += converted.posts
        now = self._now()
        newest = converted.newest_post
        if newest is not None and (self._newest_post is None or newest > self._newest_post):
            self._newest_post = newest
        if self._newest_post is not None:
            self._behind.set(max(0.0, (now - self._newest_post).total_seconds()))
        self._progress.set(now.timestamp())
        if unit.cursor is not None:
            self._cursor = dict(unit.cursor)

    async def _refused(self, message: Message, exc: BaseException) -> None:
        letter = refused(message[2], message[1], exc, source=self.connector.source_id, topics=self._topics,
                         now=self._now())
        await until_done(functools.partial(self._producer.send_all, [letter]), policy=self._policy,
                         what=f"{self.connector.source_id}: producing a dead letter")

    async def _checkpoint(self, *, force: bool) -> None:
        if self._cursor is None or self._cursor == self._saved_cursor:
            return
        if not force and self._clock() - self._saved_at < self._checkpoint_seconds:
            return
        checkpoint = SourceCheckpoint(source=self.connector.source_id, network=self.connector.network,
                                      cursor=dict(self._cursor), written_at=self._now(), posts_total=self.posts_total)
        await until_done(lambda: self._checkpoints.save(checkpoint), policy=self._policy,
                         what=f"{self.connector.source_id}: writing the checkpoint")
        self._saved_cursor, self._saved_at = checkpoint.cursor, self._clock()
        self.written_cursor = checkpoint.cursor
        self._checkpoint_ts.set(checkpoint.written_at.timestamp())
