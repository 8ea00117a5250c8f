"""The one place bytes become models and models become bytes.

`decode_raw` turns a social.raw.v1 record value into a RawEvent or a DeadLetter and never raises:
bad input is a value, with a stable `ErrorCode`, so an agent loop can never be broken by data.
`encode_model` writes compact UTF-8 JSON of any contract model (never Faust's `__faust` metadata).

Error codes decode_raw produces (stage in brackets):
  empty_payload [decode]        value is None or b"" (or only whitespace)
  invalid_utf8 [decode]         value is not UTF-8, or JSON escapes a lone surrogate (\\ud800)
  invalid_json [decode]         not JSON (also NaN/Infinity, nesting too deep, huge integers)
  not_an_object [decode]        JSON, but not an object (array, string, number, ...)
  unknown_shape [validate]      an object that is neither a RawEvent nor a known network payload
  unknown_network [validate]    a RawEvent-like object whose `network` we do not support
  unsupported_event [validate]  a valid network payload that is not a post: Jetstream delete, like, ...; Mastodon
                                streaming delete/filters/announcement frames, notifications other than
                                mention/status/update, conversations, direct messages; X compliance events
                                and error-only responses; Reddit message, subreddit, account, award, `more`
  missing_field [validate]      a required field is absent or null
  wrong_type [validate]         a field has the wrong JSON type
  invalid_value [validate]      right type, bad value (unparseable timestamp, bad event_id, ...)
  text_too_long [validate]      len(text) > Limits.max_text_chars
  timestamp_out_of_range [validate]  created_at after now + max_future or before now - max_past
  control_characters [validate] text, author or ids contain C0/C1 control characters other than
                                \\n \\t \\r (NUL, ESC, DEL, ...)
Duplicate event ids are not an error: deduplication happens in ClickHouse.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import msgspec
from pydantic import BaseModel, ValidationError

from processors.normalizers import NormalizationError, detect_and_normalize
from schemas.counts import CountsBatch
from schemas.deadletter import KEY_MAX_BYTES, ORIGINAL_MAX_BYTES, DeadLetter
from schemas.errors import ErrorCode
from schemas.events import EnrichedEvent, RawEvent
from schemas.fast import mirror
from schemas.signals import SpikeSignals

M = TypeVar("M", bound=BaseModel)

# C0 controls except \t \n \r, DEL, and C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_MAX_MESSAGE = 1000
_DECODE_CODES = frozenset(
    {ErrorCode.EMPTY_PAYLOAD, ErrorCode.INVALID_UTF8, ErrorCode.INVALID_JSON, ErrorCode.NOT_AN_OBJECT}
)


@dataclass(frozen=True)
class Limits:
    """What decode_raw accepts. Defaults suit live ingestion *and* replaying old files.

    max_past defaults to ~10 years: replaying an archive or the committed sample must not dead-letter
    everything; tighten it (e.g. 30 days) for a live-only deployment. max_future (1 h) allows for
    clock skew between networks and us but rejects obviously wrong clocks and unit mistakes.
    """

    max_text_chars: int = 10_000
    max_future: timedelta = timedelta(hours=1)
    max_past: timedelta = timedelta(days=3653)
    reject_control_characters: bool = True

    def __post_init__(self) -> None:
        if self.max_text_chars < 1:
            raise ValueError("max_text_chars must be >= 1")
        if self.max_future < timedelta(0) or self.max_past < timedelta(0):
            raise ValueError("max_future and max_past must not be negative")


DEFAULT_LIMITS = Limits()


class CodecError(ValueError):
    """Raised by the strict decoders (decode_enriched, decode_model); decode_raw never raises."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message


# --------------------------------------------------------------------------- encoding


def encode_model(model: BaseModel) -> bytes:
    """Compact JSON, UTF-8 (non-ASCII kept as-is), fields in model order, datetimes in ISO 8601.

    msgspec writes the models' field values (their `__dict__`) in ~40 % of `model_dump_json`'s time, with the same
    bytes for our contracts (tests/unit/test_codec.py); a model with custom serializers goes through pydantic."""
    return _ENCODER.encode(model)


def _plain_fields(model: type[BaseModel]) -> bool:
    """True when the model's JSON is its fields as they are: no serializers, computed fields or extras."""
    decorators = model.__pydantic_decorators__
    return not (decorators.field_serializers or decorators.model_serializers or decorators.computed_fields
                or model.model_config.get("extra") == "allow")


_PLAIN_FIELDS: dict[type[BaseModel], bool] = {}


def _model_fields_hook(obj: Any) -> Any:
    kind = type(obj)
    if not isinstance(obj, BaseModel):
        raise TypeError(f"cannot encode {kind.__name__}")
    plain = _PLAIN_FIELDS.get(kind)
    if plain is None:
        plain = _PLAIN_FIELDS[kind] = _plain_fields(kind)
    return obj.__dict__ if plain else obj.model_dump(mode="json")


