"""Typed field access on untrusted JSON objects; every failure is a NormalizationError with a code."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import ValidationError

from processors.normalizers.errors import NormalizationError
from schemas.errors import ErrorCode
from schemas.events import RawEvent

T = TypeVar("T")

_MISSING = object()
# Newest plausible epoch seconds (year 9999): beyond it datetime cannot represent the value.
_MAX_EPOCH = 253_402_300_799


def get(obj: Mapping[str, Any], path: str) -> Any:
    """The value at dotted `path`, or `_MISSING` when a step is absent or not an object."""
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return _MISSING
        cur = cur[part]
    return cur


def req_obj(obj: Mapping[str, Any], path: str) -> Mapping[str, Any]:
    value = get(obj, path)
    if value is _MISSING or value is None:
        raise NormalizationError(ErrorCode.MISSING_FIELD, f"missing object {path!r}", field=path)
    if not isinstance(value, Mapping):
        raise NormalizationError(
            ErrorCode.WRONG_TYPE, f"{path!r} must be an object, got {type(value).__name__}", field=path
        )
    return value


def req_str(obj: Mapping[str, Any], path: str, *, allow_empty: bool = False) -> str:
    value = get(obj, path)
    if value is _MISSING or value is None:
        raise NormalizationError(ErrorCode.MISSING_FIELD, f"missing field {path!r}", field=path)
    if not isinstance(value, str):
        raise NormalizationError(
            ErrorCode.WRONG_TYPE, f"{path!r} must be a string, got {type(value).__name__}", field=path
        )
    if not allow_empty and not value:
        raise NormalizationError(ErrorCode.INVALID_VALUE, f"{path!r} must not be empty", field=path)
    return value


def req_id(obj: Mapping[str, Any], path: str) -> str:
    """An identifier that some APIs send as a number and others as a string."""
    value = get(obj, path)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return req_str(obj, path)


def opt_str(obj: Mapping[str, Any], path: str) -> str | None:
    value = get(obj, path)
    if value is _MISSING or value is None:
        return None
    if not isinstance(value, str):
        raise NormalizationError(
            ErrorCode.WRONG_TYPE, f"{path!r} must be a string, got {type(value).__name__}", field=path
        )
    return value or None


def opt_count(obj: Mapping[str, Any], path: str) -> int:
    """A non-negative counter; absent or null means 0. Negative counts (Reddit scores) clamp to 0."""
    value = get(obj, path)
    if value is _MISSING or value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NormalizationError(
            ErrorCode.WRONG_TYPE, f"{path!r} must be a number, got {type(value).__name__}", field=path
        )
    if isinstance(value, float) and value != value:  # NaN
        raise NormalizationError(ErrorCode.INVALID_VALUE, f"{path!r} is NaN", field=path)
    return max(0, min(int(value), 2**63 - 1)) if abs(value) != float("inf") else 0


def opt_list(obj: Mapping[str, Any], path: str) -> list[Any]:
    value = get(obj, path)
    if value is _MISSING or value is None:
        return []
    if not isinstance(value, list):
        raise NormalizationError(
            ErrorCode.WRONG_TYPE, f"{path!r} must be an array, got {type(value).__name__}", field=path
        )
    return value


def parse_iso(obj: Mapping[str, Any], path: str) -> datetime:
    """An ISO 8601 timestamp; a value without a zone is read as UTC (as the networks document)."""
    raw = req_str(obj, path)
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise NormalizationError(
            ErrorCode.INVALID_VALUE, f"{path!r} is not an ISO 8601 timestamp: {raw[:64]!r}", field=path
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def parse_epoch(obj: Mapping[str, Any], path: str, *, scale: float = 1.0) -> datetime:
    """Seconds since the epoch (times `scale`: 1e6 for microseconds), as an aware UTC datetime."""
    value = get(obj, path)
    if value is _MISSING or value is None:
        raise NormalizationError(ErrorCode.MISSING_FIELD, f"missing field {path!r}", field=path)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NormalizationError(
            ErrorCode.WRONG_TYPE, f"{path!r} must be a number, got {type(value).__name__}", field=path
        )
    seconds = value / scale
    if not (0 <= seconds <= _MAX_EPOCH):
        raise NormalizationError(ErrorCode.TIMESTAMP_OUT_OF_RANGE, f"{path!r} out of range: {value}", field=path)
    return datetime.fromtimestamp(seconds, tz=UTC)


def build_event(**fields: Any) -> RawEvent:
    """RawEvent(**fields), with pydantic's errors turned into NormalizationError codes."""
    try:
        return RawEvent(**fields)
    except ValidationError as exc:
        raise from_validation_error(exc) from None


def from_validation_error(exc: ValidationError) -> NormalizationError:
    first = exc.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in first.get("loc", ()))
    kind = str(first.get("type", ""))
    message = f"{loc or 'record'}: {first.get('msg', 'invalid')}"
    if kind == "missing":
        code = ErrorCode.MISSING_FIELD
    elif loc == "network" and kind == "enum":
        code = ErrorCode.UNKNOWN_NETWORK
    elif kind == "extra_forbidden":
        code = ErrorCode.UNKNOWN_SHAPE
    elif kind.endswith("_type") or kind in {"model_type", "model_attributes_type", "dataclass_type"}:
        code = ErrorCode.WRONG_TYPE
    else:
        code = ErrorCode.INVALID_VALUE
    return NormalizationError(code, message, field=loc or None)


def unescape_api_text(text: str) -> str:
    """X and Reddit JSON escape `&`, `<`, `>` as HTML entities (and only those) in post text."""
    if "&" not in text:
        return text
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
