"""Replay JSONL/CSV files of posts (network payloads or RawEvent dicts) into Kafka with kafka-python.

Nothing is lost: a line that normalises becomes an encoded RawEvent keyed by its event_id; a line
that does not is produced as-is (original bytes, no key) so the worker dead-letters it with a reason
(`skip_invalid=True` drops and counts such lines instead). Pages (X pages, Reddit listings, YouTube
list responses) are split into one record per item, whatever their number: a page of one item is sent
as that item (a Reddit `/api/info?id=` lookup), a page of none sends nothing and is counted
(`empty_pages`). Functions take explicit arguments; nothing here reads the environment.

CSV: either a `payload` (or `json`) column holding one JSON object per row, or flat RawEvent columns
(`event_id, network, native_id, kind, text, created_at, ...` with `author.id`/`author_id` style
columns for nested fields; empty cells are treated as absent).
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from processors.normalizers import NormalizationError, explode
from schemas.errors import ErrorCode
from streams.codec import DEFAULT_LIMITS, Limits, encode_model, normalize_object
from streams.runtime.failure_policy import RecordTooLarge
from streams.runtime.producer import check_size

_NESTED = ("author", "engagement")
_INT_COLUMNS = frozenset({"followers", "likes", "reposts", "replies", "quotes", "schema_version"})


class Producer(Protocol):
    def send(self, topic: str, value: bytes | None = None, key: bytes | None = None) -> Any: ...
    def flush(self, timeout: float | None = None) -> None: ...
    def close(self, timeout: float | None = None) -> None: ...


@dataclass(frozen=True)
class SourceRecord:
    """One post read from a file. `obj` is None when the line is not JSON."""

    origin: str  # "path:line", or "path:line#i" for the i-th item of a page
    raw: bytes  # the original line (or the item's compact JSON when a payload was split)
    obj: object | None
    empty_page: bool = False  # a page (listing, list response) with no items: nothing to send


@dataclass(frozen=True)
class Prepared:
    key: bytes | None
    value: bytes
    event_id: str | None  # None: not normalised; produced as-is for the worker to dead-letter
    error: str | None = None
    empty_page: bool = False  # not sent, counted


@dataclass
class ReplaySummary:
    sent: int = 0
    failed: int = 0  # the broker did not acknowledge
    unparsed: int = 0  # produced as-is (worker will dead-letter) or skipped with skip_invalid
    skipped: int = 0
    empty_pages: int = 0  # pages with no items: nothing to send
    elapsed: float = 0.0
    errors: list[str] = field(default_factory=list)  # first few delivery/parse errors

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0

    def line(self) -> str:
        return (f"sent={self.sent} failed={self.failed} unparsed={self.unparsed} skipped={self.skipped} "
                f"empty_pages={self.empty_pages} elapsed={self.elapsed:.2f}s rate={self.rate:.0f} events/s")


# ---------------------------------------------------------------------- reading


def _parse_line(raw: bytes) -> object | None:
    try:
        obj: object = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return obj


def page_items(origin: str, raw: bytes, obj: object | None) -> Iterator[SourceRecord]:
    """The record a line holds: itself, or, when it is a page, each of its items (none for an empty page).

    explode() gives a payload that is not a page back unchanged (an equal object): that record keeps its original
    bytes. Anything else is a page, whose items are sent one by one however many there are."""
    parts = explode(obj) if obj is not None else [obj]
    if len(parts) == 1 and parts[0] == obj:
        yield SourceRecord(origin, raw, obj)
        return
    if not parts:
        yield SourceRecord(origin, raw, obj, empty_page=True)
        return
    for i, part in enumerate(parts):
        yield SourceRecord(f"{origin}#{i}", json.dumps(part, ensure_ascii=False, separators=(",", ":")).encode(), part)


def read_jsonl_stream(stream: IO[bytes], name: str) -> Iterator[SourceRecord]:
    """Records from an open binary stream of JSON lines (a file, stdin); `name` starts each origin."""
    for lineno, line in enumerate(stream, start=1):
        raw = line.rstrip(b"\r\n")
        if not raw.strip():
            continue
        yield from page_items(f"{name}:{lineno}", raw, _parse_line(raw))


def read_jsonl(path: Path) -> Iterator[SourceRecord]:
    with path.open("rb") as fh:
        yield from read_jsonl_stream(fh, str(path))


def _unflatten(row: dict[str, str]) -> dict[str, Any]:
    """Flat CSV columns to a RawEvent dict: `author.id` / `author_id` → {"author": {"id": ...}}."""
    out: dict[str, Any] = {}
    for column, cell in row.items():
        if column is None or cell is None or cell == "":
            continue
        name = column.strip()
        target, key = out, name
        for nested in _NESTED:
            if name.startswith((f"{nested}.", f"{nested}_")):
                target, key = out.setdefault(nested, {}), name[len(nested) + 1:]
                break
        value: Any = cell
        if key in _INT_COLUMNS:
            try:
                value = int(cell)
            except ValueError:
                value = cell
        target[key] = value
    return out


def read_csv_stream(stream: IO[str], name: str) -> Iterator[SourceRecord]:
    """Records from an open text stream of CSV (opened with newline="" and errors="surrogateescape")."""
    reader = csv.DictReader(stream)
    fields = set(reader.fieldnames or ())
    payload_col = "payload" if "payload" in fields else "json" if "json" in fields else None
    for rowno, row in enumerate(reader, start=2):
        origin = f"{name}:{rowno}"
        if payload_col is not None:
            cell = row.get(payload_col) or ""
            raw = cell.encode("utf-8", "surrogateescape")
            yield from page_items(origin, raw, _parse_line(raw))
        else:
            obj = _unflatten(row)
            yield SourceRecord(origin, json.dumps(obj, ensure_ascii=False).encode("utf-8", "replace"), obj)


def read_csv(path: Path) -> Iterator[SourceRecord]:
    with path.open(newline="", encoding="utf-8", errors="surrogateescape") as fh:
        yield from read_csv_stream(fh, str(path))


def read_records(paths: Iterable[Path | str]) -> Iterator[SourceRecord]:
    """Records from .jsonl/.ndjson/.json (one object per line) and .csv files, in order."""
    for p in paths:
        path = Path(p)
        yield from (read_csv(path) if path.suffix.lower() == ".csv" else read_jsonl(path))


# ---------------------------------------------------------------------- preparing


def prepare(
    record: SourceRecord, *, now: datetime, normalize: bool = True, limits: Limits = DEFAULT_LIMITS
) -> Prepared:
    """Key/value for Kafka: the encoded RawEvent when the record normalises and passes the codec's
    limits, else the original bytes (so the worker's dead letter keeps exactly what was in the file).
    An empty page is marked so that produce() counts it and sends nothing."""
    if record.empty_page:
        return Prepared(None, record.raw, None, empty_page=True)
    if normalize and record.obj is not None:
        try:
            if not isinstance(record.obj, dict):
                raise NormalizationError(ErrorCode.NOT_AN_OBJECT, "not a JSON object")
            event = normalize_object(record.obj, now=now, limits=limits)
        except NormalizationError as exc:
            return Prepared(None, record.raw, None, f"{record.origin}: {exc}")
        return Prepared(event.event_id.encode("utf-8"), encode_model(event), event.event_id)
    error = None if record.obj is not None else f"{record.origin}: not JSON"
    return Prepared(None, record.raw, None, error)


# ---------------------------------------------------------------------- producing


def make_producer(bootstrap_servers: str, *, linger_ms: int = 20, compression: str = "lz4", **extra: Any) -> Any:
    """A kafka-python KafkaProducer for at-least-once, ordered, idempotent delivery."""
    from kafka import KafkaProducer  # imported here so unit tests and --out runs need no broker

    return KafkaProducer(
        bootstrap_servers=bootstrap_servers.split(","),
        acks="all",
        enable_idempotence=True,
        linger_ms=linger_ms,
        compression_type=compression,
        max_in_flight_requests_per_connection=5,
        retries=2_147_483_647,
        client_id="socialpulse-replay",
        **extra,
    )


class _Pacer:
    """Sleeps so that at most `rate` sends happen per second on average (0 = unlimited)."""

    def __init__(self, rate: float, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self.rate, self.clock, self.sleep = rate, clock, sleep
        self.start = clock()
        self.n = 0

    def wait(self) -> None:
        self.n += 1
        if self.rate <= 0:
            return
        due = self.start + self.n / self.rate
        delay = due - self.clock()
        if delay > 0:
            self.sleep(delay)


def produce(
    items: Iterable[Prepared],
    *,
    producer: Producer,
    topic: str,
    rate: float = 0.0,
    skip_invalid: bool = False,
    progress: bool = False,
    total: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    flush_timeout: float = 60.0,
    max_message_bytes: int = 1_048_576,
) -> ReplaySummary:
    """Send prepared records; counts broker acks/failures through future callbacks, flushes at the end. A record
    over `max_message_bytes` (the topic's limit, settings kafka.max_message_bytes) is not sent: it is counted as
    failed with a clear error, and the rest goes on."""
    summary = ReplaySummary()
    pacer = _Pacer(rate, clock, sleep)
    started = clock()

    def on_ok(_meta: Any) -> None:
        summary.sent += 1

    def on_err(exc: BaseException) -> None:
        summary.failed += 1
        if len(summary.errors) < 10:
            summary.errors.append(f"delivery failed: {exc!r}")

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="ev", desc=f"-> {topic}", dynamic_ncols=True)
    try:
        for item in items:
            if item.empty_page:
                summary.empty_pages += 1
                continue
            if item.event_id is None:
                summary.unparsed += 1
                if item.error and len(summary.errors) < 10:
                    summary.errors.append(item.error)
                if skip_invalid:
                    summary.skipped += 1
                    continue
            try:
                check_size(topic, item.key, item.value, max_message_bytes)
            except RecordTooLarge as exc:
                on_err(ValueError(f"{item.event_id or 'a record'} not sent: {exc}"))
                continue
            pacer.wait()
            try:
                future = producer.send(topic, value=item.value, key=item.key)
            except Exception as exc:  # noqa: BLE001 — e.g. buffer full / serialization: count it, go on
                on_err(exc)
                continue
            if hasattr(future, "add_callback"):
                future.add_callback(on_ok)
                future.add_errback(on_err)
            else:
                summary.sent += 1
            if bar is not None:
                bar.update(1)
        producer.flush(timeout=flush_timeout)
    finally:
        if bar is not None:
            bar.close()
        summary.elapsed = clock() - started
    return summary


def replay(
    paths: Iterable[Path | str],
    *,
    bootstrap_servers: str,
    topic: str,
    rate: float = 0.0,
    normalize: bool = True,
    skip_invalid: bool = False,
    progress: bool = True,
    producer: Producer | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    max_message_bytes: int = 1_048_576,
) -> ReplaySummary:
    """Read files, normalise what can be normalised, produce everything to `topic`."""
    paths = [Path(p) for p in paths]
    total = sum(1 for _ in read_records(paths)) if progress else None
    own = producer is None
    prod: Producer = make_producer(bootstrap_servers) if producer is None else producer
    try:
        prepared = (prepare(r, now=now(), normalize=normalize) for r in read_records(paths))
        return produce(prepared, producer=prod, topic=topic, rate=rate, skip_invalid=skip_invalid,
                       progress=progress, total=total, max_message_bytes=max_message_bytes)
    finally:
        if own:
            prod.close(timeout=10)