_ENCODER = msgspec.json.Encoder(enc_hook=_model_fields_hook)
_RAW_MIRROR = msgspec.json.Decoder(mirror(RawEvent))
_ENRICHED_MIRROR = msgspec.json.Decoder(mirror(EnrichedEvent))


def encode_key(key: str | None) -> bytes | None:
    return None if key is None else key.encode("utf-8")


# --------------------------------------------------------------------------- decoding


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json_object(value: bytes | None) -> dict[str, Any]:
    """Bytes → JSON object, or CodecError with a decode-stage code."""
    if value is None or not value.strip():
        raise CodecError(ErrorCode.EMPTY_PAYLOAD, "record value is empty")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CodecError(ErrorCode.INVALID_UTF8, f"not UTF-8 at byte {exc.start}: {exc.reason}") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise CodecError(ErrorCode.INVALID_JSON, "JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise CodecError(ErrorCode.INVALID_JSON, f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:  # NaN/Infinity, integers beyond the str->int digit limit
        raise CodecError(ErrorCode.INVALID_JSON, str(exc)[:200]) from None
    if not isinstance(obj, dict):
        raise CodecError(ErrorCode.NOT_AN_OBJECT, f"expected a JSON object, got {_json_type(obj)}")
    return obj


def _json_type(obj: object) -> str:
    if obj is None:
        return "null"
    if isinstance(obj, bool):
        return "boolean"
    if isinstance(obj, int | float):
        return "number"
    if isinstance(obj, str):
        return "string"
    return "array" if isinstance(obj, list) else type(obj).__name__


def check_limits(event: RawEvent, *, now: datetime, limits: Limits = DEFAULT_LIMITS) -> None:
    """Raise NormalizationError when a valid RawEvent breaks the operational limits."""
    if len(event.text) > limits.max_text_chars:
        raise NormalizationError(
            ErrorCode.TEXT_TOO_LONG,
            f"text has {len(event.text)} characters, the limit is {limits.max_text_chars}",
            field="text",
        )
    if limits.reject_control_characters:
        for field, value in (
            ("text", event.text),
            ("author.name", event.author.name),
            ("author.handle", event.author.handle),
            ("author.id", event.author.id),
            ("native_id", event.native_id),
        ):
            match = _CONTROL.search(value)
            if match:
                raise NormalizationError(
                    ErrorCode.CONTROL_CHARACTERS,
                    f"{field} contains control character U+{ord(match.group()):04X} at {match.start()}",
                    field=field,
                )
    if event.created_at > now + limits.max_future:
        raise NormalizationError(
            ErrorCode.TIMESTAMP_OUT_OF_RANGE,
            f"created_at {event.created_at.isoformat()} is more than {limits.max_future} after now",
            field="created_at",
        )
    if event.created_at < now - limits.max_past:
        raise NormalizationError(
            ErrorCode.TIMESTAMP_OUT_OF_RANGE,
            f"created_at {event.created_at.isoformat()} is more than {limits.max_past} before now",
            field="created_at",
        )


def normalize_object(
    obj: dict[str, Any], *, now: datetime, limits: Limits = DEFAULT_LIMITS
) -> RawEvent:
    """A parsed JSON object → RawEvent that passes `limits`, or NormalizationError."""
    event = detect_and_normalize(obj, now=now)
    check_limits(event, now=now, limits=limits)
    try:
        encode_model(event)  # lone surrogates from "\ud800" escapes cannot be written back as UTF-8
    except (UnicodeEncodeError, ValueError) as exc:
        raise NormalizationError(ErrorCode.INVALID_UTF8, f"cannot be encoded as UTF-8: {exc}"[:200]) from None
    return event


def decode_raw(
    value: bytes | None,
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None = None,
    now: datetime,
    limits: Limits = DEFAULT_LIMITS,
    read_only: bool = False,
) -> RawEvent | DeadLetter:
    """A social.raw.v1 record → RawEvent, or a DeadLetter carrying the original bytes. Never raises.

    read_only=True lets the hot path return the event's msgspec mirror (schemas/fast.py: same fields, no model
    methods, ~3x cheaper to decode and to encode again), for callers that only read it (pass-through)."""
    obj: dict[str, Any] | None = None
    event = _as_raw_event(value, read_only)
    try:
        if event is not None:
            check_limits(event, now=now, limits=limits)
            return event
        obj = parse_json_object(value)
        return normalize_object(obj, now=now, limits=limits)
    except CodecError as exc:
        code, message = exc.code, exc.message
    except NormalizationError as exc:
        code, message = exc.code, exc.message
    except Exception as exc:  # noqa: BLE001 — a bug in a normalizer must still not stop the pipeline
        code, message = ErrorCode.INVALID_VALUE, f"unexpected {type(exc).__name__}: {exc}"
    return make_dead_letter(
        value,
        topic=topic,
        partition=partition,
        offset=offset,
        key=key,
        code=code,
        message=message,
        stage="decode" if code in _DECODE_CODES else "validate",
        event_id=event.event_id if event is not None else _event_id_hint(obj, key),
        now=now,
    )


def _as_raw_event(value: bytes | None, read_only: bool = False) -> RawEvent | None:
    """The hot path: a value that already is a complete RawEvent (what `socialpulse replay` and upstream producers
    write) is parsed and validated in one pass by pydantic-core, ~4× cheaper than json.loads + normalizing (or by
    the msgspec mirror when `read_only`). Anything else — network payloads, a missing `ingested_at`, bad input —
    is None, and the full path finds out what it is and which error code it gets. Both parsers refuse lone
    surrogates, so an event from here can always be encoded again."""
    if not value:
        return None
    if read_only:
        try:
            return _RAW_MIRROR.decode(value)  # type: ignore[return-value]  # the msgspec mirror reads as a RawEvent
        except ValueError:  # refused by the mirror: pydantic's lax mode may still take it
            pass
    try:
        return RawEvent.model_validate_json(value)
    except ValidationError:
        return None


def _event_id_hint(obj: dict[str, Any] | None, key: bytes | None) -> str | None:
    """Best-effort event id for a dead letter: the record's own `event_id`, else the Kafka key."""
    candidate: object = obj.get("event_id") if obj is not None else None
    if not isinstance(candidate, str) and key:
        try:
            candidate = key.decode("utf-8")
        except UnicodeDecodeError:
            candidate = None
    if not isinstance(candidate, str) or not candidate or len(candidate) > 300:
        return None
    return _safe_text(candidate)


def _safe_text(text: str) -> str:
    """Text that can always be encoded as UTF-8 (lone surrogates escaped)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def make_dead_letter(
    value: bytes | None,
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    code: ErrorCode,
    message: str,
    stage: str,
    now: datetime,
    event_id: str | None = None,
) -> DeadLetter:
    """A DeadLetter with a stable id `<topic>:<partition>:<offset>` and the original bytes (base64): whole up to
    ORIGINAL_MAX_BYTES, else their prefix, always with the original's size and sha256 (schemas/deadletter.py)."""
    partition, offset = max(0, partition), max(0, offset)
    original = value or b""
    return DeadLetter(
        dead_letter_id=DeadLetter.make_id(topic, partition, offset),
        source_topic=topic,
        partition=partition,
        offset=offset,
        key_b64=None if key is None else base64.b64encode(key[:KEY_MAX_BYTES]).decode("ascii"),
        original_b64=base64.b64encode(original[:ORIGINAL_MAX_BYTES]).decode("ascii"),
        original_size=len(original),
        original_sha256=hashlib.sha256(original).hexdigest(),
        error_code=code,
        error_message=_safe_text(message)[:_MAX_MESSAGE],
        stage=stage,
        event_id=event_id,
        failed_at=now if now.tzinfo is not None else now.replace(tzinfo=UTC),
    )


def decode_model(value: bytes | None, model: type[M]) -> M:
    """Strict decode of one of our own topics' values; raises CodecError with a code."""
    if value:
        try:  # hot path (the sink reads every enriched event): pydantic parses and validates in one pass
            return model.model_validate_json(value)
        except ValidationError:
            pass  # fall through to learn which error code it is
    obj = parse_json_object(value)
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        code = ErrorCode.MISSING_FIELD if first.get("type") == "missing" else ErrorCode.INVALID_VALUE
        raise CodecError(code, f"{loc or model.__name__}: {first.get('msg')}") from None


def decode_enriched(value: bytes | None) -> EnrichedEvent:
    """A social.enriched.v1 value → EnrichedEvent; raises CodecError (it is our own output)."""
    return decode_model(value, EnrichedEvent)


def read_enriched(value: bytes | None) -> EnrichedEvent:
    """decode_enriched for the sink's hot path: the msgspec mirror of the event (schemas/fast.py; same fields,
    read-only, no model methods), or, for anything the mirror refuses, decode_enriched's model or CodecError."""
    if value:
        try:
            return _ENRICHED_MIRROR.decode(value)  # type: ignore[return-value]  # the msgspec mirror reads as an EnrichedEvent
        except ValueError:  # msgspec.DecodeError (and ValidationError), UnicodeDecodeError for bad UTF-8
            pass
    return decode_enriched(value)


def decode_dead_letter(value: bytes | None) -> DeadLetter:
    return decode_model(value, DeadLetter)


def decode_counts(value: bytes | None) -> CountsBatch:
    """A social.counts.v1 value; raises CodecError."""
    return decode_model(value, CountsBatch)


def decode_spike_signals(value: bytes | None) -> SpikeSignals:
    return decode_model(value, SpikeSignals)
