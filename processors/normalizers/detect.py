"""Recognise what a JSON object is (a network payload or an already-normalised RawEvent) and normalise it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from processors.normalizers._fields import from_validation_error
from processors.normalizers.bluesky import looks_like_bluesky, normalize_bluesky
from processors.normalizers.errors import NormalizationError
from processors.normalizers.mastodon import looks_like_mastodon, normalize_mastodon
from processors.normalizers.reddit import explode_reddit, looks_like_reddit, normalize_reddit
from processors.normalizers.x import explode_x, looks_like_x, normalize_x
from processors.normalizers.youtube import explode_youtube, looks_like_youtube, normalize_youtube
from schemas.errors import ErrorCode
from schemas.events import Network, RawEvent

Normalizer = Callable[..., RawEvent]

# Order matters: Reddit things and X responses both have `data`; Reddit is recognised by `kind`.
_SHAPES: tuple[tuple[Network, Callable[[Mapping[str, Any]], bool], Normalizer], ...] = (
    (Network.REDDIT, looks_like_reddit, normalize_reddit),
    (Network.YOUTUBE, looks_like_youtube, normalize_youtube),
    (Network.BLUESKY, looks_like_bluesky, normalize_bluesky),
    (Network.X, looks_like_x, normalize_x),
    (Network.MASTODON, looks_like_mastodon, normalize_mastodon),
)

NORMALIZERS: dict[Network, Normalizer] = {network: fn for network, _, fn in _SHAPES}


def looks_like_raw_event(obj: Mapping[str, Any]) -> bool:
    return "event_id" in obj or ("network" in obj and "native_id" in obj)


def detect_network(obj: Mapping[str, Any]) -> Network | None:
    """The network whose documented payload `obj` is, or None (RawEvent dicts included)."""
    if looks_like_raw_event(obj):
        return None
    for network, looks_like, _ in _SHAPES:
        if looks_like(obj):
            return network
    return None


def normalize_raw_event_dict(obj: Mapping[str, Any], *, now: datetime) -> RawEvent:
    """An already-normalised RawEvent dict; `ingested_at` is filled with `now` when absent."""
    network = obj.get("network")
    if isinstance(network, str) and network not in {n.value for n in Network}:
        raise NormalizationError(ErrorCode.UNKNOWN_NETWORK, f"unknown network {network[:64]!r}", field="network")
    data = dict(obj)
    if data.get("ingested_at") is None:
        data["ingested_at"] = now
    try:
        return RawEvent.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc) from None


def detect_and_normalize(obj: object, *, now: datetime) -> RawEvent:
    """One JSON object → RawEvent, or NormalizationError with a stable code. Pure; `now` → ingested_at."""
    if not isinstance(obj, Mapping):
        raise NormalizationError(ErrorCode.NOT_AN_OBJECT, f"expected a JSON object, got {type(obj).__name__}")
    if looks_like_raw_event(obj):
        return normalize_raw_event_dict(obj, now=now)
    for _, looks_like, normalize in _SHAPES:
        if looks_like(obj):
            return normalize(obj, now=now)
    network = obj.get("network") or obj.get("platform")
    if isinstance(network, str):
        raise NormalizationError(ErrorCode.UNKNOWN_NETWORK, f"unknown network {network[:64]!r}", field="network")
    keys = ", ".join(sorted(str(k) for k in obj)[:8])
    raise NormalizationError(
        ErrorCode.UNKNOWN_SHAPE, f"not a RawEvent or a known network payload (keys: {keys or 'none'})"
    )


def explode(obj: object) -> list[object]:
    """Split multi-item payloads (X pages, Reddit listings, YouTube list responses) into single items.

    Anything else comes back as a one-element list, unchanged, so callers can always iterate.
    """
    if not isinstance(obj, Mapping) or looks_like_raw_event(obj):
        return [obj]
    try:
        if looks_like_reddit(obj):
            return list(explode_reddit(obj))
        if looks_like_youtube(obj):
            return list(explode_youtube(obj))
        if looks_like_x(obj):
            return list(explode_x(obj))
    except NormalizationError:
        return [obj]
    return [obj]
